/**
 * Fluent Bit's event layout inside a chunk, read and written without decoding into JS objects.
 *
 * V2 (what Fluent Bit 2.x+ writes, `FLB_LOG_EVENT_FORMAT_DEFAULT`): `[[EventTime, {metadata}], {body}]`, i.e.
 * `92 92 d7 00 <sec u32 BE> <nsec u32 BE> <metadata map> <body map>`, events concatenated with no outer array.
 * V1 (legacy, still accepted by `flb_log_event_decoder`): `[time, {body}]`. In both, time is an EventTime ext
 * (type 0, 8 bytes), an integer (seconds) or a float (seconds with a fraction).
 */
import { WsbitError } from '../base/errors.js';
import { MAX_NESTING_DEPTH } from './limits.js';
import type { MsgpackWriter } from './msgpack-writer.js';

export const CODEC_MALFORMED = 'WSBIT_CODEC_MALFORMED';

/** Byte offsets of one event inside a chunk. `metaStart === metaEnd` for a V1 event (no metadata map). */
export interface EventView {
  /** First byte of the event (its outer array header). */
  start: number;
  /** One past the last byte of the event. */
  end: number;
  sec: number;
  nsec: number;
  metaStart: number;
  metaEnd: number;
  /** Number of entries in the metadata map (0 for V1 events). */
  metaCount: number;
  bodyStart: number;
  bodyEnd: number;
  /** Number of entries in the body map. */
  bodyCount: number;
}

const EMPTY_FIXMAP = Uint8Array.of(0x80);

/**
 * Appends one V2 event. `metadata` and `body` are msgpack map bytes written as they are; a null metadata
 * becomes the empty fixmap `80`, as `in_dummy` writes it.
 */
export function writeEvent(
  writer: MsgpackWriter,
  sec: number,
  nsec: number,
  metadata: Uint8Array | null,
  body: Uint8Array,
): void {
  writer.ensure(14 + body.length + (metadata?.length ?? 1));
  writer.byte(0x92);
  writer.byte(0x92);
  writer.eventTime(sec, nsec);
  writer.raw(metadata ?? EMPTY_FIXMAP);
  writer.raw(body);
}

/**
 * Appends the `[[EventTime, {metadata}], ` part of a V2 event; the caller then writes exactly one body map.
 * Lets inputs scan JSON straight into the body position without an intermediate buffer.
 */
export function writeEventHeader(writer: MsgpackWriter, sec: number, nsec: number, metadata: Uint8Array | null): void {
  writer.ensure(13 + (metadata?.length ?? 1));
  writer.byte(0x92);
  writer.byte(0x92);
  writer.eventTime(sec, nsec);
  writer.raw(metadata ?? EMPTY_FIXMAP);
}

const LOG_KEY = Uint8Array.of(0xa3, 0x6c, 0x6f, 0x67); // "log"

/** Appends the body `{"log": <bytes>}` that line-based inputs (tcp `format none`) produce. */
export function writeLogBody(writer: MsgpackWriter, bytes: Uint8Array, start = 0, end = bytes.length): void {
  writer.byte(0x81);
  writer.raw(LOG_KEY);
  writer.strUtf8(bytes, start, end);
}

/**
 * Reads a Fluent-format record `[time, {body}]` (as in_stdin accepts it, after JSON→msgpack) from msgpack
 * bytes: time is an integer, a float or an EventTime ext; returns null when the value has another shape.
 */
export function readTimestampedRecord(bytes: Uint8Array): { sec: number; nsec: number; body: Uint8Array } | null {
  try {
    const ev = readEventAt(bytes, 0, 0);
    if (ev.end !== bytes.length || ev.metaStart !== ev.metaEnd) return null;
    return { sec: ev.sec, nsec: ev.nsec, body: bytes.subarray(ev.bodyStart, ev.bodyEnd) };
  } catch {
    return null;
  }
}

function malformed(message: string): WsbitError {
  return new WsbitError(CODEC_MALFORMED, `malformed msgpack chunk: ${message}`);
}

/**
 * Returns the offset just past the msgpack value starting at `offset`. Iterative (a counter of pending values,
 * no recursion), so hostile nesting cannot overflow the stack, and every length is checked against `end`:
 * truncated or invalid input throws `WSBIT_CODEC_MALFORMED` instead of looping or reading past the end.
 */
