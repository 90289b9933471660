/**
 * One WebSocket message → records in Fluent Bit's event layout. A message that cannot be decoded is
 * refused whole (its bytes cannot be trusted past the fault). One record that decodes but breaks our
 * nesting limit costs only itself: it is skipped and counted in `rejected`, and the good records are
 * taken and confirmed, as the forward input does for a message without an ack request. Refusing the
 * message instead would cost a Fluent Bit sender its good records too: it cannot split a chunk, and
 * gives the whole of it up after its retries.
 *
 * - msgpack: Fluent Bit events `[[EventTime, {metadata}], {body}]` (what the websocket output and Fluent
 *   Bit send) or V1 `[time, {body}]`, concatenated. When every event is V2 and no `tag_key` splits
 *   them, the message bytes are handed to the engine as they are, never re-encoded.
 * - JSON (json, json_lines, json_stream): a stream of JSON values with optional white space between them;
 *   an object is a record and an array holds records. The record time comes from the date key, which is
 *   then removed from the body (Fluent Bit's parsers do this with Time_Key unless Time_Keep is on), so a
 *   record that went out through the websocket output comes back with the body it left with.
 */
import { isUtf8 } from 'node:buffer';
import { eventTooDeep, forEachEvent, mapCount, skipValue, writeEvent, writeEventHeader, type EventView } from '../../../codec/event.js';
import { MAX_NESTING_DEPTH } from '../../../codec/limits.js';
import { recordsMaxDepth, scanJsonValue, skipJsonWhitespace } from '../../../codec/json-scan.js';
import { findEntry, mapEntries, readStr, rewriteMap, type MapEntry } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { errorMessage } from '../../../base/errors.js';
import type { EventTime } from '../../../base/record.js';
import type { RecordTimeReader } from './record-time.js';
import type { PayloadFormat } from './schema.js';

/**
 * The close code for a message that cannot be decoded, whatever the reason (invalid UTF-8 in JSON,
 * broken JSON, msgpack that is not Fluent Bit events, neither msgpack nor JSON): RFC 6455 §7.4.1 1007,
 * "data within a message that was not consistent with the type of the message". 1003 would mean a kind
 * of data the endpoint does not take at all, but the input takes both text and binary frames.
 */
export const UNDECODABLE_CLOSE_CODE = 1007;

export interface DecodeOptions {
  format: PayloadFormat;
  /** Take each record's tag from this key when it holds a non-empty string. */
  tagKey: string | null;
  /** The JSON date key; null: every JSON record gets the reception time. */
  timeKey: string | null;
  /** Keep the date key in the body after reading the time from it. */
  timeKeep: boolean;
  time: RecordTimeReader;
}

/** Records that share a tag (null: the input's tag), ready for `emit`. */
export interface RecordBatch {
  tag: string | null;
  events: Buffer;
  records: number;
}

export type DecodeResult =
  | {
      ok: true;
      encoding: 'msgpack' | 'json' | 'empty';
      batches: RecordBatch[];
      records: number;
      /** JSON records whose date key held no readable time: they got the reception time and kept the key. */
      untimed: number;
      /** Records skipped because they break a limit (nested deeper than MAX_NESTING_DEPTH), and why the first was. */
      rejected: number;
      rejectReason: string | null;
    }
  | { ok: false; reason: string; closeCode: number };

