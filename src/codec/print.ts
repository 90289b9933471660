/**
 * Fluent Bit's `stdout` output in its default (msgpack) format, and the C printf number formats that Fluent
 * Bit's encoders rely on.
 *
 * stdout prints each event as `[%zd] %s: [[%d.%09lu, <metadata>], <body>]` (`plugins/out_stdout/stdout.c`),
 * numbering events from 0 within the chunk, with msgpack-c's `msgpack_object_print` for the maps: `{"k"=>v,
 * "k2"=>v2}`, arrays `[1, 2]`, strings quoted with their raw bytes, bin/ext bytes as `\xNN`, floats `%f`.
 */
import { WsbitError } from '../base/errors.js';
import { CODEC_MALFORMED, forEachDeliverableRecord, skipValue, type RejectedRecord } from './event.js';
import { MAX_NESTING_DEPTH } from './limits.js';
import { MsgpackWriter } from './msgpack-writer.js';

/**
 * A backstop for the encoders that recurse: records are checked against MAX_NESTING_DEPTH before they
 * are encoded (forEachDeliverableRecord), and the JSON encoder writes metadata two levels down (`__internal__`,
 * `log_metadata`), so nothing that passed the check comes near this.
 */
export const MAX_PRINT_DEPTH = MAX_NESTING_DEPTH + 2;

// ---------------------------------------------------------------------------------------------------------
// C printf number formats (glibc semantics: exact decimal expansion, ties rounded half to even).

/** Mantissa and exponent of a finite positive double: a = m * 2^e exactly. */
function decompose(a: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = BigInt(hi & 0xfffff) * 4294967296n + BigInt(lo);
  return biased === 0 ? { m: fraction, e: -1074 } : { m: fraction + (1n << 52n), e: biased - 1075 };
}

/** True when the finite positive double `a` equals `digits` × 10^`exp10` exactly. */
function equalsDecimal(a: number, digits: string, exp10: number): boolean {
  const { m, e } = decompose(a);
  let left = m;
  let right = BigInt(digits);
  if (e >= 0) left <<= BigInt(e);
  else right <<= BigInt(-e);
  if (exp10 >= 0) right *= 10n ** BigInt(exp10);
  else left *= 10n ** BigInt(-exp10);
  return left === right;
}

/**
 * `precision` significant digits of the finite positive `a` and its decimal exponent, rounded like glibc.
 * JS's toExponential rounds exact ties up; glibc rounds them to even. A tie needs the exact value to end at
 * digit precision+1 with a 5. A double k/2^j (k odd) has exactly j fraction digits, so its last digit sits at
 * 10^-j; a tie therefore needs j <= precision - exp, i.e. a × 2^(precision+1-exp) integral (one of slack).
 */
function significantDigits(a: number, precision: number): { digits: string; exp: number } {
  const s = a.toExponential(precision - 1);
  const ePos = s.indexOf('e');
  let digits = s.slice(0, ePos).replace('.', '');
  let exp = Number(s.slice(ePos + 1));
  if (Number.isInteger(a * 2 ** Math.max(0, precision + 1 - exp))) {
    const t = a.toExponential(precision);
    const tePos = t.indexOf('e');
    const longer = t.slice(0, tePos).replace('.', '');
    const tExp = Number(t.slice(tePos + 1));
    if (longer.endsWith('5') && equalsDecimal(a, longer, tExp - precision)) {
      digits = longer.slice(0, precision);
      exp = tExp;
      if ((digits.charCodeAt(precision - 1) - 48) % 2 === 1) {
        const bumped = (BigInt(digits) + 1n).toString();
        if (bumped.length > precision) {
          digits = bumped.slice(0, precision);
          exp++;
        } else {
          digits = bumped;
        }
      }
    }
  }
  return { digits, exp };
}

/** 2^k for k in 0..1100, so the tie filter below does not call Math.pow. */
const POW2 = new Float64Array(1101).map((_, k) => 2 ** k);

function stripZeros(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x30) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 0x2e) end--;
  return end === text.length ? text : text.slice(0, end);
}

function exponential(sign: string, digits: string, exp: number): string {
  const m = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
  const abs = exp < 0 ? -exp : exp;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
}

/** %g layout from exact digits (the slow path, used when a tie is possible). */
function layoutG(sign: string, digits: string, exp: number, precision: number): string {
  if (exp < -4 || exp >= precision) return exponential(sign, digits, exp);
  if (exp >= 0) return sign + stripZeros(`${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`);
  return sign + stripZeros(`0.${'0'.repeat(-exp - 1)}${digits}`);
}

