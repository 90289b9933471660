/**
 * msgpack chunk → JSON bytes, byte for byte as Fluent Bit 5.1.1's `flb_pack_msgpack_to_json_format` and
 * `msgpack2json` (src/flb_pack.c) with `flb_utils_write_str` (src/flb_utils.c) write them. SPEC §2.2.
 *
 * Per record Fluent Bit builds one map — date key, `__internal__` (only when the metadata map is non-empty),
 * then the body's entries — and prints it compactly. In every map only the LAST occurrence of a duplicated
 * string key is printed, at its own position, so a body key equal to the date key hides the injected date.
 * Strings are escaped as in json-string.ts; doubles and the date field are formatted in json-numbers.ts.
 */
import type { BufferPool } from '../base/buffer-pool.js';
import { WsbitError } from '../base/errors.js';
import { ByteSink } from './byte-sink.js';
import { int64ToString, readFloat, uint64ToString } from './c-printf.js';
import { CODEC_MALFORMED, mapHeaderSize, newRecordCursor, skipValue, writeDeliverableRecords, type EventView, type RejectedRecord } from './event.js';
import { JsonDateField, writeDouble, type DateFormat } from './json-numbers.js';
import { writeQuotedJsonString } from './json-string.js';
import { MAX_PRINT_DEPTH } from './limits.js';
import { releaseWordViews } from './word-copy.js';

export type JsonFormat = 'json' | 'json_lines' | 'json_stream';

export interface JsonOptions {
  format: JsonFormat;
  /** null leaves the date key out (wsbit's `json_date_key false`). */
  dateKey: string | null;
  dateFormat: DateFormat;
  /** SERVICE `json.escape_unicode` (Fluent Bit's default: true). */
  escapeUnicode: boolean;
  /** SERVICE `json.convert_nan_to_null` (default false: NaN prints as `nan`, which is not valid JSON). */
  convertNanToNull?: boolean;
}

// Scratch space per nesting depth: 4 ints per map entry (key offset, value offset, str key start, str key
// length or -1) and a duplicate flag per entry. Shared because encoding is synchronous.
const entryScratch: Int32Array[] = [];
const dupScratch: Uint8Array[] = [];
const QUADRATIC_DEDUP_MAX = 24;

const INTERNAL_KEY = Buffer.from('__internal__');
const INTERNAL_PREFIX = Buffer.from('"__internal__":{"log_metadata":');

/** skipValue with the common scalar types inlined (readEventAt has validated the record). */
function skipScalar(src: Buffer, p: number): number {
  const b = src[p]!;
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) return p + 1;
  if (b >= 0xa0 && b <= 0xbf) return p + 1 + (b & 0x1f);
  if (b === 0xcb) return p + 9;
  if (b === 0xd9) return p + 2 + src[p + 1]!;
  return skipValue(src, p);
}

/** Stores [start, length] of a str key at `pos` into out[at], out[at + 1]; length -1 for other key types. */
function strKeyRange(src: Buffer, pos: number, out: Int32Array, at: number): void {
  const b = src[pos]!;
  let start = -1;
  let length = -1;
  if (b >= 0xa0 && b <= 0xbf) {
    start = pos + 1;
    length = b & 0x1f;
  } else if (b === 0xd9) {
    start = pos + 2;
    length = src[pos + 1]!;
  } else if (b === 0xda) {
    start = pos + 3;
    length = src.readUInt16BE(pos + 1);
  } else if (b === 0xdb) {
    start = pos + 5;
    length = src.readUInt32BE(pos + 1);
  }
  out[at] = start;
  out[at + 1] = length;
}

