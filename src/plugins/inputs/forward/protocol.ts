/**
 * Fluentd's Forward protocol v1 (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1),
 * decoded as Fluent Bit's `fw_prot_process` does, from one complete msgpack frame:
 *
 *   Message                  [tag, time, record, option?]
 *   Forward                  [tag, [[time, record], ...], option?]
 *   PackedForward            [tag, <str|bin: concatenated [time, record] entries>, option?]
 *   CompressedPackedForward  the same with option {"compressed": "gzip"} (gzip members concatenated)
 *
 * time is an integer, a float, or an EventTime (ext type 0: sec and nsec as big-endian uint32). Entries
 * may also be Fluent Bit's `[[time, metadata], record]`. Records are copied as bytes, never decoded.
 * Options: `chunk` (answered with `{"ack": chunk}`), `compressed`, Fluent Bit's `metadata` (Message
 * mode) and `fluent_signal` (metrics and traces, which wsbit does not take).
 *
 * A frame that breaks the protocol is a `ForwardProtocolError`: Fluent Bit closes such connections.
 * One bad entry inside a good frame (not an event, or nested deeper than MAX_NESTING_DEPTH) is
 * counted in `rejected`; the caller decides what that costs the other entries (see forward.ts).
 */
import zlib from 'node:zlib';
import { WsbitError } from '../../../base/errors.js';
import { arrayHeader, eventTooDeep, mapCount, nestingExceeds, readEventAt, skipValue, writeEvent } from '../../../codec/event.js';
import { MAX_NESTING_DEPTH } from '../../../codec/limits.js';
import { quoteUntrusted } from '../../../base/logger.js';
import { findEntry, keyEquals, mapEntries, readStr, strRange, type MapEntry } from '../../../codec/msgpack-map.js';
import type { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { FORWARD_MALFORMED } from '../../../forward/frame-scanner.js';

/** A decompressed PackedForward payload may not exceed this (a gzip bomb guard). */
export const MAX_DECOMPRESSED_BYTES = 100 * 1024 * 1024;

export class ForwardProtocolError extends WsbitError {
  constructor(message: string) {
    super(FORWARD_MALFORMED, message);
  }
}

export interface DecodedMessage {
  mode: 'Message' | 'Forward' | 'PackedForward' | 'CompressedPackedForward';
  tag: string;
  /** Events appended to the writer, in Fluent Bit's layout. */
  records: number;
  /** Entries that were not valid events, with the first reason. */
  rejected: number;
  rejectReason: string | null;
  /** The raw msgpack of the `chunk` option, to echo in the ack; null without one. */
  chunk: Uint8Array | null;
}

const KEY_CHUNK = Buffer.from('chunk');
const KEY_COMPRESSED = Buffer.from('compressed');
const KEY_METADATA = Buffer.from('metadata');
const KEY_SIGNAL = Buffer.from('fluent_signal');

/** The first element of the frame if it is the str `word` (for HELO/PING detection), without decoding the rest. */
export function frameCommand(frame: Uint8Array): string | null {
  const header = arrayHeader(frame, 0, frame.length);
  if (header === null || header.count < 1) return null;
  return readStr(frame, header.size, frame.length);
}

function isTimeByte(b: number): boolean {
  // positive/negative fixint, uint8-64, int8-64, float32/64, fixext8 and ext8 (EventTime)
  return b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3) || b === 0xca || b === 0xcb || b === 0xd7 || b === 0xc7;
}

interface Options {
  entries: MapEntry[];
  chunk: Uint8Array | null;
}

/** Reads the option map (nil is accepted: old Docker sends it, and Fluent Bit lets it pass). */
function readOptions(frame: Uint8Array, pos: number, end: number): Options {
  if (pos >= end || frame[pos] === 0xc0) return { entries: [], chunk: null };
  const entries = mapEntries(frame, pos, end);
  if (entries === null) throw new ForwardProtocolError('invalid options field: expected a map');
  let chunk: Uint8Array | null = null;
  for (const entry of entries) {
    if (!keyEquals(entry, KEY_CHUNK)) continue;
    if (strRange(frame, entry.valueStart, entry.end) === null) throw new ForwardProtocolError("invalid options field: 'chunk' must be a string");
    chunk = frame.subarray(entry.valueStart, entry.end);
  }
  return { entries, chunk };
}

function option(frame: Uint8Array, options: Options, key: Uint8Array): MapEntry | undefined {
  return findEntry(frame, options.entries, key);
}

/** Appends each event found in `data[start..end)` (Forward array items or a PackedForward stream). */
function appendEntries(
  data: Uint8Array,
  start: number,
  end: number,
  count: number | null,
  writer: MsgpackWriter,
  result: DecodedMessage,
): void {
  let pos = start;
  for (let index = 0; count === null ? pos < end : index < count; index++) {
    let entryEnd: number;
    try {
      entryEnd = skipValue(data, pos, end);
    } catch {
      // Without a value boundary nothing after this point can be trusted.
      result.rejected++;
      result.rejectReason ??= `entry ${index} is not valid msgpack`;
      return;
    }
    try {
      const event = readEventAt(data, pos, index, entryEnd);
      if (event.end !== entryEnd) throw new Error(`entry ${index} has extra values`);
      const tooDeep = eventTooDeep(data, event);
      if (tooDeep !== null) throw new Error(`entry ${index}: ${tooDeep}`);
      if (data[pos] === 0x92 && data[pos + 1] === 0x92 && data[pos + 2] === 0xd7 && data[pos + 3] === 0x00) {
        // Already Fluent Bit's own layout with an EventTime: copy it as it is.
        writer.raw(data, pos, entryEnd);
      } else {
        const metadata = event.metaStart === event.metaEnd ? null : data.subarray(event.metaStart, event.metaEnd);
        writeEvent(writer, event.sec, event.nsec, metadata, data.subarray(event.bodyStart, event.bodyEnd));
      }
      result.records++;
    } catch (error) {
      result.rejected++;
      result.rejectReason ??= (error as Error).message.replace(/^malformed msgpack chunk: /, '');
    }
    pos = entryEnd;
  }
}

