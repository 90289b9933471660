/**
 * What the record filters share: a record's body map read as entries of byte ranges, a new body
 * written from those ranges (so untouched values, 64-bit integers and float64s such as 3.0 are copied
 * as they are), and one pass over an emit that copies unchanged events in bulk and returns the input
 * Buffer itself when nothing changed.
 */
import { forEachEvent, isGroupMarker, mapCount, mapHeaderSize, skipValue, type EventView } from '../../codec/event.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { Telemetry } from '../../core/telemetry.js';

export interface ValueRange {
  start: number;
  end: number;
}

/**
 * One key/value pair of a body map. Key and value each point into their own buffer, so a rule can pair
 * a new key with an original value (Rename) or add a pair of new strings (Set).
 */
export interface BodyEntry {
  readonly keyBuf: Uint8Array;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly valueBuf: Uint8Array;
  readonly valueStart: number;
  readonly valueEnd: number;
  /** The key's text bytes when it is a str or a bin (`keyBuf[keyText.start, keyText.end)`), else null. */
  readonly keyText: ValueRange | null;
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p] ?? 0) * 0x1000000 + (((b[p + 1] ?? 0) << 16) | ((b[p + 2] ?? 0) << 8) | (b[p + 3] ?? 0));
}

/** The text bytes of the str (or, with `allowBin`, bin) at `pos`, or null for another type. */
export function stringPayload(buf: Uint8Array, pos: number, end: number, allowBin = false): ValueRange | null {
  const b = buf[pos];
  if (b === undefined) return null;
  let header: number;
  let length: number;
  if (b >= 0xa0 && b <= 0xbf) {
    header = 1;
    length = b & 0x1f;
  } else if (b === 0xd9 || (allowBin && b === 0xc4)) {
    header = 2;
    length = buf[pos + 1] ?? 0;
  } else if (b === 0xda || (allowBin && b === 0xc5)) {
    header = 3;
    length = ((buf[pos + 1] ?? 0) << 8) | (buf[pos + 2] ?? 0);
  } else if (b === 0xdb || (allowBin && b === 0xc6)) {
    header = 5;
    length = readU32(buf, pos + 1);
  } else {
    return null;
  }
  const start = pos + header;
  return start + length <= end ? { start, end: start + length } : null;
}

/** The map or array header at `pos`, or null for any other value. */
export function containerAt(buf: Uint8Array, pos: number, end: number): { kind: 'map' | 'array'; count: number; headerSize: number } | null {
  const count = mapCount(buf, pos, end);
  if (count >= 0) return { kind: 'map', count, headerSize: mapHeaderSize(buf, pos) };
  const b = buf[pos] ?? 0;
  if (b >= 0x90 && b <= 0x9f) return { kind: 'array', count: b & 0x0f, headerSize: 1 };
  if (b === 0xdc && pos + 3 <= end) return { kind: 'array', count: ((buf[pos + 1] ?? 0) << 8) | (buf[pos + 2] ?? 0), headerSize: 3 };
  if (b === 0xdd && pos + 5 <= end) return { kind: 'array', count: readU32(buf, pos + 1), headerSize: 5 };
  return null;
}

function makeEntry(keyBuf: Uint8Array, keyStart: number, keyEnd: number, valueBuf: Uint8Array, valueStart: number, valueEnd: number): BodyEntry {
  const keyText = stringPayload(keyBuf, keyStart, keyEnd, true);
  return { keyBuf, keyStart, keyEnd, valueBuf, valueStart, valueEnd, keyText };
}

/** The entries of the map at `buf[start, end)`, in order, duplicates included. */
export function readEntries(buf: Uint8Array, start: number, end: number): BodyEntry[] {
  const count = mapCount(buf, start, end);
  const entries: BodyEntry[] = [];
  let pos = start + mapHeaderSize(buf, start);
  for (let i = 0; i < count; i++) {
    const valueStart = skipValue(buf, pos, end);
    const valueEnd = skipValue(buf, valueStart, end);
    entries.push(makeEntry(buf, pos, valueStart, buf, valueStart, valueEnd));
    pos = valueEnd;
  }
  return entries;
}

function bytesEqual(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array): boolean {
  if (aEnd - aStart !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[aStart + i] !== b[i]) return false;
  return true;
}

/**
 * The value of the last entry whose key is the str `name` in the map at `buf[start, end)`, as
 * Fluent Bit's record accessor looks keys up (from the end; bin keys do not count).
 */
