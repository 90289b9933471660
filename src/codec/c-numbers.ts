/**
 * Numbers read from text the way Fluent Bit's C library calls read them (`strtoimax`, `strtoumax`,
 * `strtoull(..., 16)`, `atoll`, `atof`), for the parsers' `Types` and the type_converter filter: leading
 * C white space, a sign, the longest valid prefix, values clamped at the 64-bit limits.
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** C's `isspace` in the C locale. */
const C_SPACE = /^[ \t\n\v\f\r]*/;

/**
 * `strtoimax` (`unsigned` false) or `strtoumax` (true) in base 10 or 16 (with an optional 0x): no
 * digits gives 0; out of range clamps; strtoumax negates a '-' value modulo 2^64, as C does.
 */
export function strtoInteger(text: string, base: 10 | 16, unsigned: boolean): bigint {
  const body = text.replace(C_SPACE, '');
  const match = (base === 10 ? /^([+-]?)(\d+)/ : /^([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/).exec(body);
  if (match === null) return 0n;
  const magnitude = BigInt(base === 10 ? (match[2] ?? '0') : `0x${match[2] ?? '0'}`);
  const negative = match[1] === '-';
  if (unsigned) {
    if (magnitude > UINT64_MAX) return UINT64_MAX;
    return negative ? BigInt.asUintN(64, -magnitude) : magnitude;
  }
  const value = negative ? -magnitude : magnitude;
  return value > INT64_MAX ? INT64_MAX : value < INT64_MIN ? INT64_MIN : value;
}

/** `atoll` (glibc: `strtoll` base 10). */
export function atoll(text: string): bigint {
  return strtoInteger(text, 10, false);
}

/** `strtoull(text, NULL, 16)`. */
export function strtoullHex(text: string): bigint {
  return strtoInteger(text, 16, true);
}

/** `atof`: the longest prefix that reads as a number (decimal, a hex integer, inf, infinity, nan), else 0. */
export function atof(text: string): number {
  const body = text.replace(C_SPACE, '');
  const special = /^([+-]?)(inf(?:inity)?|nan)/i.exec(body);
  if (special !== null) {
    const value = (special[2] ?? '').toLowerCase().startsWith('inf') ? Infinity : NaN;
    return special[1] === '-' ? -value : value;
  }
  const hex = /^([+-]?)0x([0-9a-f]+)/i.exec(body);
  if (hex !== null) return (hex[1] === '-' ? -1 : 1) * Number(`0x${hex[2]}`);
  const decimal = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/i.exec(body);
  return decimal === null ? 0 : Number(decimal[0]);
}

/** Fluent Bit's text-to-bool cast (`flb_typecast`, parser `Types`): `true` or `false` as a case-insensitive prefix, else null. */
export function boolPrefix(text: string): boolean | null {
  const lower = text.slice(0, 5).toLowerCase();
  if (lower.startsWith('true')) return true;
  if (lower.startsWith('false')) return false;
  return null;
}
