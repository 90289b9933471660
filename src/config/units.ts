/**
 * Fluent Bit's value syntaxes (`src/flb_utils.c`). Every parser returns `undefined` for input it
 * cannot read, so the caller can build an error that names the instance, the key and the value.
 *
 * Fluent Bit reads most numbers with `atoi`/`atof`, which silently turn garbage into 0 (`port abc`
 * becomes port 0). wsbit accepts the same well-formed spellings and rejects the rest.
 */
import { splitTokens } from './words.js';

const BOOL_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['on', true],
  ['yes', true],
  ['false', false],
  ['off', false],
  ['no', false],
]);

/** `flb_utils_bool`: `true|on|yes` and `false|off|no`, case-insensitive. */
export function parseBool(text: string): boolean | undefined {
  return BOOL_WORDS.get(text.toLowerCase());
}

export const BOOL_WORDS_TEXT = 'true, false, on, off, yes, no';

/** A whole-string integer (`-1`, `+5`, `2020`). Fluent Bit's `atoi` would accept `80abc` as 80. */
export function parseInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A decimal number (`1`, `0.5`, `.25`, `1e-3`); `Flush` is read with `atof` in Fluent Bit. */
export function parseDouble(text: string): number | undefined {
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

const SIZE_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, k: 1000, m: 1000 ** 2, g: 1000 ** 3 };

/**
 * `flb_utils_size_to_bytes`: a number with an optional `K`, `M` or `G` (decimal: 1K = 1000) and an
 * optional trailing `B`, case-insensitive; fractions are allowed (`1.5M`), and the word `false`
 * means 0. A bare `B` suffix (`512B`) is accepted too, although Fluent Bit rejects it.
 */
export function parseSizeBytes(text: string): number | undefined {
  if (text.toLowerCase() === 'false') return 0;
  const match = /^(\d+(?:\.\d*)?|\.\d+)([kmg]?)b?$/i.exec(text);
  if (match === null) return undefined;
  const multiplier = SIZE_MULTIPLIERS[(match[2] ?? '').toLowerCase()];
  if (multiplier === undefined) return undefined;
  // Fluent Bit casts `val * unit` to int64, truncating any fraction of a byte.
  const bytes = Math.trunc(Number(match[1]) * multiplier);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const TIME_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * `flb_utils_time_to_seconds`: a whole number of seconds with an optional unit `s`, `m`, `h` or
 * `d` (either case). Fluent Bit uses `atoi`, so it has no fractions and reads `abc` as 0.
 */
export function parseTimeSeconds(text: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/i.exec(text);
  if (match === null) return undefined;
  const multiplier = TIME_MULTIPLIERS[(match[2] ?? '').toLowerCase()];
  if (multiplier === undefined) return undefined;
  const seconds = Number(match[1]) * multiplier;
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** A `header` value: Fluent Bit's SLIST_1 split into the header name and the rest of the line. */
export interface HeaderPair {
  name: string;
  value: string;
}

/**
 * Fluent Bit's SLIST_1 (`flb_slist_split_tokens(list, str, 1)`): the first token is the name (it may
 * be double-quoted), the rest of the line the value, verbatim. With no value the name doubles as the
 * value, as out_websocket sends `X-Only: X-Only` for `Header X-Only`.
 */
export function splitHeader(raw: string): HeaderPair | undefined {
  const [name, value = name] = splitTokens(raw, 1);
  if (name === undefined || name === '' || value === undefined) return undefined;
  return { name, value };
}

/** Fluent Bit's CLIST: comma-separated, spaces around items trimmed, empty items dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.replace(/^ +| +$/g, ''))
    .filter((item) => item !== '');
}