/** How a payload is read under `format auto`: msgpack array markers, or what a JSON text starts with. */
export function detectEncoding(payload: Uint8Array): 'msgpack' | 'json' | null {
  const b = payload[0];
  if (b === undefined) return 'json';
  if ((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd) return 'msgpack';
  if (b === 0x7b || b === 0x5b || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) return 'json';
  return null;
}

/** A Buffer the engine may keep: a small message is copied out of a much larger socket read buffer. */
function keepable(payload: Buffer): Buffer {
  return payload.byteLength * 2 < payload.buffer.byteLength ? Buffer.from(payload) : payload;
}

/** Decodes messages for one input; reuses its buffers, so it is not re-entrant (messages are handled one at a time). */
export class PayloadDecoder {
  private readonly out = new MsgpackWriter(64 * 1024);
  private readonly scratch = new MsgpackWriter(16 * 1024);
  private readonly tagKey: Uint8Array | null;
  private readonly timeKey: Uint8Array | null;
  // Batches of the message being decoded: [tag, start offset in `out`, records].
  private batches: Array<{ tag: string | null; start: number; records: number }> = [];
  private untimed = 0;
  private rejected = 0;
  private rejectReason: string | null = null;

  constructor(private readonly options: DecodeOptions) {
    this.tagKey = options.tagKey === null ? null : Buffer.from(options.tagKey, 'utf8');
    this.timeKey = options.timeKey === null ? null : Buffer.from(options.timeKey, 'utf8');
  }

  /** `now` is the reception time, for records that carry none. */
  decode(payload: Buffer, now: EventTime): DecodeResult {
    if (payload.length === 0) return { ok: true, encoding: 'empty', batches: [], records: 0, untimed: 0, rejected: 0, rejectReason: null };
    let encoding: 'msgpack' | 'json' | null;
    if (this.options.format === 'auto') encoding = detectEncoding(payload);
    else encoding = this.options.format === 'msgpack' ? 'msgpack' : 'json';
    if (encoding === null) {
      return undecodable(`the payload is neither msgpack events nor JSON (first byte 0x${(payload[0] ?? 0).toString(16).padStart(2, '0')})`);
    }
    this.batches = [];
    this.untimed = 0;
    this.rejected = 0;
    this.rejectReason = null;
    this.out.reset();
    try {
      return encoding === 'msgpack' ? this.decodeMsgpack(payload) : this.decodeJson(payload, now);
    } catch (error) {
      // The codecs throw WSBIT_CODEC_MALFORMED on truncated or invalid bytes.
      return undecodable(errorMessage(error));
    } finally {
      this.batches = [];
    }
  }

  private decodeMsgpack(payload: Buffer): DecodeResult {
    const events: EventView[] = [];
    let allV2 = true;
    try {
      forEachEvent(payload, (event) => {
        events.push(event);
        if (event.metaStart === event.metaEnd) allV2 = false;
      });
    } catch (error) {
      return undecodable(`invalid msgpack events: ${errorMessage(error)}`);
    }
    // Skipped here, never taken: an output could not encode such a record for anyone downstream.
    const taken = events.filter((event, index) => {
      const tooDeep = eventTooDeep(payload, event);
      if (tooDeep !== null) this.reject(`event ${index}: ${tooDeep}`);
      return tooDeep === null;
    });
    if (allV2 && this.tagKey === null && this.rejected === 0) {
      return {
        ok: true,
        encoding: 'msgpack',
        batches: [{ tag: null, events: keepable(payload), records: events.length }],
        records: events.length,
        untimed: 0,
        rejected: 0,
        rejectReason: null,
      };
    }
    for (const event of taken) {
      this.startRecord(this.tagOf(payload, event.bodyStart, event.bodyEnd));
      if (event.metaStart === event.metaEnd) {
        // V1 [time, body] becomes V2 with empty metadata, as Fluent Bit's decoder presents it.
        writeEvent(this.out, event.sec, event.nsec, null, payload.subarray(event.bodyStart, event.bodyEnd));
      } else {
        this.out.raw(payload, event.start, event.end);
      }
    }
    return this.finish('msgpack', taken.length);
  }

  private decodeJson(payload: Buffer, now: EventTime): DecodeResult {
    // ws leaves text frames unchecked (skipUTF8Validation, for Fluent Bit's msgpack in text frames), so
    // JSON is checked here: its strings are copied into msgpack as they are.
    if (!isUtf8(payload)) return undecodable('invalid UTF-8 in a JSON payload');
    let records = 0;
    let offset = skipJsonWhitespace(payload, 0);
    while (offset < payload.length) {
      this.scratch.reset();
      const result = scanJsonValue(payload, offset, this.scratch, { eof: true, maxDepth: recordsMaxDepth(payload, offset) });
      if (result.status === 'incomplete') return undecodable('invalid JSON: the message ends inside a value');
      if (result.status === 'error' && result.tooDeep) {
        // One record (or one element of an array of records) is too deep: the others still count.
        if (payload[offset] === 0x5b) records += this.jsonArrayRecords(payload, offset, now, (end) => (offset = end));
        else {
          this.reject(`a record nested deeper than ${MAX_NESTING_DEPTH} levels (${result.message})`);
          offset = skipJsonContainer(payload, offset);
        }
        offset = skipJsonWhitespace(payload, offset);
        continue;
      }
      if (result.status === 'error') return undecodable(`invalid JSON: ${result.message}`);
      const value = this.scratch.view();
      if (result.kind === 'object') {
        this.addJsonRecord(value, 0, value.length, now);
        records++;
      } else if (result.kind === 'array') {
        const { count, size } = arrayHeader(value);
        let pos = size;
        for (let i = 0; i < count; i++) {
          const end = skipValue(value, pos);
          if (mapCount(value, pos, end) < 0) return undecodable(`invalid record: element ${i} of a JSON array is not an object`);
          this.addJsonRecord(value, pos, end, now);
          records++;
          pos = end;
        }
      } else {
        return undecodable(`invalid record: a JSON ${result.kind} is not a record (send objects, or arrays of objects)`);
      }
      offset = skipJsonWhitespace(payload, result.end);
    }
    return this.finish('json', records);
  }

  /**
   * The records of the top-level array at `payload[start]`, one element at a time, so that an element
   * nested too deep is skipped alone. Returns how many were taken and reports where the array ends
   * through `setEnd`; broken JSON throws (the message is then undecodable).
   */
  private jsonArrayRecords(payload: Buffer, start: number, now: EventTime, setEnd: (end: number) => void): number {
    let records = 0;
    let i = skipJsonWhitespace(payload, start + 1);
    if (payload[i] === 0x5d) {
      setEnd(i + 1);
      return 0;
    }
    for (let index = 0; ; index++) {
      this.scratch.reset();
      const result = scanJsonValue(payload, i, this.scratch, { eof: false, maxDepth: MAX_NESTING_DEPTH });
      if (result.status === 'incomplete') throw new Error('invalid JSON: the message ends inside a value');
      if (result.status === 'error' && !result.tooDeep) throw new Error(`invalid JSON: ${result.message}`);
      if (result.status === 'error') {
        this.reject(`element ${index} of a JSON array: a record nested deeper than ${MAX_NESTING_DEPTH} levels`);
        i = skipJsonContainer(payload, i);
      } else {
        if (result.kind !== 'object') throw new Error(`invalid record: element ${index} of a JSON array is not an object`);
        const value = this.scratch.view();
        this.addJsonRecord(value, 0, value.length, now);
        records++;
        i = result.end;
      }
      i = skipJsonWhitespace(payload, i);
      if (payload[i] === 0x2c) i = skipJsonWhitespace(payload, i + 1);
      else if (payload[i] === 0x5d) {
        setEnd(i + 1);
        return records;
      } else throw new Error(`invalid JSON: expected ',' or ']' at byte ${i}`);
    }
  }

  private reject(reason: string): void {
    this.rejected++;
    this.rejectReason ??= reason;
  }

  /** Appends one event for the map at `buf[start..end)`, timed by its date key. */
  private addJsonRecord(buf: Uint8Array, start: number, end: number, now: EventTime): void {
    let time: EventTime | null = null;
    let skip: MapEntry | undefined;
    let tag: string | null = null;
    let entries: MapEntry[] | null = null;
    if (this.timeKey !== null || this.tagKey !== null) entries = mapEntries(buf, start, end) ?? [];
    if (entries !== null && this.timeKey !== null) {
      const entry = findEntry(buf, entries, this.timeKey);
      if (entry !== undefined) {
        time = this.options.time.read(buf, entry.valueStart, entry.end);
        if (time === null) this.untimed++;
        else if (!this.options.timeKeep) skip = entry;
      }
    }
    if (entries !== null && this.tagKey !== null) tag = this.tagOf(buf, start, end, entries);
    this.startRecord(tag);
    const at = time ?? now;
    writeEventHeader(this.out, at.sec, at.nsec, null);
    if (entries !== null && skip !== undefined) rewriteMap(this.out, buf, entries, { skip });
    else this.out.raw(buf, start, end);
  }

  private tagOf(buf: Uint8Array, start: number, end: number, known?: MapEntry[]): string | null {
    if (this.tagKey === null) return null;
    const entries = known ?? mapEntries(buf, start, end) ?? [];
    const entry = findEntry(buf, entries, this.tagKey);
    const value = entry === undefined ? null : readStr(buf, entry.valueStart, entry.end);
    return value === null || value === '' ? null : value;
  }

  /** Records go to the engine in order: a new batch starts whenever the tag changes. */
  private startRecord(tag: string | null): void {
    const last = this.batches[this.batches.length - 1];
    if (last !== undefined && last.tag === tag) last.records++;
    else this.batches.push({ tag, start: this.out.length, records: 1 });
  }

  private finish(encoding: 'msgpack' | 'json', records: number): DecodeResult {
    // One copy for the whole message; each batch is a view of it that the engine may keep.
    const bytes = this.out.bytes();
    const batches: RecordBatch[] = this.batches.map((batch, index) => ({
      tag: batch.tag,
      events: bytes.subarray(batch.start, this.batches[index + 1]?.start ?? bytes.length),
      records: batch.records,
    }));
    return { ok: true, encoding, batches, records, untimed: this.untimed, rejected: this.rejected, rejectReason: this.rejectReason };
  }
}

/**
 * The offset just past the object or array at `buf[start]` (after white space), found by matching
 * brackets outside strings, with no nesting stack: it only skips a value too deep to be scanned.
 * Throws when the message ends inside it.
 */
function skipJsonContainer(buf: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = skipJsonWhitespace(buf, start); i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error('invalid JSON: the message ends inside a value');
}

function undecodable(reason: string): DecodeResult {
  return { ok: false, reason, closeCode: UNDECODABLE_CLOSE_CODE };
}

function arrayHeader(buf: Uint8Array): { count: number; size: number } {
  const b = buf[0] ?? 0;
  if (b >= 0x90 && b <= 0x9f) return { count: b & 0x0f, size: 1 };
  if (b === 0xdc) return { count: ((buf[1] ?? 0) << 8) | (buf[2] ?? 0), size: 3 };
  return { count: (buf[1] ?? 0) * 0x1000000 + (((buf[2] ?? 0) << 16) | ((buf[3] ?? 0) << 8) | (buf[4] ?? 0)), size: 5 };
}