/** Time of a Message-mode frame: an integer, a float or an EventTime. */
function readTime(frame: Uint8Array, pos: number, end: number): { sec: number; nsec: number } {
  // readEventAt understands every time form; a one-entry [time, {}] view reuses it.
  const probe = new Uint8Array(end - pos + 2);
  probe[0] = 0x92;
  probe.set(frame.subarray(pos, end), 1);
  probe[probe.length - 1] = 0x80;
  try {
    const event = readEventAt(probe, 0, 0);
    return { sec: event.sec, nsec: event.nsec };
  } catch (error) {
    throw new ForwardProtocolError(`invalid time: ${(error as Error).message.replace(/^malformed msgpack chunk: event 0: /, '')}`);
  }
}

/**
 * Decodes one frame that is not part of a handshake and appends its events to `writer`. Throws
 * `ForwardProtocolError` when the frame breaks the protocol (the connection should be closed).
 */
export function decodeForwardFrame(frame: Uint8Array, writer: MsgpackWriter): DecodedMessage {
  const end = frame.length;
  const header = arrayHeader(frame, 0, end);
  if (header === null) throw new ForwardProtocolError(`expecting an array, got msgpack type 0x${(frame[0] ?? 0).toString(16)}`);
  if (header.count < 2 || header.count > 4) throw new ForwardProtocolError(`array of invalid size ${header.count}`);
  let pos = header.size;
  const tag = readStr(frame, pos, end);
  if (tag === null) throw new ForwardProtocolError('invalid tag format: the first element must be a string');
  pos = skipValue(frame, pos, end);
  const second = pos;
  const secondEnd = skipValue(frame, second, end);
  const b = frame[second] as number;
  const result: DecodedMessage = { mode: 'Message', tag, records: 0, rejected: 0, rejectReason: null, chunk: null };

  const entries = arrayHeader(frame, second, end);
  if (entries !== null) {
    // Forward: [tag, [[time, record], ...], option?]
    if (header.count > 3) throw new ForwardProtocolError('Forward mode takes [tag, entries, option]');
    const options = readOptions(frame, secondEnd, end);
    result.mode = 'Forward';
    result.chunk = options.chunk;
    appendEntries(frame, second + entries.size, secondEnd, entries.count, writer, result);
    return result;
  }

  const packed = strRange(frame, second, end, true);
  if (packed !== null) {
    if (header.count > 3) throw new ForwardProtocolError('PackedForward mode takes [tag, entries, option]');
    const options = readOptions(frame, secondEnd, end);
    result.mode = 'PackedForward';
    result.chunk = options.chunk;
    const signal = option(frame, options, KEY_SIGNAL);
    if (signal !== undefined && frame[signal.valueStart] !== 0x00) {
      throw new ForwardProtocolError('fluent_signal metrics and traces are not supported by wsbit; only logs (0)');
    }
    let data: Uint8Array = frame.subarray(packed.start, packed.end);
    const compressed = option(frame, options, KEY_COMPRESSED);
    if (compressed !== undefined) {
      const value = readStr(frame, compressed.valueStart, compressed.end);
      if (value !== 'gzip' && value !== 'text') throw new ForwardProtocolError(`invalid 'compressed' option ${quoteUntrusted(value ?? 'not a string')}: expected "gzip"`);
      if (value === 'gzip') {
        result.mode = 'CompressedPackedForward';
        try {
          data = zlib.gunzipSync(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
        } catch (error) {
          throw new ForwardProtocolError(`gzip uncompress failure: ${(error as Error).message}`);
        }
      }
    }
    appendEntries(data, 0, data.length, null, writer, result);
    return result;
  }

  if (isTimeByte(b)) {
    // Message: [tag, time, record, option?]
    if (header.count < 3) throw new ForwardProtocolError('Message mode takes [tag, time, record, option]');
    const time = readTime(frame, second, secondEnd);
    const recordStart = secondEnd;
    const recordEnd = skipValue(frame, recordStart, end);
    if (mapCount(frame, recordStart, end) < 0) throw new ForwardProtocolError('invalid data format, map expected');
    const options = header.count === 4 ? readOptions(frame, recordEnd, end) : { entries: [], chunk: null };
    result.chunk = options.chunk;
    const metadata = option(frame, options, KEY_METADATA);
    if (metadata !== undefined && mapCount(frame, metadata.valueStart, metadata.end) < 0) {
      throw new ForwardProtocolError("invalid options field: 'metadata' must be a map");
    }
    const tooDeep = nestingExceeds(frame, recordStart, recordEnd)
      ? 'record'
      : metadata !== undefined && nestingExceeds(frame, metadata.valueStart, metadata.end)
        ? 'metadata'
        : null;
    if (tooDeep !== null) {
      result.rejected = 1;
      result.rejectReason = `${tooDeep} nested deeper than ${MAX_NESTING_DEPTH} levels`;
      return result;
    }
    writeEvent(writer, time.sec, time.nsec, metadata === undefined ? null : frame.subarray(metadata.valueStart, metadata.end), frame.subarray(recordStart, recordEnd));
    result.records = 1;
    return result;
  }
  throw new ForwardProtocolError(`invalid data format, type=0x${b.toString(16)}`);
}

/** `{"ack": <chunk>}`, the answer to a message with a `chunk` option. */
export function ackMessage(chunk: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x81, 0xa3, 0x61, 0x63, 0x6b]), chunk]);
}
