/**
 * What the text formats (regex, logfmt, ltsv) share: a string value is written as a str unless
 * `Types` casts it, exactly as `flb_parser_typecast` does (C library semantics: `atoll`, `atof`,
 * `strtoull(..., 16)`, and `true`/`false` matched as a case-insensitive prefix).
 */
import type { MsgpackWriter } from '../codec/msgpack-writer.js';
import type { FieldType } from './types.js';
import { atof, atoll, boolPrefix, strtoullHex } from '../codec/c-numbers.js';

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
      const bool = boolPrefix(value);
      if (bool !== null) {
        writer.bool(bool);
        return null;
      }
      writer.str(value);
      return `key=${key} cast error. save as string.`;
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