export function skipValue(buf: Uint8Array, offset: number, end: number = buf.length): number {
  skipWalk.pos = offset;
  skipWalk.pending = 1;
  if (!walkValues(buf, end, skipWalk)) throw malformed(`invalid type byte 0x${buf[skipWalk.pos]!.toString(16)} at byte ${skipWalk.pos}`);
  if (skipWalk.pending > 0) throw malformed(`truncated value at byte ${skipWalk.pos}`);
  if (skipWalk.pos > end) throw malformed(`truncated value ending at byte ${end}`);
  return skipWalk.pos;
}

/** A walk over msgpack values: the next byte to read, and how many values are still to be read. */
export interface ValueWalk {
  pos: number;
  pending: number;
}

const skipWalk: ValueWalk = { pos: 0, pending: 0 };

/**
 * Reads msgpack values from `walk.pos` until `walk.pending` values have been read or the bytes before
 * `end` run out, and leaves `walk` where it stopped, so a caller whose buffer grows can resume. When
 * `walk.pending` is 0, `walk.pos` is the end of the last value, which lies past `end` when a str, bin
 * or ext is not all there. It keeps a count of values still to read rather than recursing, so hostile
 * nesting cannot overflow the stack, and allocates nothing. Returns false, with `walk.pos` at the
 * byte, on a byte that is not msgpack (0xc1).
 */
export function walkValues(buf: Uint8Array, end: number, walk: ValueWalk): boolean {
  let pos = walk.pos;
  let pending = walk.pending;
  let valid = true;
  let containers = 0;
  while (pending > 0 && pos < end) {
    const b = buf[pos]!;
    if (b <= 0x7f || b >= 0xe0) {
      pos += 1;
    } else if (b <= 0x8f) {
      pending += (b & 0x0f) * 2;
      pos += 1;
      containers++;
    } else if (b <= 0x9f) {
      pending += b & 0x0f;
      pos += 1;
      containers++;
    } else if (b <= 0xbf) {
      pos += 1 + (b & 0x1f);
    } else {
      const size = FIXED_SIZE[b - 0xc0]!;
      if (size > 0) {
        pos += size;
      } else if (size === 0) {
        valid = false;
        break;
      } else {
        // Variable length: size = -(width of the length field); bit 4 marks ext (one type byte follows).
        const width = -size & 7;
        // The length field must be complete before the position moves past the type byte.
        if (pos + 1 + width > end) break;
        const n = width === 1 ? buf[pos + 1]! : width === 2 ? readU16(buf, pos + 1) : readU32(buf, pos + 1);
        const kind = -size >> 3;
        if (kind === 0) {
          pos += 1 + width + n; // str, bin
        } else if (kind === 1) {
          pos += 2 + width + n; // ext: one type byte after the length
        } else {
          pending += kind === 2 ? n : n * 2; // array, map
          pos += 1 + width;
          containers++;
        }
      }
    }
    pending--;
  }
  walk.pos = pos;
  walk.pending = pending;
  containersWalked += containers;
  return valid;
}

/**
 * Maps and arrays that walkValues has entered since this was last set to 0. A value that holds no more
 * than MAX_NESTING_DEPTH of them cannot nest deeper than that, so forEachDeliverableRecord skips the
 * depth walk (nestingExceeds) for nearly every record.
 */
let containersWalked = 0;

/*
 * Sizes of the 0xc0..0xdf types: > 0 fixed total size, 0 invalid (0xc1), < 0 variable: -(kind << 3 | width),
 * kind 0 str/bin, 1 ext, 2 array, 3 map; width = bytes of the length field.
 */
const FIXED_SIZE = Int8Array.of(
  1, 0, 1, 1, -1, -2, -4, -9, -10, -12, 5, 9, 2, 3, 5, 9, // c0..cf
  2, 3, 5, 9, 3, 4, 6, 10, 18, -1, -2, -4, -18, -20, -26, -28, // d0..df
);

// Values still to read in each open container, for nestingExceeds (map counts go up to 2 × 2^32).
let openContainers = new Float64Array(MAX_NESTING_DEPTH + 1);

/**
 * True when the msgpack value at `pos` nests maps and arrays more than `limit` levels deep (a container
 * at `pos` is level 1). Iterative like walkValues, and it stops at the first container past the limit,
 * so a 6 MB message of nested maps costs one short walk. Assumes the value is well-formed (skipValue
 * checks that); on bytes that are not, it answers false and leaves the error to skipValue.
 */
