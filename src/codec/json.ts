/**
 * msgpack chunk → JSON bytes, byte for byte as Fluent Bit 5.1.1's `flb_pack_msgpack_to_json_format` and
 * `msgpack2json` (src/flb_pack.c) with `flb_utils_write_str` (src/flb_utils.c) write them. SPEC §2.2.
 *
 * Per record Fluent Bit builds one map — date key, `__internal__` (only when the metadata map is non-empty),
 * then the body's entries — and prints it compactly. In every map only the LAST occurrence of a duplicated
 * string key is printed, at its own position, so a body key equal to the date key hides the injected date.
 */
import type { BufferPool } from '../base/buffer-pool.js';
import { WsbitError } from '../base/errors.js';
import { CODEC_MALFORMED, eventTooDeep, forEachEvent, isGroupMarker, mapHeaderSize, skipValue, type EventView, type RejectedRecord } from './event.js';
import { MAX_PRINT_DEPTH, formatG, int64ToString, readFloat, uint64ToString } from './print.js';

export type JsonFormat = 'json' | 'json_lines' | 'json_stream';
export type DateFormat = 'double' | 'epoch' | 'epoch_ms' | 'iso8601' | 'java_sql_timestamp';

export const dateFormats: readonly DateFormat[] = ['double', 'epoch', 'epoch_ms', 'iso8601', 'java_sql_timestamp'];

/** Other names `flb_pack_to_json_date_type` accepts. */
export const dateFormatAliases: Readonly<Record<string, DateFormat>> = {
  epoch_millis: 'epoch_ms',
  epoch_milliseconds: 'epoch_ms',
};

/** Case-insensitive, like `strcasecmp` in Fluent Bit; undefined for an unknown name. */
export function parseDateFormat(name: string): DateFormat | undefined {
  const key = name.toLowerCase();
  return (dateFormats as readonly string[]).includes(key) ? (key as DateFormat) : dateFormatAliases[key];
}

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

/** A growable output buffer with public fields, for the byte loops of the encoders. */
export class ByteSink {
  buf: Buffer;
  pos = 0;