/** C's `%.16g` (or `%.<precision>g`): `0.1`, `1e-05`, `1e+20`, `1.797693134862316e+308`, `nan`, `-inf`. */
export function formatG(x: number, precision = 16): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const a = x < 0 ? -x : x;
  // toPrecision has C's digits (exact value, correctly rounded) except on exact ties; its layout differs
  // from %g only in where it switches to exponent form (JS: exp < -6; C: exp < -4) and in trailing zeros.
  const s = a.toPrecision(precision);
  const ePos = s.indexOf('e');
  let exp: number;
  if (ePos >= 0) {
    exp = Number(s.slice(ePos + 1));
  } else if (s.charCodeAt(0) === 0x30) {
    let zeros = 0;
    while (s.charCodeAt(2 + zeros) === 0x30) zeros++;
    exp = -(zeros + 1);
  } else {
    const dot = s.indexOf('.');
    exp = (dot < 0 ? s.length : dot) - 1;
  }
  const shift = precision + 1 - exp;
  if (shift <= 0 || shift >= POW2.length || Number.isInteger(a * POW2[shift]!)) {
    const exact = significantDigits(a, precision);
    return layoutG(sign, exact.digits, exact.exp, precision);
  }
  if (ePos >= 0) return exponential(sign, s.slice(0, ePos).replace('.', ''), exp);
  if (exp < -4) return exponential(sign, s.slice(1 - exp), exp); // "0.0000ddd" → d.ddde-0N
  return sign + (s.indexOf('.') < 0 ? s : stripZeros(s));
}

/** C's `%f` (6 decimals): `0.100000`, `-0.000000`, `1e300` in full, `nan`, `inf`. */
export function formatF(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);
  if (a >= 2 ** 53) return `${sign}${BigInt(a).toString()}.000000`;
  if (Number.isInteger(a * 128)) {
    // At most 7 binary fraction digits: the exact value has at most 7 decimals, so a tie is possible and must
    // go to even as in glibc (toFixed would round 0.0078125 up to 0.007813; glibc prints 0.007812).
    const scaled = BigInt(a * 128) * 78125n; // a * 10^7, exact
    let q = scaled / 10n;
    const r = scaled % 10n;
    if (r > 5n || (r === 5n && (q & 1n) === 1n)) q++;
    const text = q.toString().padStart(7, '0');
    return `${sign}${text.slice(0, -6)}.${text.slice(-6)}`;
  }
  return x.toFixed(6); // not a tie, so JS rounding agrees with glibc; keeps the sign of values rounding to 0
}

