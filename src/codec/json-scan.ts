/**
 * JSON text → msgpack bytes in one pass, without building JS values, the way Fluent Bit packs JSON:
 * - objects keep their key order and duplicate keys (a JS object would merge them);
 * - an integer literal (no `.`, `e`, `E`) becomes a msgpack int, exact over the whole int64/uint64 range
 *   (`JSON.parse` would round 18446744073709551615); beyond that range it becomes a float64, as both of Fluent
 *   Bit's JSON backends do (jsmn: strtoull ERANGE → strtod; yyjson: big integers are read as reals);
 * - any literal with a fraction or an exponent becomes a float64, so `3.0` stays a float;
 * - strings are unescaped, `\uXXXX` surrogate pairs become one 4-byte UTF-8 sequence.
 * Containers get msgpack-c's minimal headers (fixmap/map16/map32), patched once their size is known.
 *
 * The scanner reads a stream of concatenated values (`{"a":1}{"b":2}`, or separated by whitespace), as the tcp
 * input receives them, and says 'incomplete' when a value is cut at the end of the buffer. It is iterative
 * (explicit stack), never throws on any input, and rolls the writer back on 'incomplete' and 'error'.
 */
import { WsbitError } from '../base/errors.js';
import { MAX_NESTING_DEPTH } from './limits.js';
import { MsgpackWriter } from './msgpack-writer.js';
import { copyUnquotedJsonText } from './word-copy.js';

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'bool' | 'null';

export type ScanResult =
  | { status: 'ok'; end: number; kind: JsonKind }
  | { status: 'incomplete' }
  | { status: 'error'; message: string; offset: number; tooDeep: boolean };

export interface ScanOptions {
  /** Stop reading at this offset (default: the buffer's length). */
  end?: number;
  /** True when no more bytes will follow, so a number may end at `end` (default false: streams). */
  eof?: boolean;
  /** Deepest nesting accepted (default MAX_NESTING_DEPTH). */
  maxDepth?: number;
}

/** The shared record nesting limit (limits.ts); the stack grows past it for callers that ask for more. */
export const DEFAULT_MAX_DEPTH = MAX_NESTING_DEPTH;

/**
 * The nesting to allow for a JSON text that holds records: MAX_NESTING_DEPTH for an object, one level
 * more for a top-level array, whose elements are the records. `buf[offset]` is the text's first byte.
 */
export function recordsMaxDepth(buf: Uint8Array, offset: number): number {
  return buf[skipJsonWhitespace(buf, offset)] === 0x5b ? MAX_NESTING_DEPTH + 1 : MAX_NESTING_DEPTH;
}

/**
 * Past this many bytes a string's closing quote is looked for with native searches (see scanString): a
 * Buffer search and copy cost about 150 ns before they start, the word copy about 0.5 ns a byte.
 */
const LONG_STRING_BYTES = 127;

// Sentinels returned by the helpers below; the error text lives in `errorMessage`/`errorOffset`.
const INCOMPLETE = -1;
const ERROR = -2;
let errorMessage = '';
let errorOffset = 0;
let errorTooDeep = false;

function fail(message: string, offset: number, tooDeep = false): number {
  errorMessage = message;
  errorOffset = offset;
  errorTooDeep = tooDeep;
  return ERROR;
}