export function nestingExceeds(buf: Uint8Array, pos: number, end: number = buf.length, limit = MAX_NESTING_DEPTH): boolean {
  if (openContainers.length <= limit) openContainers = new Float64Array(limit + 1);
  const open = openContainers;
  let depth = 0;
  let p = pos;
  while (p < end) {
    const b = buf[p]!;
    let items = -1; // -1: a scalar
    if (b <= 0x7f || b >= 0xe0) {
      p += 1;
    } else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
      p += 1;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
      p += 1;
    } else if (b <= 0xbf) {
      p += 1 + (b & 0x1f);
    } else if (b === 0xdc || b === 0xde) {
      if (p + 3 > end) return false;
      items = readU16(buf, p + 1) * (b === 0xde ? 2 : 1);
      p += 3;
    } else if (b === 0xdd || b === 0xdf) {
      if (p + 5 > end) return false;
      items = readU32(buf, p + 1) * (b === 0xdf ? 2 : 1);
      p += 5;
    } else {
      const size = FIXED_SIZE[b - 0xc0]!;
      if (size === 0) return false;
      if (size > 0) {
        p += size;
      } else {
        const width = -size & 7;
        if (p + 1 + width > end) return false;
        const n = width === 1 ? buf[p + 1]! : width === 2 ? readU16(buf, p + 1) : readU32(buf, p + 1);
        p += (-size >> 3 === 1 ? 2 : 1) + width + n; // ext has a type byte after its length
      }
    }
    if (items >= 0) {
      if (depth === limit) return true;
      if (items > 0) {
        open[depth++] = items;
        continue;
      }
    }
    // A value is complete: close every container it completes.
    for (;;) {
      if (depth === 0) return false;
      if (--open[depth - 1]! > 0) break;
      depth--;
    }
  }
  return false;
}

/** Why the event cannot be taken or encoded because of its nesting (body or metadata), or null. */
export function eventTooDeep(chunk: Uint8Array, ev: EventView, limit = MAX_NESTING_DEPTH): string | null {
  if (nestingExceeds(chunk, ev.bodyStart, ev.bodyEnd, limit)) return `record nested deeper than ${limit} levels`;
  if (ev.metaEnd > ev.metaStart && nestingExceeds(chunk, ev.metaStart, ev.metaEnd, limit)) return `metadata nested deeper than ${limit} levels`;
  return null;
}

/** A record an output leaves out of its payload because it cannot be encoded, by index among the chunk's records. */
export interface RejectedRecord {
  index: number;
  reason: string;
}

function readU16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function readU32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/** The array header at `pos`: its element count and its size in bytes, or null when the value is not an array. */
export function arrayHeader(buf: Uint8Array, pos: number, end: number = buf.length): { count: number; size: number } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  if (b >= 0x90 && b <= 0x9f) return { count: b & 0x0f, size: 1 };
  if (b === 0xdc && pos + 3 <= end) return { count: readU16(buf, pos + 1), size: 3 };
  if (b === 0xdd && pos + 5 <= end) return { count: readU32(buf, pos + 1), size: 5 };
  return null;
}

/** Returns the entry count of the map at `pos`, or -1 when the value there is not a map. */
export function mapCount(buf: Uint8Array, pos: number, end: number = buf.length): number {
  const b = buf[pos]!;
  if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
  if (b === 0xde && pos + 3 <= end) return readU16(buf, pos + 1);
  if (b === 0xdf && pos + 5 <= end) return readU32(buf, pos + 1);
  return -1;
}

/** Size of the map header at `pos` (1, 3 or 5). Assumes `mapCount` accepted it. */
export function mapHeaderSize(buf: Uint8Array, pos: number): number {
  const b = buf[pos]!;
  return b === 0xde ? 3 : b === 0xdf ? 5 : 1;
}

/**
 * Decodes a timestamp at `pos` into `out` (sec, nsec) as `flb_time_msgpack_to_time` does; returns its end.
 * Floats split like Fluent Bit: sec = trunc(f), nsec = trunc((f - sec) * 1e9).
 */
