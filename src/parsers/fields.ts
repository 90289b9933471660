/**
 * What the text formats (regex, logfmt, ltsv) share: a string value is written as a str unless
 * `Types` casts it, exactly as `flb_parser_typecast` does (C library semantics: `atoll`, `atof`,
 * `strtoull(..., 16)`, and `true`/`false` matched as a case-insensitive prefix).
 */
import type { MsgpackWriter } from '../codec/msgpack-writer.js';
import type { FieldType } from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** `atoll`: leading white space, a sign, digits; no digits gives 0; saturates like glibc's strtoll. */
function atoll(text: string): bigint {
  const match = /^\s*([+-]?\d+)/.exec(text);
  if (match === null) return 0n;
  const value = BigInt(match[1] as string);
  return value < INT64_MIN ? INT64_MIN : value > INT64_MAX ? INT64_MAX : value;
}

/** `strtoull(text, NULL, 16)`: an optional 0x prefix, then hex digits. */
function strtoullHex(text: string): bigint {
  const match = /^\s*(?:0[xX])?([0-9a-fA-F]+)/.exec(text);
  if (match === null) return 0n;
  const value = BigInt(`0x${match[1] as string}`);
  return value > UINT64_MAX ? UINT64_MAX : value;
}

/** `atof`: the longest leading number, else 0. */
function atof(text: string): number {
  const value = Number.parseFloat(text);
  return Number.isNaN(value) ? 0 : value;
}

/**
 * Writes `value` for `key` with its `Types` cast. Returns a warning when a bool cast fails (the value
 * is then kept as a string: `[PARSER] key=%s cast error. save as string.`).
 */
export function writeTypedValue(writer: MsgpackWriter, key: string, value: string, types: ReadonlyMap<string, FieldType>): string | null {
  const type = types.get(key);
  switch (type) {
    case 'integer':
      writer.int(atoll(value));
      return null;
    case 'hex':
      writer.uint(strtoullHex(value));
      return null;
    case 'float':
      writer.float64(atof(value));
      return null;
    case 'bool': {
      const lower = value.toLowerCase();
      if (lower.startsWith('true')) writer.bool(true);
      else if (lower.startsWith('false')) writer.bool(false);
      else {
        writer.str(value);
        return `key=${key} cast error. save as string.`;
      }
      return null;
    }
    default:
      writer.str(value);
      return null;
  }
}

/** `Types` as written in a parser section: `key1:integer key2:bool`; unknown types mean string. */
export function parseTypes(text: string): Map<string, FieldType> {
  const types = new Map<string, FieldType>();
  for (const item of text.split(' ')) {
    const colon = item.indexOf(':');
    if (colon <= 0) continue;
    const type = item.slice(colon + 1).toLowerCase();
    types.set(item.slice(0, colon), type === 'integer' || type === 'float' || type === 'bool' || type === 'hex' ? type : 'string');
  }
  return types;
}