function describe(buf: Uint8Array, at: number): string {
  const c = buf[at]!;
  const shown = c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
  return `unexpected character ${shown} at byte ${at}`;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Offset of the first non-whitespace byte at or after `offset`, or `end`. */
export function skipJsonWhitespace(buf: Uint8Array, offset: number, end: number = buf.length): number {
  let i = offset;
  while (i < end && isWhitespace(buf[i]!)) i++;
  return i;
}

// Container stack, shared by all calls (the scanner is synchronous and not re-entrant).
let stackHeader = new Int32Array(64);
let stackCount = new Int32Array(64);
let stackIsObject = new Uint8Array(64);

function growStack(): void {
  const size = stackHeader.length * 2;
  const h = new Int32Array(size);
  const c = new Int32Array(size);
  const o = new Uint8Array(size);
  h.set(stackHeader);
  c.set(stackCount);
  o.set(stackIsObject);
  stackHeader = h;
  stackCount = c;
  stackIsObject = o;
}

const enum Mode {
  Value,
  Key,
  AfterValue,
}

// One answer object for every 'ok' and 'incomplete' scan: inputs scan one value per record, and a fresh
// object each time was a tenth of the JSON path's garbage (issue 23).
const okResult: { status: 'ok'; end: number; kind: JsonKind } = { status: 'ok', end: 0, kind: 'null' };
const incompleteResult: ScanResult = Object.freeze({ status: 'incomplete' });

/**
 * Scans one JSON value starting at `offset` (leading whitespace is skipped) and appends its msgpack form to
 * `writer`. On 'ok', `end` is the offset just past the value. On 'incomplete' or 'error' nothing is appended.
 * An 'ok' answer is the same object each time: read it before the next scan.
 */
export function scanJsonValue(buf: Uint8Array, offset: number, writer: MsgpackWriter, options: ScanOptions = {}): ScanResult {
  const end = options.end ?? buf.length;
  const eof = options.eof ?? false;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const mark = writer.length;
  let i = skipJsonWhitespace(buf, offset, end);
  if (i >= end) return incompleteResult;
  const kind = kindOf(buf[i]!);
  let depth = 0;
  let mode = Mode.Value;
  let r = 0;

  for (;;) {
    if (mode === Mode.AfterValue) {
      if (depth === 0) {
        okResult.end = i;
        okResult.kind = kind ?? 'null';
        return okResult;
      }
      stackCount[depth - 1]!++;
      i = skipJsonWhitespace(buf, i, end);
      if (i >= end) { r = INCOMPLETE; break; }
      const c = buf[i]!;
      const isObject = stackIsObject[depth - 1] === 1;
      if (c === 0x2c /* , */) {
        i++;
        mode = isObject ? Mode.Key : Mode.Value;
      } else if (c === (isObject ? 0x7d /* } */ : 0x5d /* ] */)) {
        i++;
        depth--;
        if (isObject) writer.patchMapHeader(stackHeader[depth]!, stackCount[depth]!);
        else writer.patchArrayHeader(stackHeader[depth]!, stackCount[depth]!);
      } else {
        r = fail(`${describe(buf, i)}, expected ',' or '${isObject ? '}' : ']'}'`, i);
        break;
      }
      continue;
    }

    i = skipJsonWhitespace(buf, i, end);
    if (i >= end) { r = INCOMPLETE; break; }
    const c = buf[i]!;

    if (mode === Mode.Key) {
      if (c !== 0x22) { r = fail(`${describe(buf, i)}, expected a string key`, i); break; }
      r = scanString(buf, i, end, writer);
      if (r < 0) break;
      i = skipJsonWhitespace(buf, r, end);
      if (i >= end) { r = INCOMPLETE; break; }
      if (buf[i] !== 0x3a /* : */) { r = fail(`${describe(buf, i)}, expected ':'`, i); break; }
      i++;
      mode = Mode.Value;
      continue;
    }

    // Mode.Value
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= maxDepth) { r = fail(`nesting deeper than ${maxDepth} levels at byte ${i}`, i, true); break; }
      if (depth === stackHeader.length) growStack();
      const isObject = c === 0x7b;
      stackHeader[depth] = writer.reserveHeader();
      stackCount[depth] = 0;
      stackIsObject[depth] = isObject ? 1 : 0;
      depth++;
      i = skipJsonWhitespace(buf, i + 1, end);
      if (i >= end) { r = INCOMPLETE; break; }
      if (buf[i] === (isObject ? 0x7d : 0x5d)) {
        i++;
        depth--;
        if (isObject) writer.patchMapHeader(stackHeader[depth]!, 0);
        else writer.patchArrayHeader(stackHeader[depth]!, 0);
        mode = Mode.AfterValue;
      } else {
        mode = isObject ? Mode.Key : Mode.Value;
      }
      continue;
    }
    if (c === 0x22) r = scanString(buf, i, end, writer);
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) r = scanNumber(buf, i, end, eof && depth === 0, writer);
    else if (c === 0x74) r = scanLiteral(buf, i, end, TRUE, writer, 0xc3);
    else if (c === 0x66) r = scanLiteral(buf, i, end, FALSE, writer, 0xc2);
    else if (c === 0x6e) r = scanLiteral(buf, i, end, NULL, writer, 0xc0);
    else r = fail(`${describe(buf, i)}, expected a JSON value`, i);
    if (r < 0) break;
    i = r;
    mode = Mode.AfterValue;
  }

  writer.truncate(mark);
  if (r === INCOMPLETE) return incompleteResult;
  return { status: 'error', message: errorMessage, offset: errorOffset, tooDeep: errorTooDeep };
}