function bytesEqual(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

class JsonEncoder {
  readonly out: ByteSink;
  private readonly escapeUnicode: boolean;
  private readonly nanToNull: boolean;

  constructor(sink: ByteSink, escapeUnicode: boolean, nanToNull: boolean) {
    this.out = sink;
    this.escapeUnicode = escapeUnicode;
    this.nanToNull = nanToNull;
  }

  /** Offsets of every entry of the map whose first entry is at `pos`; [4 * count] holds the map's end. */
  collect(src: Buffer, pos: number, count: number, depth: number): Int32Array {
    let entries = entryScratch[depth];
    if (entries === undefined || entries.length < count * 4 + 1) {
      entries = new Int32Array(Math.max(64, count * 8 + 1));
      entryScratch[depth] = entries;
    }
    let p = pos;
    for (let e = 0; e < count; e++) {
      entries[e * 4] = p;
      strKeyRange(src, p, entries, e * 4 + 2);
      // Keys are nearly always strings, whose range strKeyRange just read.
      const keyLength = entries[e * 4 + 3]!;
      p = keyLength >= 0 ? entries[e * 4 + 2]! + keyLength : skipValue(src, p);
      entries[e * 4 + 1] = p;
      p = skipScalar(src, p);
    }
    entries[count * 4] = p;
    return entries;
  }

  /** Flags entries whose string key occurs again later (`key_exists_in_map(k, map, i + 1)`); null if none. */
  duplicates(src: Buffer, entries: Int32Array, count: number, depth: number): Uint8Array | null {
    if (count < 2) return null;
    let dup = dupScratch[depth];
    if (dup === undefined || dup.length < count) dup = dupScratch[depth] = new Uint8Array(Math.max(64, count * 2));
    let any = false;
    if (count <= QUADRATIC_DEDUP_MAX) {
      for (let e = 0; e < count; e++) {
        dup[e] = 0;
        const len = entries[e * 4 + 3]!;
        if (len < 0) continue;
        for (let f = e + 1; f < count; f++) {
          if (entries[f * 4 + 3] === len && bytesEqual(src, entries[e * 4 + 2]!, src, entries[f * 4 + 2]!, len)) {
            dup[e] = 1;
            any = true;
            break;
          }
        }
      }
    } else {
      const last = new Map<string, number>();
      for (let e = 0; e < count; e++) {
        const len = entries[e * 4 + 3]!;
        if (len >= 0) last.set(src.toString('latin1', entries[e * 4 + 2]!, entries[e * 4 + 2]! + len), e);
      }
      for (let e = 0; e < count; e++) {
        const len = entries[e * 4 + 3]!;
        const isDup = len >= 0 && last.get(src.toString('latin1', entries[e * 4 + 2]!, entries[e * 4 + 2]! + len)) !== e;
        dup[e] = isDup ? 1 : 0;
        any ||= isDup;
      }
    }
    return any ? dup : null;
  }

  hasKey(src: Buffer, entries: Int32Array, count: number, key: Uint8Array): boolean {
    for (let e = 0; e < count; e++) {
      if (entries[e * 4 + 3] === key.length && bytesEqual(src, entries[e * 4 + 2]!, key, 0, key.length)) return true;
    }
    return false;
  }

  /** Writes `key:value` pairs (without braces) skipping hidden duplicates; returns whether any was written. */
  entries(src: Buffer, entries: Int32Array, dup: Uint8Array | null, count: number, depth: number, comma: boolean): boolean {
    let written = comma;
    for (let e = 0; e < count; e++) {
      if (dup !== null && dup[e] === 1) continue;
      if (written) this.out.byte(0x2c);
      written = true;
      this.value(src, entries[e * 4]!, depth + 1);
      this.out.byte(0x3a);
      this.value(src, entries[e * 4 + 1]!, depth + 1);
    }
    return written;
  }

  map(src: Buffer, pos: number, count: number, depth: number): number {
    const entries = this.collect(src, pos, count, depth);
    const end = entries[count * 4]!;
    this.out.byte(0x7b);
    this.entries(src, entries, this.duplicates(src, entries, count, depth), count, depth, false);
    this.out.byte(0x7d);
    return end;
  }

  array(src: Buffer, pos: number, count: number, depth: number): number {
    this.out.byte(0x5b);
    let p = pos;
    for (let i = 0; i < count; i++) {
      if (i > 0) this.out.byte(0x2c);
      p = this.value(src, p, depth + 1);
    }
    this.out.byte(0x5d);
    return p;
  }

  string(src: Buffer, start: number, length: number): number {
    writeQuotedJsonString(this.out, src, start, start + length, this.escapeUnicode);
    return start + length;
  }

  float(src: Buffer, pos: number, next: number): number {
    const { value, negative } = readFloat(src, pos);
    if (Number.isNaN(value)) this.out.ascii(this.nanToNull ? 'null' : negative ? '-nan' : 'nan');
    else writeDouble(this.out, value);
    return next;
  }

  text(text: string, next: number): number {
    this.out.ascii(text);
    return next;
  }

  digits(n: number, next: number): number {
    this.out.uint(n);
    return next;
  }

  /** Ext bytes as `"\xNN..."`: `snprintf("\\x%02x", (char) byte)`, so bytes >= 0x80 print as `\xffffffNN`. */
  ext(src: Buffer, start: number, end: number): number {
    this.out.byte(0x22);
    for (let i = start; i < end; i++) {
      const c = src[i]!;
      this.out.ascii(c < 0x80 ? `\\x${c < 16 ? '0' : ''}${c.toString(16)}` : `\\xffffff${c.toString(16)}`);
    }
    this.out.byte(0x22);
    return end;
  }

  value(src: Buffer, pos: number, depth: number): number {
    if (depth > MAX_PRINT_DEPTH) throw new WsbitError(CODEC_MALFORMED, `msgpack nesting deeper than ${MAX_PRINT_DEPTH}`);
    const b = src[pos]!;
    if (b <= 0x7f) return this.digits(b, pos + 1);
    if (b >= 0xe0) return this.text(String(b - 0x100), pos + 1);
    if (b <= 0x8f) return this.map(src, pos + 1, b & 0x0f, depth);
    if (b <= 0x9f) return this.array(src, pos + 1, b & 0x0f, depth);
    if (b <= 0xbf) return this.string(src, pos + 1, b & 0x1f);
    switch (b) {
      case 0xc0: return this.text('null', pos + 1);
      case 0xc2: return this.text('false', pos + 1);
      case 0xc3: return this.text('true', pos + 1);
      case 0xc4: case 0xd9: return this.string(src, pos + 2, src[pos + 1]!);
      case 0xc5: case 0xda: return this.string(src, pos + 3, src.readUInt16BE(pos + 1));
      case 0xc6: case 0xdb: return this.string(src, pos + 5, src.readUInt32BE(pos + 1));
      case 0xca: return this.float(src, pos, pos + 5);
      case 0xcb: return this.float(src, pos, pos + 9);
      case 0xcc: return this.digits(src[pos + 1]!, pos + 2);
      case 0xcd: return this.digits(src.readUInt16BE(pos + 1), pos + 3);
      case 0xce: return this.digits(src.readUInt32BE(pos + 1), pos + 5);
      case 0xcf: return this.text(uint64ToString(src.readUInt32BE(pos + 1), src.readUInt32BE(pos + 5)), pos + 9);
      case 0xd0: return this.text(String(src.readInt8(pos + 1)), pos + 2);
      case 0xd1: return this.text(String(src.readInt16BE(pos + 1)), pos + 3);
      case 0xd2: return this.text(String(src.readInt32BE(pos + 1)), pos + 5);
      case 0xd3: return this.text(int64ToString(src.readInt32BE(pos + 1), src.readUInt32BE(pos + 5)), pos + 9);
      case 0xdc: return this.array(src, pos + 3, src.readUInt16BE(pos + 1), depth);
      case 0xdd: return this.array(src, pos + 5, src.readUInt32BE(pos + 1), depth);
      case 0xde: return this.map(src, pos + 3, src.readUInt16BE(pos + 1), depth);
      case 0xdf: return this.map(src, pos + 5, src.readUInt32BE(pos + 1), depth);
      case 0xc1: throw new WsbitError(CODEC_MALFORMED, `invalid msgpack type byte 0xc1 at byte ${pos}`);
      default: {
        // ext: fixext d4..d8 (type at pos+1) or ext 8/16/32 c7..c9 (length, then type)
        const end = skipValue(src, pos);
        return this.ext(src, b >= 0xd4 ? pos + 2 : pos + 2 + (1 << (b - 0xc7)), end);
      }
    }
  }

  /** One record: date key, `__internal__`, then the body's entries, as one map. */
  record(chunk: Buffer, ev: EventView, date: JsonDateField | null): void {
    const count = ev.bodyCount;
    const entries = this.collect(chunk, ev.bodyStart + mapHeaderSize(chunk, ev.bodyStart), count, 0);
    const dup = this.duplicates(chunk, entries, count, 0);
    const internal = ev.metaCount > 0 && !this.hasKey(chunk, entries, count, INTERNAL_KEY);
    const out = this.out;
    out.byte(0x7b);
    let comma = false;
    if (date !== null && !this.hasKey(chunk, entries, count, date.key) && !(internal && INTERNAL_KEY.equals(date.key))) {
      date.writeField(out, ev.sec, ev.nsec);
      comma = true;
    }
    if (internal) {
      if (comma) out.byte(0x2c);
      out.raw(INTERNAL_PREFIX);
      this.value(chunk, ev.metaStart, 2);
      out.byte(0x7d);
      comma = true;
    }
    this.entries(chunk, entries, dup, count, 0, comma);
    out.byte(0x7d);
  }
}

/**
 * Encodes a chunk as `json` (`[{..},{..}]`), `json_stream` (`{..}{..}`) or `json_lines` (`{..}\n{..}\n`).
 * Throws `WSBIT_CODEC_MALFORMED` on a malformed chunk. A record nested deeper than MAX_NESTING_DEPTH is
 * left out and listed in `rejected`, so it costs only itself. The result may be a view of a larger
 * buffer; with a `pool`, it is a buffer from the pool, to be given back once it has been sent.
 */
export function chunkToJson(chunk: Buffer, options: JsonOptions, pool?: BufferPool, rejected: RejectedRecord[] = []): Buffer {
  const text = new JsonPieces(chunk, options, chunk.length + (chunk.length >> 1) + 64, pool, rejected);
  return text.next(Number.POSITIVE_INFINITY);
}

/**
 * A chunk's JSON text (as chunkToJson writes it) in pieces of about `pieceBytes`, cut between records,
 * each written over the last in one buffer: an output that sends a piece before asking for the next
 * holds a piece of the text at a time, not the whole (1.7 times the chunk's size for 100 B records).
 */
export class JsonPieces {
  readonly #chunk: Buffer;
  readonly #sink: ByteSink;
  readonly #encoder: JsonEncoder;
  readonly #date: JsonDateField | null;
  readonly #isArray: boolean;
  readonly #isLines: boolean;
  readonly #rejected: RejectedRecord[];
  readonly #cursor = newRecordCursor();
  #opened = false;
  #first = true;
  #done = false;

  constructor(chunk: Buffer, options: JsonOptions, sizeHintBytes: number, pool: BufferPool | undefined, rejected: RejectedRecord[]) {
    this.#chunk = chunk;
    this.#sink = new ByteSink(sizeHintBytes, pool);
    this.#encoder = new JsonEncoder(this.#sink, options.escapeUnicode, options.convertNanToNull ?? false);
    this.#date = options.dateKey === null ? null : new JsonDateField(options.dateKey, options.dateFormat, options.escapeUnicode);
    this.#isArray = options.format === 'json';
    this.#isLines = options.format === 'json_lines';
    this.#rejected = rejected;
  }

  /** Whether the last piece has been written. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * The next piece: records until it holds `pieceBytes` bytes or the chunk ends (one record may take it
   * past). A view of the buffer the next call writes over; empty once done. Throws `WSBIT_CODEC_MALFORMED`.
   */
  next(pieceBytes: number): Buffer {
    const out = this.#sink;
    out.pos = 0;
    if (this.#done) return out.bytes();
    const chunk = this.#chunk;
    const encoder = this.#encoder;
    const date = this.#date;
    const isArray = this.#isArray;
    const isLines = this.#isLines;
    if (isArray && !this.#opened) out.byte(0x5b);
    this.#opened = true;
    // The bracket does not count: every piece but an empty chunk's holds a record.
    const start = out.pos;
    writeDeliverableRecords(
      chunk,
      this.#cursor,
      this.#rejected,
      (ev) => {
        if (isArray && !this.#first) out.byte(0x2c);
        this.#first = false;
        encoder.record(chunk, ev, date);
        if (isLines) out.byte(0x0a);
        return null;
      },
      () => out.pos - start >= pieceBytes,
    );
    if (this.#cursor.pos >= chunk.length) {
      if (isArray) out.byte(0x5d);
      this.#done = true;
      releaseWordViews(); // the chunk (up to 2 MB) need not stay reachable until the next one is encoded
    }
    return out.bytes();
  }

  /** The buffer the pieces are written in, to give back to the pool once the last piece has been sent. */
  get buffer(): Buffer {
    return this.#sink.buf;
  }
}

/**
 * Appends ONE msgpack value (starting at `pos` in `src`) to `sink` as compact JSON, with the same rules as a
 * record body in `chunkToJson` (msgpack2json: duplicate keys print once, at their last position; floats, ext
 * and string escaping as Fluent Bit). Returns the offset just past the value. For outputs that wrap records
 * in their own envelope (websocket_server's `[tag, time, record]`).
 */
export function writeMsgpackValueAsJson(
  sink: ByteSink,
  src: Buffer,
  pos: number,
  options: { escapeUnicode: boolean; convertNanToNull?: boolean },
): number {
  skipValue(src, pos); // bounds-check the whole value first: the encoder trusts what it reads
  const encoder = new JsonEncoder(sink, options.escapeUnicode, options.convertNanToNull ?? false);
  return encoder.value(src, pos, 0);
}