function readTime(buf: Uint8Array, pos: number, end: number, out: EventView, index: number): number {
  const b = buf[pos]!;
  if (b === 0xd7 || b === 0xc7) {
    const data = b === 0xd7 ? pos + 2 : pos + 3;
    if (data + 8 > end) throw malformed(`event ${index}: truncated timestamp`);
    if (b === 0xc7 && buf[pos + 1] !== 8) throw malformed(`event ${index}: EventTime ext must hold 8 bytes`);
    const type = buf[data - 1]!;
    if (type !== 0) throw malformed(`event ${index}: timestamp ext has type ${type}, expected 0`);
    out.sec = readU32(buf, data);
    out.nsec = readU32(buf, data + 4);
    return data + 8;
  }
  const next = skipValue(buf, pos, end);
  const view = new DataView(buf.buffer, buf.byteOffset + pos, next - pos);
  let seconds: number;
  if (b <= 0x7f) seconds = b;
  else if (b >= 0xe0) seconds = b - 0x100;
  else if (b === 0xcc) seconds = view.getUint8(1);
  else if (b === 0xcd) seconds = view.getUint16(1);
  else if (b === 0xce) seconds = view.getUint32(1);
  else if (b === 0xcf) seconds = Number(view.getBigUint64(1));
  else if (b === 0xd0) seconds = view.getInt8(1);
  else if (b === 0xd1) seconds = view.getInt16(1);
  else if (b === 0xd2) seconds = view.getInt32(1);
  else if (b === 0xd3) seconds = Number(view.getBigInt64(1));
  else if (b === 0xca || b === 0xcb) {
    const f = b === 0xca ? view.getFloat32(1) : view.getFloat64(1);
    if (!Number.isFinite(f)) throw malformed(`event ${index}: timestamp is not finite`);
    out.sec = Math.trunc(f);
    out.nsec = Math.trunc((f - out.sec) * 1e9);
    return next;
  } else throw malformed(`event ${index}: timestamp has msgpack type 0x${b.toString(16)}`);
  out.sec = seconds;
  out.nsec = 0;
  return next;
}

function newEventView(): EventView {
  return { start: 0, end: 0, sec: 0, nsec: 0, metaStart: 0, metaEnd: 0, metaCount: 0, bodyStart: 0, bodyEnd: 0, bodyCount: 0 };
}

/**
 * Parses the event starting at `pos` (which must be < end) into `ev`, a fresh EventView unless the
 * caller passes one to reuse (every field is overwritten).
 */
export function readEventAt(chunk: Uint8Array, pos: number, index: number, end: number = chunk.length, ev: EventView = newEventView()): EventView {
  ev.start = ev.end = pos;
  ev.sec = ev.nsec = ev.metaStart = ev.metaCount = 0;
  let p: number;
  if (chunk[pos] === 0x92 && chunk[pos + 1] === 0x92 && chunk[pos + 2] === 0xd7 && chunk[pos + 3] === 0 && pos + 12 < end) {
    // Fast path for the layout Fluent Bit and wsbit write.
    ev.sec = readU32(chunk, pos + 4);
    ev.nsec = readU32(chunk, pos + 8);
    p = pos + 12;
  } else {
    p = readEventHeader(chunk, pos, end, ev, index);
    if (ev.metaStart < 0) {
      // V1: [time, body] has no metadata map.
      ev.metaStart = ev.metaEnd = p;
      return readBody(chunk, p, end, ev, index);
    }
  }
  if (p >= end) throw malformed(`event ${index}: truncated before metadata`);
  ev.metaCount = mapCount(chunk, p, end);
  if (ev.metaCount < 0) throw malformed(`event ${index}: metadata is not a map`);
  ev.metaStart = p;
  p = skipValue(chunk, p, end);
  ev.metaEnd = p;
  return readBody(chunk, p, end, ev, index);
}

/**
 * Reads the outer array header and the time, for V2 (`[[time, meta], body]`) and V1 (`[time, body]`) alike;
 * returns the offset just after the time. Marks a V1 event with `ev.metaStart = -1`.
 */
function readEventHeader(chunk: Uint8Array, pos: number, end: number, ev: EventView, index: number): number {
  const outer = arrayHeader(chunk, pos, end);
  if (outer === null || outer.count !== 2) throw malformed(`event ${index} at byte ${pos} is not a 2-element array`);
  let p = pos + outer.size;
  if (p >= end) throw malformed(`event ${index}: truncated`);
  const header = arrayHeader(chunk, p, end);
  if (header === null) {
    ev.metaStart = -1;
    return readTime(chunk, p, end, ev, index);
  }
  // V2: [[time, metadata], body]
  if (header.count !== 2) throw malformed(`event ${index}: header array must hold [time, metadata]`);
  p += header.size;
  if (p >= end) throw malformed(`event ${index}: truncated`);
  return readTime(chunk, p, end, ev, index);
}

function readBody(chunk: Uint8Array, p: number, end: number, ev: EventView, index: number): EventView {
  if (p >= end) throw malformed(`event ${index}: truncated before body`);
  ev.bodyCount = mapCount(chunk, p, end);
  if (ev.bodyCount < 0) throw malformed(`event ${index}: body is not a map`);
  ev.bodyStart = p;
  p = skipValue(chunk, p, end);
  ev.bodyEnd = ev.end = p;
  return ev;
}