function kindOf(c: number): JsonKind | undefined {
  if (c === 0x7b) return 'object';
  if (c === 0x5b) return 'array';
  if (c === 0x22) return 'string';
  if (c === 0x74 || c === 0x66) return 'bool';
  if (c === 0x6e) return 'null';
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return 'number';
  return undefined;
}

const TRUE = Uint8Array.from(Buffer.from('true'));
const FALSE = Uint8Array.from(Buffer.from('false'));
const NULL = Uint8Array.from(Buffer.from('null'));

function scanLiteral(buf: Uint8Array, i: number, end: number, word: Uint8Array, writer: MsgpackWriter, byte: number): number {
  for (let k = 0; k < word.length; k++) {
    if (i + k >= end) return INCOMPLETE;
    if (buf[i + k] !== word[k]) return fail(describe(buf, i + k), i + k);
  }
  writer.byte(byte);
  return i + word.length;
}

/** Scans the string whose opening quote is at `i`; returns the offset after the closing quote. */
function scanString(buf: Uint8Array, i: number, end: number, writer: MsgpackWriter): number {
  const start = i + 1;
  // Fast path: most strings have no escapes, so their bytes are the msgpack body as they are. They are
  // copied while the closing quote is looked for, behind a header guessed from the length so far.
  writer.ensure(Math.min(end - start, LONG_STRING_BYTES) + 2);
  const out = writer.buf;
  const header = writer.pos;
  let p = header + 1;
  let j = start;
  const shortEnd = Math.min(end, start + 32);
  while (j < shortEnd) {
    const c = buf[j]!;
    if (c === 0x22) {
      out[header] = 0xa0 | (j - start); // fixstr
      writer.pos = p;
      return j + 1;
    }
    if (c === 0x5c) break;
    out[p++] = c;
    j++;
  }
  if (j === shortEnd) {
    if (j >= end) return INCOMPLETE;
    // At least 32 bytes: a str8 (2-byte header), copied a word at a time up to LONG_STRING_BYTES.
    const copyEnd = Math.min(end, start + LONG_STRING_BYTES);
    p = copyUnquotedJsonText(buf, start, copyEnd, out, header + 2);
    j = start + p - header - 2;
    if (j < copyEnd && buf[j] === 0x22) {
      out[header] = 0xd9;
      out[header + 1] = j - start;
      writer.pos = p;
      return j + 1;
    }
    if (j === copyEnd) {
      if (j >= end) return INCOMPLETE;
      // Longer still: from here a native search and one copy cost less than the word loop would.
      const quote = buf.indexOf(0x22, j);
      if (quote < 0 || quote >= end) return INCOMPLETE;
      // The copy is searched for `\` rather than the input: with a `\` written just past it, the search
      // needs no view of the input to stop at the quote (a view per string was an allocation, issue 23).
      writer.ensure(quote - start + 6);
      writer.strUtf8(buf, start, quote);
      writer.buf[writer.pos] = 0x5c;
      const backslash = writer.buf.indexOf(0x5c, writer.pos - (quote - j));
      if (backslash === writer.pos) return quote + 1;
      j += backslash - (writer.pos - (quote - j));
      writer.pos = header;
    }
  }
  // Find the closing quote, then unescape: the result is never longer than the raw span.
  let close = j;
  for (;;) {
    if (close >= end) return INCOMPLETE;
    const c = buf[close]!;
    if (c === 0x22) break;
    close += c === 0x5c ? 2 : 1;
  }
  const rawLength = close - start;
  writer.ensure(5 + rawLength);
  writer.strHeader(rawLength);
  const bodyStart = writer.length;
  writer.raw(buf, start, j);
  while (j < close) {
    if (buf[j] !== 0x5c) {
      let k = j + 1;
      while (k < close && buf[k] !== 0x5c) k++;
      writer.raw(buf, j, k);
      j = k;
      continue;
    }
    const e = buf[j + 1]!;
    const simple = SIMPLE_ESCAPES[e] ?? 0;
    if (simple !== 0) {
      writer.byte(simple);
      j += 2;
      continue;
    }
    if (e !== 0x75 /* u */) return fail(`invalid escape '\\${String.fromCharCode(e)}' at byte ${j}`, j);
    let code = readHex4(buf, j + 2, close);
    if (code < 0) return fail(`invalid \\u escape at byte ${j}`, j);
    j += 6;
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = buf[j] === 0x5c && buf[j + 1] === 0x75 ? readHex4(buf, j + 2, close) : -1;
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        j += 6;
      } else {
        code = 0xfffd; // a lone high surrogate cannot be UTF-8; keep the text valid
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      code = 0xfffd;
    }
    writeUtf8(writer, code);
  }
  writer.patchStrHeader(header, rawLength, writer.length - bodyStart);
  return close + 1;
}