/** Unsigned decimal of a 64-bit two's complement value given as two 32-bit halves (C's `%llu`). */
export function uint64ToString(hi: number, lo: number): string {
  return hi < 0x200000 ? String(hi * 4294967296 + lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** Signed decimal of a 64-bit value given as a signed high half and an unsigned low half (C's `%lld`). */
export function int64ToString(hi: number, lo: number): string {
  return hi >= -0x200000 && hi < 0x200000 ? String(hi * 4294967296 + lo) : ((BigInt(hi) << 32n) + BigInt(lo)).toString();
}

/** A float at `pos` (ca or cb) widened to a double, and whether its sign bit is set (glibc prints `-nan`). */
export function readFloat(buf: Buffer, pos: number): { value: number; negative: boolean } {
  const value = buf[pos] === 0xca ? buf.readFloatBE(pos + 1) : buf.readDoubleBE(pos + 1);
  return { value, negative: (buf[pos + 1]! & 0x80) !== 0 };
}

// ---------------------------------------------------------------------------------------------------------
// msgpack_object_print

function ascii(out: MsgpackWriter, text: string): void {
  out.ensure(text.length);
  for (let i = 0; i < text.length; i++) out.byte(text.charCodeAt(i));
}

/** Writes `text` and returns `next`, to keep the type switch below one line per type. */
function emit(out: MsgpackWriter, text: string, next: number): number {
  ascii(out, text);
  return next;
}

const HEX = '0123456789abcdef';

/** msgpack-c's `msgpack_object_bin_print`: `"` → `\"`, printable ASCII as is, other bytes `\xNN`. */
function binPrint(out: MsgpackWriter, buf: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x22) ascii(out, '\\"');
    else if (c >= 0x20 && c < 0x7f) out.byte(c);
    else ascii(out, `\\x${HEX[c >> 4]}${HEX[c & 15]}`);
  }
}

function lengthAt(buf: Buffer, pos: number, width: number): number {
  return width === 1 ? buf[pos]! : width === 2 ? buf.readUInt16BE(pos) : buf.readUInt32BE(pos);
}

/** Prints the msgpack value at `pos` like `msgpack_object_print`; returns the offset after it. */
function printValue(out: MsgpackWriter, buf: Buffer, pos: number, depth: number): number {
  if (depth > MAX_PRINT_DEPTH) throw new WsbitError(CODEC_MALFORMED, `msgpack nesting deeper than ${MAX_PRINT_DEPTH}`);
  const b = buf[pos]!;
  if (b <= 0x7f) return emit(out, String(b), pos + 1);
  if (b >= 0xe0) return emit(out, String(b - 0x100), pos + 1);
  if (b <= 0x9f) {
    const isMap = b <= 0x8f;
    return printContainer(out, buf, pos + 1, b & 0x0f, isMap, depth);
  }
  if (b <= 0xbf) return printStr(out, buf, pos + 1, b & 0x1f);
  switch (b) {
    case 0xc0: return emit(out, 'nil', pos + 1);
    case 0xc2: return emit(out, 'false', pos + 1);
    case 0xc3: return emit(out, 'true', pos + 1);
    case 0xca: case 0xcb: {
      const f = readFloat(buf, pos);
      return emit(out, Number.isNaN(f.value) && f.negative ? '-nan' : formatF(f.value), pos + (b === 0xca ? 5 : 9));
    }
    case 0xcc: return emit(out, String(buf[pos + 1]), pos + 2);
    case 0xcd: return emit(out, String(buf.readUInt16BE(pos + 1)), pos + 3);
    case 0xce: return emit(out, String(buf.readUInt32BE(pos + 1)), pos + 5);
    case 0xcf: return emit(out, uint64ToString(buf.readUInt32BE(pos + 1), buf.readUInt32BE(pos + 5)), pos + 9);
    case 0xd0: return emit(out, String(buf.readInt8(pos + 1)), pos + 2);
    case 0xd1: return emit(out, String(buf.readInt16BE(pos + 1)), pos + 3);
    case 0xd2: return emit(out, String(buf.readInt32BE(pos + 1)), pos + 5);
    case 0xd3: return emit(out, int64ToString(buf.readInt32BE(pos + 1), buf.readUInt32BE(pos + 5)), pos + 9);
    case 0xd9: case 0xda: case 0xdb: {
      const width = 1 << (b - 0xd9);
      return printStr(out, buf, pos + 1 + width, lengthAt(buf, pos + 1, width));
    }
    case 0xc4: case 0xc5: case 0xc6: {
      const width = 1 << (b - 0xc4);
      const start = pos + 1 + width;
      const end = start + lengthAt(buf, pos + 1, width);
      out.byte(0x22);
      binPrint(out, buf, start, end);
      out.byte(0x22);
      return end;
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      const width = b === 0xdc || b === 0xde ? 2 : 4;
      return printContainer(out, buf, pos + 1 + width, lengthAt(buf, pos + 1, width), b >= 0xde, depth);
    }
    default: {
      // ext: fixext d4..d8 or ext 8/16/32 (c7..c9)
      const end = skipValue(buf, pos);
      const dataStart = b >= 0xd4 ? pos + 2 : pos + 2 + (1 << (b - 0xc7));
      ascii(out, `(ext: ${buf.readInt8(dataStart - 1)})"`);
      binPrint(out, buf, dataStart, end);
      out.byte(0x22);
      return end;
    }
  }
}

function printStr(out: MsgpackWriter, buf: Buffer, start: number, length: number): number {
  out.byte(0x22);
  out.raw(buf, start, start + length);
  out.byte(0x22);
  return start + length;
}

function printContainer(out: MsgpackWriter, buf: Buffer, pos: number, count: number, isMap: boolean, depth: number): number {
  out.byte(isMap ? 0x7b : 0x5b);
  let p = pos;
  for (let i = 0; i < count; i++) {
    if (i > 0) ascii(out, ', ');
    p = printValue(out, buf, p, depth + 1);
    if (isMap) {
      ascii(out, '=>');
      p = printValue(out, buf, p, depth + 1);
    }
  }
  out.byte(isMap ? 0x7d : 0x5d);
  return p;
}

/**
 * The exact bytes Fluent Bit's stdout output prints for a chunk in its default format, one line per event.
 * Strings are printed raw (msgpack-c does not escape them), so this is bytes, not necessarily UTF-8.
 * A record nested deeper than MAX_NESTING_DEPTH is left out and listed in `rejected`.
 */
export function printChunkBytes(chunk: Buffer, tag: string, rejected: RejectedRecord[] = []): Buffer {
  const out = new MsgpackWriter(chunk.length * 2 + 64);
  const tagBytes = Buffer.from(tag, 'utf8');
  let printed = 0;
  forEachDeliverableRecord(chunk, rejected, (ev) => {
    ascii(out, `[${printed++}] `);
    out.raw(tagBytes);
    // `%d.%09lu` with the seconds cast to int32_t, as stdout.c does.
    ascii(out, `: [[${ev.sec | 0}.${String(ev.nsec).padStart(9, '0')}, `);
    if (ev.metaStart === ev.metaEnd) ascii(out, '{}');
    else printValue(out, chunk, ev.metaStart, 0);
    ascii(out, '], ');
    printValue(out, chunk, ev.bodyStart, 0);
    ascii(out, ']\n');
    return null;
  });
  return out.bytes();
}

/** `printChunkBytes` decoded as UTF-8 (invalid byte sequences become U+FFFD). */
export function printChunk(chunk: Buffer, tag: string): string {
  return printChunkBytes(chunk, tag).toString('utf8');
}