  /** With a `pool`, the buffers come from it and go back to it as the sink grows. */
  constructor(
    sizeHintBytes = 1024,
    private readonly pool?: BufferPool,
  ) {
    const bytes = Math.max(64, sizeHintBytes);
    this.buf = pool === undefined ? Buffer.allocUnsafe(bytes) : pool.take(bytes);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = this.pool === undefined ? Buffer.allocUnsafe(size) : this.pool.take(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.pool?.give(this.buf);
    this.buf = next;
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Writes a string whose characters are all below U+0080. */
  ascii(text: string): void {
    this.ensure(text.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) b[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  raw(bytes: Uint8Array, start = 0, end = bytes.length): void {
    this.ensure(end - start);
    if (end - start > 48) {
      this.buf.set(bytes.subarray(start, end), this.pos);
      this.pos += end - start;
    } else {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = bytes[i]!;
      this.pos = p;
    }
  }

  /** Decimal digits of a non-negative integer below 2^53, without allocating a string. */
  uint(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    this.ensure(digits);
    let p = this.pos + digits;
    let t = n;
    do {
      this.buf[--p] = 0x30 + (t % 10);
      t = Math.floor(t / 10);
    } while (t > 0);
    this.pos += digits;
  }

  /** The bytes written; a view of the internal buffer (copy it to keep it past further writes). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

// ---------------------------------------------------------------------------------------------------------
// String escaping: flb_utils_write_str (src/flb_utils.c).

/** Escapes for bytes below 0x80 (`json_escape_table`); undefined = copy as is. `/` is not escaped. */
const ESCAPE: Array<Uint8Array | undefined> = [];
for (let c = 0; c < 0x80; c++) {
  const named: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };
  const text = named[c] ?? (c < 0x20 || c === 0x7f ? `\\u${c.toString(16).padStart(4, '0')}` : undefined);
  ESCAPE.push(text === undefined ? undefined : Buffer.from(text, 'latin1'));
}

/** 1 for bytes copied as they are (printable ASCII except quote and backslash), for the fast loop. */
const PLAIN = new Uint8Array(256).map((_, c) => (c < 0x80 && ESCAPE[c] === undefined ? 1 : 0));

/** `flb_utf8_len`: 1 + trailingBytesForUTF8[lead] (continuation bytes count as 1; F8-FF claim 5 or 6). */
const UTF8_LEN = new Uint8Array(256).map((_, c) => (c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : c < 0xfc ? 5 : 6));

/** Bjoern Hoehrmann's UTF-8 DFA as in include/fluent-bit/flb_utf8.h (state 1 = reject). */
const UTF8D = Uint8Array.from([
  ...new Array<number>(128).fill(0), ...new Array<number>(16).fill(1), ...new Array<number>(16).fill(9),
  ...new Array<number>(32).fill(7), 8, 8, ...new Array<number>(30).fill(2),
  0xa, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 0xb, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  0, 1, 2, 3, 5, 8, 7, 1, 1, 1, 4, 6, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1,
  1, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1,
  1, 3, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
]);

const HEX = Buffer.from('0123456789abcdef', 'latin1');

function writeU(out: Buffer, p: number, code: number): number {
  out[p] = 0x5c;
  out[p + 1] = 0x75;
  out[p + 2] = HEX[code >> 12]!;
  out[p + 3] = HEX[(code >> 8) & 15]!;
  out[p + 4] = HEX[(code >> 4) & 15]!;
  out[p + 5] = HEX[code & 15]!;
  return p + 6;
}

/** `flb_utf8_validate_char`: length of the valid UTF-8 sequence at i, or 0. */
function validUtf8Length(s: Uint8Array, i: number, maxLength: number): number {
  const c = s[i]!;
  let len: number;
  if (c <= 0x7f) return 1;
  if ((c & 0xe0) === 0xc0) {
    if (c < 0xc2) return 0;
    len = 2;
  } else if ((c & 0xf0) === 0xe0) {
    if (maxLength > 1 && ((c === 0xe0 && s[i + 1]! < 0xa0) || (c === 0xed && s[i + 1]! >= 0xa0))) return 0;
    len = 3;
  } else if ((c & 0xf8) === 0xf0) {
    if (c > 0xf4 || (maxLength > 1 && ((c === 0xf0 && s[i + 1]! < 0x90) || (c === 0xf4 && s[i + 1]! > 0x8f)))) return 0;
    len = 4;
  } else {
    return 0;
  }
  if (maxLength < len) return 0;
  for (let k = 1; k < len; k++) if ((s[i + k]! & 0xc0) !== 0x80) return 0;
  return len;
}

/**
 * Writes the bytes of a string value, escaped, without quotes. With `escapeUnicode` (Fluent Bit's default),
 * this follows `flb_utils_write_str_escaped` as it runs on x86 (where `char` is signed, so every non-ASCII
 * byte takes the "beyond 0xFFFF" branch): valid sequences become lowercase `\uXXXX` (surrogate pairs above
 * U+FFFF); a sequence cut by the end of the string loses its lead byte; every byte of an invalid sequence
 * becomes U+E000+byte written as raw UTF-8. Without it (`flb_utils_write_str_raw`), valid UTF-8 is copied and
 * each invalid byte becomes U+FFFD. (Fluent Bit's SIMD loop can read past a string's end in rare layouts;
 * that memory-dependent behaviour is not reproduced.)
 */
export function writeJsonString(sink: ByteSink, src: Uint8Array, start: number, end: number, escapeUnicode: boolean): void {
  sink.ensure((end - start) * 6);
  const out = sink.buf;
  let p = sink.pos;
  let i = start;
  while (i < end) {
    // Runs of plain ASCII are the common case: find the run, then copy it in one go.
    let j = i;
    while (j < end && PLAIN[src[j]!] === 1) j++;
    if (j > i) {
      if (j - i > 32 && isBuffer(src)) {
        src.copy(out, p, i, j); // a memcpy; set(subarray) would allocate a view first
        p += j - i;
      } else {
        for (let k = i; k < j; k++) out[p++] = src[k]!;
      }
      i = j;
      if (i >= end) break;
    }
    const c = src[i]!;
    if (c < 0x80) {
      const seq = ESCAPE[c]!;
      for (let k = 0; k < seq.length; k++) out[p++] = seq[k]!;
      i++;
    } else {
      p = escapeUnicode ? escapeNonAscii(out, p, src, i, end) : copyNonAscii(out, p, src, i, end);
      i = consumedTo;
    }
  }
  sink.pos = p;
}

function isBuffer(bytes: Uint8Array): bytes is Buffer {
  return bytes.constructor !== Uint8Array && Buffer.isBuffer(bytes);
}

/** Input offset reached by the last escapeNonAscii/copyNonAscii call (they return the output offset). */
let consumedTo = 0;

/** `flb_utils_write_str_raw` for the non-ASCII byte at i: copy a valid sequence, else U+FFFD for one byte. */
function copyNonAscii(out: Buffer, p: number, src: Uint8Array, i: number, end: number): number {
  const len = validUtf8Length(src, i, end - i);
  if (len === 0) {
    out[p++] = 0xef;
    out[p++] = 0xbf;
    out[p++] = 0xbd;
    consumedTo = i + 1;
    return p;
  }
  for (let k = 0; k < len; k++) out[p++] = src[i + k]!;
  consumedTo = i + len;
  return p;
}

/** `flb_utils_write_str_escaped`'s signed-char branch for the non-ASCII byte at i. */
function escapeNonAscii(out: Buffer, p: number, src: Uint8Array, i: number, end: number): number {
  const len = UTF8_LEN[src[i]!]!;
  if (i + len > end) {
    consumedTo = i + 1; // a sequence cut by the end of the string: its lead byte is dropped
    return p;
  }
  let state = 0;
  let code = 0;
  let n = 0;
  for (; n < len; n++) {
    const byte = src[i + n]!;
    const type = UTF8D[byte]!;
    code = state !== 0 ? (byte & 0x3f) | (code << 6) : (0xff >> type) & byte;
    state = UTF8D[256 + state * 16 + type]!;
    if (state === 1) break;
  }
  if (n === len) {
    if (code > 0xffff) {
      p = writeU(out, p, 0xd800 + ((code - 0x10000) >> 10));
      p = writeU(out, p, 0xdc00 + ((code - 0x10000) & 0x3ff));
    } else {
      p = writeU(out, p, code);
    }
    consumedTo = i + len;
    return p;
  }
  // Invalid: each byte read so far (at least the first) becomes U+E000+byte, as raw UTF-8.
  const count = n === 0 ? 1 : n;
  for (let k = 0; k < count; k++) {
    const byte = src[i + k]!;
    out[p++] = 0xee;
    out[p++] = 0x80 | (byte >> 6);
    out[p++] = 0x80 | (byte & 0x3f);
  }
  consumedTo = i + count;
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Numbers and maps: msgpack2json (src/flb_pack.c).

const TWO_63 = 9223372036854775808;

/**
 * A double as msgpack2json prints it: `%.1f` when `f == (double)(long long)f` (integral and within the int64
 * range — on x86 the cast of anything larger yields INT64_MIN), else `%.16g`. `3.0`, `-0.0`, `1e+20`, `nan`.
 */
export function formatDouble(x: number): string {
  if (Number.isInteger(x) && x >= -TWO_63 && x < TWO_63) {
    if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
    return x.toFixed(1); // exact for integers below 1e21
  }
  return formatG(x, 16);
}

/** `formatDouble` into a sink; integral values below 2^53 skip the string conversion. */
function writeDouble(out: ByteSink, x: number): void {
  if (Number.isInteger(x) && x > -9007199254740992 && x < 9007199254740992 && !Object.is(x, -0)) {
    if (x < 0) out.byte(0x2d);
    out.uint(x < 0 ? -x : x);
    out.byte(0x2e);
    out.byte(0x30);
  } else {
    out.ascii(formatDouble(x));
  }
}

// Scratch space per nesting depth: 4 ints per map entry (key offset, value offset, str key start, str key
// length or -1) and a duplicate flag per entry. Shared because encoding is synchronous.
const entryScratch: Int32Array[] = [];
const dupScratch: Uint8Array[] = [];
const QUADRATIC_DEDUP_MAX = 24;

const INTERNAL_KEY = Buffer.from('__internal__');
const INTERNAL_PREFIX = Buffer.from('"__internal__":{"log_metadata":');

/** skipValue with the common scalar types inlined (the chunk was validated by forEachEvent). */
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

/** Up to this many leading bytes of a string are copied byte by byte (see JsonEncoder.string). */
const SHORT_STRING_BYTES = 96;

/** Longer than any date value (an iso8601 date with its quotes is 29 bytes). */
const DATE_CACHE_BYTES = 40;

class JsonEncoder {
  readonly out: ByteSink;
  private readonly escapeUnicode: boolean;
  private readonly nanToNull: boolean;
  private lastDateSec = Number.NaN;
  private lastDateNsec = Number.NaN;
  /** Allocated on first use: writeMsgpackValueAsJson makes an encoder per record and writes no date. */
  private lastDate: Buffer | null = null;
  private lastDateLength = 0;

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
    const out = this.out;
    const end = start + length;
    out.ensure(length * 6 + 2);
    const b = out.buf;
    let p = out.pos;
    b[p++] = 0x22;
    // Most keys and values are plain ASCII: copy their start here while scanning, which for typical
    // log lengths beats the general loop's scan-then-memcpy; long strings go on in that loop.
    let i = start;
    const head = Math.min(end, start + SHORT_STRING_BYTES);
    while (i < head && PLAIN[src[i]!] === 1) b[p++] = src[i++]!;
    out.pos = p;
    if (i < end) writeJsonString(out, src, i, end, this.escapeUnicode);
    out.buf[out.pos++] = 0x22;
    return end;
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

  /** The date value; records read in one go share their time, so the last one is kept formatted. */
  private date(ev: EventView, format: DateFormat): void {
    const out = this.out;
    if (this.lastDate !== null && ev.sec === this.lastDateSec && ev.nsec === this.lastDateNsec) {
      out.raw(this.lastDate, 0, this.lastDateLength);
      return;
    }
    const from = out.pos;
    if (format === 'double') writeDateDouble(out, ev.sec, ev.nsec); // flb_time_to_double
    else out.ascii(dateValue(ev, format));
    const length = out.pos - from;
    this.lastDate ??= Buffer.allocUnsafe(DATE_CACHE_BYTES);
    if (length <= DATE_CACHE_BYTES) {
      out.buf.copy(this.lastDate, 0, from, out.pos);
      this.lastDateLength = length;
      this.lastDateSec = ev.sec;
      this.lastDateNsec = ev.nsec;
    }
  }

  /** One record: date key, `__internal__`, then the body's entries, as one map. */
  record(chunk: Buffer, ev: EventView, dateKey: Uint8Array | null, dateKeyJson: Uint8Array | null, dateFormat: DateFormat): void {
    const count = ev.bodyCount;
    const entries = this.collect(chunk, ev.bodyStart + mapHeaderSize(chunk, ev.bodyStart), count, 0);
    const dup = this.duplicates(chunk, entries, count, 0);
    const internal = ev.metaCount > 0 && !this.hasKey(chunk, entries, count, INTERNAL_KEY);
    const out = this.out;
    out.byte(0x7b);
    let comma = false;
    if (dateKey !== null && dateKeyJson !== null && !this.hasKey(chunk, entries, count, dateKey) && !(internal && INTERNAL_KEY.equals(dateKey))) {
      out.raw(dateKeyJson);
      this.date(ev, dateFormat);
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

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** Days since 1970-01-01 → [year, month, day] (proleptic Gregorian, H. Hinnant's civil_from_days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/** `strftime("%Y-%m-%d<sep>%H:%M:%S", gmtime(sec))` + `.%06llu` of nsec/1000 (microseconds, truncated). */
function formatUtc(sec: number, nsec: number, separator: string): string {
  const micros = String(Math.floor(nsec / 1000)).padStart(6, '0');
  if (sec === utcCache.sec && separator === utcCache.separator) return `${utcCache.text}.${micros}`;
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  const [year, month, day] = civilFromDays(days);
  const time = `${pad2(Math.floor(rem / 3600))}:${pad2(Math.floor(rem / 60) % 60)}:${pad2(rem % 60)}`;
  const text = `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}${separator}${time}`;
  utcCache = { sec, separator, text };
  return `${text}.${micros}`;
}

/** Records of a chunk mostly share their second: keep the last formatted one. */
let utcCache = { sec: Number.NaN, separator: '', text: '' };

/** Half an ulp of a double in [2^e, 2^(e+1)), in nanoseconds, for e = 0..31. */
const HALF_ULP_NS = Array.from({ length: 32 }, (_, e) => 2 ** (e - 53) * 1e9);
const NS_PER_DIGIT = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

/**
 * The `double` date, i.e. `%.16g` of d = sec + nsec/1e9, usually without formatting d. For sec with k >= 8
 * digits, %.16g keeps 16 - k decimals; d is within half an ulp of the exact time (119 ns for sec in
 * [2^30, 2^31)), so unless the exact time lies that close to a rounding boundary (then: the general path),
 * rounding the exact time gives the digits rounding d gives.
 */
function writeDateDouble(out: ByteSink, sec: number, nsec: number): void {
  const d = sec + nsec / 1e9;
  if (sec >= 1e7 && sec < 4294967296 && nsec >= 0 && nsec < 1e9 && !Number.isInteger(d)) {
    const decimals = sec >= 1e9 ? 6 : sec >= 1e8 ? 7 : 8;
    const unit = NS_PER_DIGIT[9 - decimals]!;
    const q = Math.floor(nsec / unit);
    const distance = nsec - q * unit - unit / 2;
    if (Math.abs(distance) > HALF_ULP_NS[31 - Math.clz32(sec)]! + 1e-3) {
      const fraction = distance > 0 ? q + 1 : q;
      if (fraction === NS_PER_DIGIT[decimals]) {
        out.uint(sec + 1); // rounds up to the next second: %.16g then prints no decimals
        return;
      }
      out.uint(sec);
      if (fraction > 0) {
        let digits = String(fraction).padStart(decimals, '0');
        let end = digits.length;
        while (digits.charCodeAt(end - 1) === 0x30) end--;
        if (end < digits.length) digits = digits.slice(0, end);
        out.byte(0x2e);
        out.ascii(digits);
      }
      return;
    }
  }
  writeDouble(out, d);
}

/** The date value per `json_date_format` (flb_pack.c:1386-1420); epoch values are uint64 as in C. */
function dateValue(ev: EventView, format: DateFormat): string {
  const { sec, nsec } = ev;
  switch (format) {
    case 'double':
      return formatDouble(sec + nsec / 1e9); // flb_time_to_double
    case 'epoch':
      return sec >= 0 ? String(sec) : BigInt.asUintN(64, BigInt(sec)).toString();
    case 'epoch_ms': {
      const ms = Math.floor(nsec / 1e6);
      return sec >= 0 ? String(sec * 1000 + ms) : BigInt.asUintN(64, BigInt(sec) * 1000n + BigInt(ms)).toString();
    }
    case 'iso8601':
      return `"${formatUtc(sec, nsec, 'T')}Z"`;
    case 'java_sql_timestamp':
      return `"${formatUtc(sec, nsec, ' ')}"`;
  }
}

/**
 * Encodes a chunk as `json` (`[{..},{..}]`), `json_stream` (`{..}{..}`) or `json_lines` (`{..}\n{..}\n`).
 * Throws `WSBIT_CODEC_MALFORMED` on a malformed chunk. A record nested deeper than MAX_NESTING_DEPTH is
 * left out and listed in `rejected`, so it costs only itself. The result may be a view of a larger
 * buffer; with a `pool`, it is a buffer from the pool, to be given back once it has been sent.
 */
export function chunkToJson(chunk: Buffer, options: JsonOptions, pool?: BufferPool, rejected: RejectedRecord[] = []): Buffer {
  const sink = new ByteSink(chunk.length + (chunk.length >> 1) + 64, pool);
  const encoder = new JsonEncoder(sink, options.escapeUnicode, options.convertNanToNull ?? false);
  const out = encoder.out;
  let dateKey: Buffer | null = null;
  let dateKeyJson: Buffer | null = null;
  if (options.dateKey !== null) {
    dateKey = Buffer.from(options.dateKey, 'utf8');
    const sink = new ByteSink(dateKey.length * 6 + 4);
    sink.byte(0x22);
    writeJsonString(sink, dateKey, 0, dateKey.length, options.escapeUnicode);
    sink.ascii('":');
    dateKeyJson = Buffer.from(sink.bytes());
  }
  const isArray = options.format === 'json';
  const isLines = options.format === 'json_lines';
  if (isArray) out.byte(0x5b);
  let written = 0;
  let index = 0;
  forEachEvent(chunk, (ev) => {
    if (isGroupMarker(ev)) return;
    const tooDeep = eventTooDeep(chunk, ev);
    if (tooDeep !== null) {
      rejected.push({ index: index++, reason: tooDeep });
      return;
    }
    index++;
    if (isArray && written > 0) out.byte(0x2c);
    encoder.record(chunk, ev, dateKey, dateKeyJson, options.dateFormat);
    if (isLines) out.byte(0x0a);
    written++;
  });
  if (isArray) out.byte(0x5d);
  return out.bytes();
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