const SIMPLE_ESCAPES: Record<number, number> = {
  0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09,
};

function readHex4(buf: Uint8Array, at: number, end: number): number {
  if (at + 4 > end) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = buf[at + k]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

function writeUtf8(writer: MsgpackWriter, code: number): void {
  if (code < 0x80) {
    writer.byte(code);
  } else if (code < 0x800) {
    writer.byte(0xc0 | (code >> 6));
    writer.byte(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    writer.byte(0xe0 | (code >> 12));
    writer.byte(0x80 | ((code >> 6) & 0x3f));
    writer.byte(0x80 | (code & 0x3f));
  } else {
    writer.byte(0xf0 | (code >> 18));
    writer.byte(0x80 | ((code >> 12) & 0x3f));
    writer.byte(0x80 | ((code >> 6) & 0x3f));
    writer.byte(0x80 | (code & 0x3f));
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/**
 * Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. A number that touches `end` is 'incomplete' unless
 * `mayEndAtEnd` (top level at EOF), since more digits could follow in the next read.
 */
function scanNumber(buf: Uint8Array, i: number, end: number, mayEndAtEnd: boolean, writer: MsgpackWriter): number {
  const start = i;
  let j = i;
  if (buf[j] === 0x2d) j++;
  if (j >= end) return mayEndAtEnd ? fail(`number without digits at byte ${start}`, start) : INCOMPLETE;
  if (!isDigit(buf[j])) return fail(`${describe(buf, j)}, expected a digit`, j);
  const intStart = j;
  if (buf[j] === 0x30) {
    j++;
    if (j < end && isDigit(buf[j])) return fail(`leading zero in number at byte ${start}`, start);
  } else {
    while (j < end && isDigit(buf[j])) j++;
  }
  const intEnd = j;
  let isFloat = false;
  let fracEnd = j;
  if (j < end && buf[j] === 0x2e /* . */) {
    isFloat = true;
    j++;
    if (j < end && !isDigit(buf[j])) return fail(`${describe(buf, j)}, expected a digit after '.'`, j);
    while (j < end && isDigit(buf[j])) j++;
    fracEnd = j;
  }
  if (j < end && (buf[j] === 0x65 || buf[j] === 0x45)) {
    isFloat = true;
    j++;
    if (j < end && (buf[j] === 0x2b || buf[j] === 0x2d)) j++;
    if (j < end && !isDigit(buf[j])) return fail(`${describe(buf, j)}, expected a digit in the exponent`, j);
    while (j < end && isDigit(buf[j])) j++;
  }
  if (j >= end) {
    if (!mayEndAtEnd) return INCOMPLETE;
    if (!isDigit(buf[j - 1])) return fail(`number cut short at byte ${j}`, j);
  }
  if (isFloat) {
    const fast = fastDecimal(buf, intStart, intEnd, fracEnd, j);
    const value = Number.isNaN(fast) ? Number(latin1(buf, intStart, j)) : fast;
    writer.float64(start === intStart ? value : -value);
  } else if (intEnd - intStart <= 15) {
    let v = 0;
    for (let k = intStart; k < intEnd; k++) v = v * 10 + (buf[k]! - 0x30);
    if (start === intStart) writer.uint(v);
    else writer.int(-v);
  } else {
    const text = latin1(buf, start, j);
    const big = BigInt(text);
    if (big >= -0x8000000000000000n && big <= 0xffffffffffffffffn) writer.int(big);
    else writer.float64(Number(text));
  }
  return j;
}

/** 10^0 … 10^22: every one is exactly representable as a double. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * The magnitude of a decimal literal (digits [intStart, intEnd), fraction digits up to fracEnd, exponent after
 * that up to `end`) by Clinger's fast path: with at most 15 significant digits (< 2^53) and |exponent| <= 22,
 * one IEEE multiplication or division of two exact values is correctly rounded, i.e. equal to strtod's
 * result. Returns NaN when the literal needs the general (string) conversion.
 */
function fastDecimal(buf: Uint8Array, intStart: number, intEnd: number, fracEnd: number, end: number): number {
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  for (let k = intStart; k < fracEnd; k++) {
    const c = buf[k]!;
    if (c === 0x2e) continue;
    if (k > intEnd) scale--;
    if (mantissa === 0 && c === 0x30) continue; // leading zeros are not significant
    mantissa = mantissa * 10 + (c - 0x30);
    if (++digits > 15) return Number.NaN;
  }
  if (fracEnd < end) {
    let k = fracEnd + 1; // past 'e'/'E'
    const negative = buf[k] === 0x2d;
    if (negative || buf[k] === 0x2b) k++;
    let exponent = 0;
    for (; k < end; k++) {
      exponent = exponent * 10 + (buf[k]! - 0x30);
      if (exponent > 400) return Number.NaN;
    }
    scale += negative ? -exponent : exponent;
  }
  if (scale === 0 || mantissa === 0) return mantissa;
  if (scale > 0 && scale <= 22) return mantissa * POW10[scale]!;
  if (scale < 0 && scale >= -22) return mantissa / POW10[-scale]!;
  return Number.NaN;
}

/** The ASCII text of a number literal (at most a few dozen bytes). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let k = start; k < end; k++) text += String.fromCharCode(buf[k]!);
  return text;
}

/**
 * Converts a complete JSON text (a config value such as the dummy input's `dummy` key) to msgpack bytes.
 * Throws `WSBIT_JSON_INVALID` with a message naming the offending byte.
 */
export function jsonTextToMsgpack(text: string | Uint8Array): Buffer {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const writer = new MsgpackWriter(Math.max(64, buf.length));
  const result = scanJsonValue(buf, 0, writer, { eof: true });
  if (result.status === 'incomplete') throw new WsbitError('WSBIT_JSON_INVALID', 'invalid JSON: unexpected end of input');
  if (result.status === 'error') throw new WsbitError('WSBIT_JSON_INVALID', `invalid JSON: ${result.message}`);
  const rest = skipJsonWhitespace(buf, result.end);
  if (rest < buf.length) throw new WsbitError('WSBIT_JSON_INVALID', `invalid JSON: ${describe(buf, rest)} after the value`);
  return writer.bytes();
}

