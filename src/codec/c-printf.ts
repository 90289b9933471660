/**
 * The C printf number formats Fluent Bit's encoders print with, as glibc prints them (exact decimal
 * expansion, ties rounded half to even): `%.16g` (msgpack2json's doubles), `%f` (msgpack-c's
 * `msgpack_object_print`, GELF), `%llu` / `%lld` of msgpack's 64-bit integers; and msgpack floats read
 * with their sign bit, which glibc prints as `-nan`.
 */
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