/**
 * Calls `cb` for every event of the chunk, in order, and returns the number of events. A truncated or
 * malformed chunk throws `WSBIT_CODEC_MALFORMED` (events before the bad one have already been passed to cb).
 */
export function forEachEvent(chunk: Uint8Array, cb: (event: EventView, index: number) => void): number {
  let pos = 0;
  let index = 0;
  const end = chunk.length;
  while (pos < end) {
    const ev = readEventAt(chunk, pos, index, end);
    cb(ev, index);
    pos = ev.end;
    index++;
  }
  return index;
}

export function readEvents(chunk: Uint8Array): EventView[] {
  const events: EventView[] = [];
  forEachEvent(chunk, (ev) => events.push(ev));
  return events;
}

/** Counts events, validating the whole chunk on the way (throws `WSBIT_CODEC_MALFORMED`). */
export function countEvents(chunk: Uint8Array): number {
  return forEachEvent(chunk, () => {});
}

/**
 * Group start/end markers (timestamp -1 / -2, `FLB_LOG_EVENT_GROUP_START/END`) frame OTLP-style groups; Fluent
 * Bit's decoder does not hand them to outputs as records. wsbit never writes them, but a chunk from elsewhere
 * (forward input, a stored chunk) might hold them, so formatters skip them. In an EventTime ext they appear as
 * the uint32 values 0xffffffff / 0xfffffffe.
 */
export function isGroupMarker(ev: EventView): boolean {
  return ev.sec === -1 || ev.sec === -2 || ev.sec === 0xffffffff || ev.sec === 0xfffffffe;
}

/**
 * Writes one record of a chunk into an encoder's output: returns null once it is written, or why it
 * cannot be, after undoing whatever it wrote of it. `index` counts the chunk's records (group markers
 * are not records). `event` is reused for the next record (an object per record was a quarter of the
 * JSON path's garbage, issue 23): copy the fields to keep them.
 */
export type RecordWriter = (event: EventView, index: number) => string | null;

/**
 * The per-record loop of every output encoder: skips group markers, leaves out a record nested deeper
 * than MAX_NESTING_DEPTH before it is walked (the encoders recurse), and hands every other record to
 * `write`. Each record left out, by the depth check or by `write`, is appended to `rejected`, so a
 * poison record costs only itself; outputs report them with reportRejectedRecords once the rest has
 * been delivered. Returns the number of records written. A malformed chunk throws
 * `WSBIT_CODEC_MALFORMED`, as forEachEvent does, after the records before the bad event were written.
 */
export function forEachDeliverableRecord(chunk: Uint8Array, rejected: RejectedRecord[], write: RecordWriter): number {
  return writeDeliverableRecords(chunk, newRecordCursor(), rejected, write, () => false);
}

/** Where a walk over a chunk's records stands, so that it can stop and go on later (writeDeliverableRecords). */
export interface RecordCursor {
  /** Byte offset of the next event; the chunk's length once every event is walked. */
  pos: number;
  eventIndex: number;
  recordIndex: number;
}

export function newRecordCursor(): RecordCursor {
  return { pos: 0, eventIndex: 0, recordIndex: 0 };
}

/**
 * forEachDeliverableRecord from `cursor` on, stopping before the next event once `enough()` says so:
 * an encoder that streams a chunk in pieces writes one piece per call. Moves `cursor`; returns the
 * number of records written by this call.
 */
export function writeDeliverableRecords(
  chunk: Uint8Array,
  cursor: RecordCursor,
  rejected: RejectedRecord[],
  write: RecordWriter,
  enough: () => boolean,
): number {
  const end = chunk.length;
  let written = 0;
  const ev = newEventView();
  while (cursor.pos < end && !enough()) {
    containersWalked = 0;
    readEventAt(chunk, cursor.pos, cursor.eventIndex++, end, ev);
    cursor.pos = ev.end;
    if (isGroupMarker(ev)) continue;
    // readEventAt has walked the metadata and the body (and nothing else that holds a container).
    const reason = (containersWalked > MAX_NESTING_DEPTH ? eventTooDeep(chunk, ev) : null) ?? write(ev, cursor.recordIndex);
    if (reason === null) written++;
    else rejected.push({ index: cursor.recordIndex, reason });
    cursor.recordIndex++;
  }
  return written;
}