export function findLastStrKey(buf: Uint8Array, start: number, end: number, name: Uint8Array): ValueRange | null {
  const count = mapCount(buf, start, end);
  if (count < 0) return null;
  let found: ValueRange | null = null;
  let pos = start + mapHeaderSize(buf, start);
  for (let i = 0; i < count; i++) {
    const valueStart = skipValue(buf, pos, end);
    const valueEnd = skipValue(buf, valueStart, end);
    const key = stringPayload(buf, pos, valueStart);
    if (key !== null && bytesEqual(buf, key.start, key.end, name)) found = { start: valueStart, end: valueEnd };
    pos = valueEnd;
  }
  return found;
}

/** True when the entry's key is a str or bin whose bytes are `name` (Fluent Bit's modify compares both). */
export function keyIs(entry: BodyEntry, name: Uint8Array): boolean {
  return entry.keyText !== null && bytesEqual(entry.keyBuf, entry.keyText.start, entry.keyText.end, name);
}

/** The str value at `buf[range.start, range.end)` as text, or null when the value is not a str. */
export function strValue(buf: Uint8Array, range: ValueRange): string | null {
  const text = stringPayload(buf, range.start, range.end);
  return text === null ? null : Buffer.from(buf.buffer, buf.byteOffset + text.start, text.end - text.start).toString('utf8');
}

const scratch = new MsgpackWriter(256);

/** `text` as msgpack str bytes. */
export function encodeStr(text: string): Buffer {
  scratch.reset();
  scratch.str(text);
  return scratch.bytes();
}

/** A new entry of two strings, as Fluent Bit's rule filters add them. */
export function stringEntry(key: string, value: string): BodyEntry {
  scratch.reset();
  scratch.str(key);
  const keyEnd = scratch.length;
  scratch.str(value);
  const bytes = scratch.bytes();
  return makeEntry(bytes, 0, keyEnd, bytes, keyEnd, bytes.length);
}

/** `entry` with another key (`encodedKey` is msgpack str bytes), its value untouched. */
export function withKey(entry: BodyEntry, encodedKey: Uint8Array): BodyEntry {
  return makeEntry(encodedKey, 0, encodedKey.length, entry.valueBuf, entry.valueStart, entry.valueEnd);
}

/** What a filter decided for one record: unchanged, dropped, or a new body made of these entries. */
export type RecordVerdict = 'keep' | 'drop' | readonly BodyEntry[];

export interface FilterOutput {
  events: Buffer;
  records: number;
}

/**
 * Runs a per-record decision over the events of one emit. Events before the first change are not
 * copied until one happens, unchanged runs are copied in one piece, and when no record changed the
 * input Buffer is returned as it is. Each rewritten event keeps its original timestamp and metadata
 * bytes (`[[time, meta], ` is copied), and only its body map is written again.
 */
export class EventRewriter {
  private readonly writer = new MsgpackWriter(16 * 1024);

  rewrite(events: Buffer, records: number, visit: (events: Buffer, event: EventView) => RecordVerdict): FilterOutput {
    const writer = this.writer;
    let changed = false;
    let copiedTo = 0;
    let dropped = 0;
    forEachEvent(events, (event) => {
      if (isGroupMarker(event)) return;
      const verdict = visit(events, event);
      if (verdict === 'keep') return;
      if (!changed) {
        writer.reset();
        changed = true;
      }
      writer.raw(events, copiedTo, event.start);
      if (verdict === 'drop') {
        dropped++;
      } else {
        writer.raw(events, event.start, event.bodyStart);
        writer.mapHeader(verdict.length);
        for (const entry of verdict) {
          writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
          writer.raw(entry.valueBuf, entry.valueStart, entry.valueEnd);
        }
      }
      copiedTo = event.end;
    });
    if (!changed) return { events, records };
    writer.raw(events, copiedTo, events.length);
    return { events: writer.bytes(), records: Math.max(0, records - dropped) };
  }
}

/**
 * Fluent Bit's generic filter counters (`flb_filter_do`): every record a filter sees, and the
 * difference between what went in and what came out as dropped or added records. A drop here is the
 * filter doing its job, so it is counted and never logged as a loss.
 */
export function countFilterRecords(telemetry: Telemetry, recordsIn: number, recordsOut: number): void {
  telemetry.count('fluentbit_filter_records_total', recordsIn);
  if (recordsOut < recordsIn) telemetry.count('fluentbit_filter_drop_records_total', recordsIn - recordsOut);
  else if (recordsOut > recordsIn) telemetry.count('fluentbit_filter_add_records_total', recordsOut - recordsIn);
}
