/**
 * JSON string escaping, byte for byte as Fluent Bit 5.1.1's `flb_utils_write_str` (src/flb_utils.c) writes
 * strings into its JSON formats: `flb_utils_write_str_escaped` with SERVICE `json.escape_unicode` on (the
 * default), `flb_utils_write_str_raw` with it off.
 */
import type { ByteSink } from './byte-sink.js';
import { copyPlainJsonText, WORD_COPY_MIN_BYTES } from './word-copy.js';

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
function writeJsonString(sink: ByteSink, src: Uint8Array, start: number, end: number, escapeUnicode: boolean): void {
  sink.ensure((end - start) * 6);
  const out = sink.buf;
  let p = sink.pos;
  let i = start;
  while (i < end) {
    // Runs of plain ASCII are the common case: byte by byte at first, since between escapes (a JSON
    // text inside a string) they are short, then a word at a time once the run is long.
    const head = Math.min(end, i + WORD_COPY_MIN_BYTES);
    while (i < head && PLAIN[src[i]!] === 1) out[p++] = src[i++]!;
    if (i === head && i < end) {
      const to = copyPlainJsonText(src, i, end, out, p);
      i += to - p;
      p = to;
    }
    if (i >= end) break;
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

/** Writes `"<escaped bytes>"` for the string `src[start, end)`, as writeJsonString escapes it. */
export function writeQuotedJsonString(out: ByteSink, src: Uint8Array, start: number, end: number, escapeUnicode: boolean): void {
  out.ensure((end - start) * 6 + 2);
  const b = out.buf;
  let p = out.pos;
  b[p++] = 0x22;
  let i = start;
  // Keys and short values: a plain byte loop, without the word loop's set-up.
  if (end - start < WORD_COPY_MIN_BYTES) {
    while (i < end && PLAIN[src[i]!] === 1) b[p++] = src[i++]!;
    if (i === end) {
      b[p++] = 0x22;
      out.pos = p;
      return;
    }
  }
  out.pos = p;
  // The ensure above covers the worst case, so writeJsonString writes into the same buffer.
  writeJsonString(out, src, i, end, escapeUnicode);
  b[out.pos++] = 0x22;
}
