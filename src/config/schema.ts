/**
 * One schema per plugin, in the manner of Fluent Bit's config maps (`src/flb_config_map.c`): an array
 * of `{ key, type, default, description }` that validates a section, gives the TypeScript type of the
 * resolved config, and feeds `wsbit -o NAME -h` and the README tables.
 *
 *     const schema = [
 *       { key: 'format', type: 'enum', values: ['msgpack', 'json'], default: 'msgpack', description: '…' },
 *       { key: 'header', type: 'header', multiple: true, description: '…' },
 *     ] as const satisfies readonly ParamSpec[];
 *     type Config = ResolvedConfig<typeof schema>;  // { format: 'msgpack' | 'json'; header: HeaderPair[] }
 */
import { ConfigError, type ConfigOrigin } from '../base/errors.js';
import { originLabel } from './origin.js';
import {
  BOOL_WORDS_TEXT,
  parseBool,
  parseDouble,
  parseInt,
  parseSizeBytes,
  parseTimeSeconds,
  splitHeader,
  splitList,
  type HeaderPair,
} from './units.js';

export { splitHeader, splitList, type HeaderPair };

export type ParamType = 'string' | 'int' | 'double' | 'bool' | 'size' | 'time' | 'enum' | 'list' | 'header';

/** What a custom `parse` returns for a bad value: the text after "expected" in the error message. */
export class ParseFailure {
  // A private member makes the class nominal, so no parsed value can be mistaken for a failure.
  private readonly isParseFailure = true;
  constructor(readonly expected: string) {}
}

export interface ParamSpec {
  /**
   * Spelled as Fluent Bit's help spells it (`net.keepalive`, `Key_Name`), which `-h` and `-J` show;
   * matched case-insensitively, and the resolved config holds it in lower case (`config.key_name`).
   */
  readonly key: string;
  readonly type: ParamType;
  /**
   * A string default is read like a user's value (`'30s'`, `'5M'`), so help shows it as written;
   * numbers and booleans are used as they are. `null` or no default: the key resolves to `null`.
   */
  readonly default?: string | number | boolean | null;
  readonly description: string;
  /** `enum`: the allowed words, matched case-insensitively; the value is the word as written here. */
  readonly values?: readonly string[];
  /** `enum`: other accepted words and the value each one stands for (`{ warning: 'warn' }`). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** May be given more than once; the value is an array of every occurrence, in order. */
  readonly multiple?: boolean;
  /** Reads the raw text when no type fits (`retry_limit`); its return type becomes the value type. */
  readonly parse?: (raw: string) => unknown;
  /**
   * What help shows as the default when the plugin works it out at start-up (the websocket output's
   * `port`: 80, or 443 with tls on); the key itself still resolves to `default`.
   */
  readonly shownDefault?: string;
  /** `int`: the smallest and largest value allowed (`port`: 1 to 65535), checked where the value is written. */
  readonly min?: number;
  readonly max?: number;
  /** How a config error quotes a bad value, for keys that may hold credentials (`proxy`'s password). */
  readonly quoteInError?: (raw: string) => string;
  /**
   * A key Fluent Bit accepts that does nothing in wsbit (`threaded`): why. Setting it logs this once at
   * start, at info level; the README lists every such key (noEffectKey in config/inert-keys.ts).
   */
  readonly noEffect?: string;
  /**
   * A key Fluent Bit accepts whose behaviour wsbit does not have (`rate_gate`): why. Its default is
   * accepted and changes nothing; any other value is a config error with this reason (onlyDefaultKey).
   */
  readonly onlyDefault?: string;
  /** The key is a prefix that takes any suffix (tail's `parser_` matches `Parser_1`, `Parser_2`, …). */
  readonly prefixed?: boolean;
}

/** A raw `key value` pair in config order; keys may repeat. */
export interface ConfigEntry {
  key: string;
  value: string;
  origin?: ConfigOrigin;
}

interface ValueTypes {
  string: string;
  int: number;
  double: number;
  bool: boolean;
  size: number;
  time: number;
  enum: string;
  list: string[];
  header: HeaderPair;
}

type SingleValue<S extends ParamSpec> = S extends { parse: (raw: string) => infer R }
  ? Exclude<R, ParseFailure>
  : S extends { type: 'enum'; values: readonly (infer V extends string)[] }
    ? V
    : ValueTypes[S['type']];

export type ParamValue<S extends ParamSpec> = S extends { multiple: true }
  ? SingleValue<S>[]
  : S extends { default: string | number | boolean }
    ? SingleValue<S>
    : SingleValue<S> | null;

/** The resolved config of a schema: one property per key, in lower case, typed by the key's `type`. */
export type ResolvedConfig<Schema extends readonly ParamSpec[]> = {
  -readonly [S in Schema[number] as Lowercase<S['key']>]: ParamValue<S>;
};

/** The lower-case keys of a schema: the properties of its resolved config. */
export type SchemaKey<Schema extends readonly ParamSpec[]> = Lowercase<Schema[number]['key']>;

export type ConfigKind = 'input' | 'output' | 'filter' | 'custom' | 'service';

export interface ResolveContext {
  /** Named in every message: `websocket.0`, or `service`. */
  instance: string;
  kind: ConfigKind;
  /**
   * Collects the errors instead of throwing the first, so a file's every error is reported at once;
   * a bad key then resolves to its default.
   */
  errors?: ConfigError[];
}

export interface ResolveResult<Schema extends readonly ParamSpec[]> {
  config: ResolvedConfig<Schema>;
  /** For the caller to log: repeated keys, and unknown `[SERVICE]` keys. */
  warnings: string[];
  /** For the caller to log at info level: one line per key set that does nothing here (`noEffect`). */
  notices: string[];
  /** Keys the user set (not defaults), with where the last value came from. */
  explicit: ReadonlyMap<string, ConfigOrigin | undefined>;
}

/** `[config] error in FILE:LINE: reason`, the form Fluent Bit uses for file errors (`FILE:LINE:COLUMN` for YAML). */
export function configMessage(reason: string, origin?: ConfigOrigin): string {
  return origin === undefined ? `[config] ${reason}` : `[config] error in ${originLabel(origin)}: ${reason}`;
}

/** At most this many errors are listed; the rest are counted. */
export const MAX_LISTED_ERRORS = 20;

/** Several configuration errors as one: `errors` holds each, the message lists them. */
export class ConfigErrorList extends ConfigError {
  constructor(readonly errors: readonly ConfigError[]) {
    super('WSBIT_CONFIG_ERRORS', listMessage(errors), errors[0]?.origin);
  }
}

/** One error as a line of the list: `FILE:LINE: reason`, without the `[config] error in` lead. */
function listLine(error: ConfigError): string {
  const lead = error.origin === undefined ? '[config] ' : `[config] error in ${originLabel(error.origin)}: `;
  const reason = error.message.startsWith(lead) ? error.message.slice(lead.length) : error.message.replace(/^\[config\] /, '');
  return error.origin === undefined ? reason : `${originLabel(error.origin)}: ${reason}`;
}

/** `[config] N errors in FILE:` then one indented line each, up to MAX_LISTED_ERRORS, then `… and N more`. */
function listMessage(errors: readonly ConfigError[]): string {
  const files = [...new Set(errors.flatMap((error) => (error.origin === undefined || error.origin.line === 0 ? [] : [error.origin.file])))];
  const fromCommandLine = errors.some((error) => error.origin?.file === 'command line');
  const places = [...files, ...(fromCommandLine ? ['the command line'] : [])];
  const head = places.length === 0 ? `[config] ${errors.length} errors:` : `[config] ${errors.length} errors in ${places.join(' and ')}:`;
  const lines = errors.slice(0, MAX_LISTED_ERRORS).map((error) => `  ${listLine(error)}`);
  if (errors.length > MAX_LISTED_ERRORS) lines.push(`  … and ${errors.length - MAX_LISTED_ERRORS} more`);
  return [head, ...lines].join('\n');
}

/** Throws what `errors` collected: the one error as it is, several as a ConfigErrorList. */
export function throwCollected(errors: readonly ConfigError[]): void {
  const [first] = errors;
  if (first === undefined) return;
  if (errors.length === 1) throw first;
  // In the order they are written: the command line first, then each file line by line (files in the
  // order their first error came), and errors that belong nowhere last.
  const files = [...new Set(errors.map((error) => error.origin?.file))];
  const rank = (error: ConfigError): number[] => {
    const { origin } = error;
    return origin === undefined ? [files.length + 1, 0, 0] : [origin.line === 0 ? -1 : files.indexOf(origin.file), origin.line, origin.column ?? 0];
  };
  const sorted = [...errors].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return (x[0] ?? 0) - (y[0] ?? 0) || (x[1] ?? 0) - (y[1] ?? 0) || (x[2] ?? 0) - (y[2] ?? 0);
  });
  throw new ConfigErrorList(sorted);
}

/** `tolower` on ASCII only, as Fluent Bit does for classic keys. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A key as the resolved config and the config files' matching know it: `Key_Name` → `key_name`. */
export function keyOf(spec: ParamSpec): string {
  return asciiLower(spec.key);
}

const EXPECTED: Readonly<Record<ParamType, string>> = {
  string: 'a string',
  int: 'an integer',
  double: 'a number',
  bool: `one of ${BOOL_WORDS_TEXT}`,
  size: 'a size such as 512, 64K, 5M or 1G (K = 1000 bytes), or false',
  time: 'a number of seconds, optionally with a unit: 30, 30s, 5m, 1h, 1d',
  enum: 'one of the allowed words',
  list: 'a comma-separated list',
  header: "a header name and its value, e.g. 'X-Api-Key abc123'",
};

function enumWords(spec: ParamSpec): string[] {
  return [...(spec.values ?? []), ...Object.keys(spec.aliases ?? {})];
}

/** Reads one raw value; `ParseFailure` carries what was expected. */
export function parseParamValue(spec: ParamSpec, raw: string): unknown {
  if (spec.parse !== undefined) return spec.parse(raw);
  const fail = (): ParseFailure => new ParseFailure(EXPECTED[spec.type]);
  switch (spec.type) {
    case 'string':
      return raw;
    case 'int':
      return parseInt(raw) ?? fail();
    case 'double':
      return parseDouble(raw) ?? fail();
    case 'bool':
      return parseBool(raw) ?? fail();
    case 'size':
      return parseSizeBytes(raw) ?? fail();
    case 'time':
      return parseTimeSeconds(raw) ?? fail();
    case 'list':
      return splitList(raw);
    case 'header':
      return splitHeader(raw) ?? fail();
    case 'enum': {
      const lower = raw.toLowerCase();
      const word = spec.values?.find((value) => value.toLowerCase() === lower);
      if (word !== undefined) return word;
      const alias = Object.entries(spec.aliases ?? {}).find(([from]) => from.toLowerCase() === lower);
      return alias !== undefined ? alias[1] : new ParseFailure(`one of ${enumWords(spec).join(', ')}`);
    }
  }
}

/** What was expected, when a number lies outside the key's `min`..`max`; null when it fits. */
function outOfRange(spec: ParamSpec, value: unknown): string | null {
  if (typeof value !== 'number' || (spec.min === undefined && spec.max === undefined)) return null;
  if ((spec.min === undefined || value >= spec.min) && (spec.max === undefined || value <= spec.max)) return null;
  if (spec.min !== undefined && spec.max !== undefined) return `${spec.min} to ${spec.max}`;
  return spec.min !== undefined ? `at least ${spec.min}` : `at most ${spec.max}`;
}

/** The value a key has when the user does not set it. */
function defaultValue(spec: ParamSpec): unknown {
  if (spec.multiple === true) return [];
  const fallback = spec.default;
  if (fallback === undefined || fallback === null) return null;
  if (typeof fallback !== 'string') return fallback;
  const value = parseParamValue(spec, fallback);
  if (value instanceof ParseFailure) {
    // A schema bug, not a user error: the schema tests resolve every schema with no entries.
    throw new Error(`schema default '${fallback}' for '${spec.key}' is invalid: expected ${value.expected}`);
  }
  return value;
}

const indexes = new WeakMap<readonly ParamSpec[], ReadonlyMap<string, ParamSpec>>();

function schemaIndex(schema: readonly ParamSpec[]): ReadonlyMap<string, ParamSpec> {
  let index = indexes.get(schema);
  if (index === undefined) {
    const built = new Map<string, ParamSpec>();
    for (const spec of schema) {
      // Keys are ASCII (their lower case is the config property); unique regardless of case.
      if (!/^[\x21-\x7e]+$/.test(spec.key) || built.has(keyOf(spec))) {
        throw new Error(`schema key '${spec.key}' must be printable ASCII and unique regardless of case`);
      }
      built.set(keyOf(spec), spec);
    }
    indexes.set(schema, built);
    index = built;
  }
  return index;
}

/** The `prefixed` spec that `key` extends with a suffix, if any. */
function prefixedSpec(schema: readonly ParamSpec[], key: string): ParamSpec | undefined {
  return schema.find((spec) => spec.prefixed === true && key.startsWith(keyOf(spec)) && key.length > spec.key.length);
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function suggestion(key: string, keys: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of keys) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}

function where(origin: ConfigOrigin | undefined): string {
  return origin === undefined ? '' : ` (${originLabel(origin)})`;
}

/**
 * Validates a section's entries against a schema and fills in defaults.
 *
 * - Keys are case-insensitive. `name` is skipped for plugin sections (it picks the plugin).
 * - An unknown key fails, naming the allowed keys, as Fluent Bit's config map does, except in
 *   `[SERVICE]`: Fluent Bit ignores unknown service keys silently, wsbit warns about them.
 * - An empty value (e.g. an unset `${VAR}`) leaves the key unset, as Fluent Bit treats it as NULL.
 * - A repeated key that is not `multiple`: the last value wins, with a warning. (Fluent Bit fails
 *   for repeated plugin keys but lets the last win for generic ones such as `match`; one rule for
 *   all keys is easier to predict.)
 */
export function resolveConfig<const Schema extends readonly ParamSpec[]>(
  schema: Schema,
  entries: readonly ConfigEntry[],
  context: ResolveContext,
): ResolveResult<Schema> {
  const index = schemaIndex(schema);
  const values = new Map<string, unknown>();
  const explicit = new Map<string, ConfigOrigin | undefined>();
  const lastRaw = new Map<string, string>();
  const warnings: string[] = [];
  const notices = new Map<string, string>();
  const { instance } = context;
  const fail = (error: ConfigError): void => {
    if (context.errors === undefined) throw error;
    context.errors.push(error);
  };

  for (const entry of entries) {
    const key = asciiLower(entry.key);
    if (key === 'name' && context.kind !== 'service') continue;
    const spec = index.get(key) ?? prefixedSpec(schema, key);
    if (spec === undefined) {
      const keys = [...index.keys()];
      if (context.kind === 'service') {
        warnings.push(`${instance}: unknown configuration property '${key}' is ignored${suggestion(key, keys)}${where(entry.origin)}`);
        continue;
      }
      const reason =
        `${instance}: unknown configuration property '${key}'${suggestion(key, keys)}. ` +
        `The following properties are allowed: ${keys.join(', ')}`;
      fail(new ConfigError('WSBIT_CONFIG_UNKNOWN_KEY', configMessage(reason, entry.origin), entry.origin));
      continue;
    }
    if (entry.value === '') continue;
    const value = parseParamValue(spec, entry.value);
    const expected = value instanceof ParseFailure ? value.expected : outOfRange(spec, value);
    if (expected !== null) {
      const shown = spec.quoteInError?.(entry.value) ?? entry.value;
      const reason = `${instance}: invalid value '${shown}' for '${key}': expected ${expected}`;
      fail(new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(reason, entry.origin), entry.origin));
      continue;
    }
    if (spec.onlyDefault !== undefined && value !== defaultValue(spec)) {
      const reason = `${instance}: '${key} ${entry.value}' is not supported: ${spec.onlyDefault}`;
      fail(new ConfigError('WSBIT_CONFIG_UNSUPPORTED_VALUE', configMessage(reason, entry.origin), entry.origin));
      continue;
    }
    const specKey = keyOf(spec);
    if (spec.noEffect !== undefined && !notices.has(specKey)) notices.set(specKey, `${instance}: '${key}' is accepted and does nothing here: ${spec.noEffect}`);
    if (spec.multiple === true) {
      // A prefixed key's values (parser_1, parser_2) are listed together under the prefix.
      const list = values.get(specKey);
      if (Array.isArray(list)) list.push(value);
      else values.set(specKey, [value]);
    } else {
      const previous = lastRaw.get(key);
      if (previous !== undefined) {
        warnings.push(
          `${instance}: property '${key}' is already specified with value '${previous}'. ` +
            `Overwriting with '${entry.value}'${where(entry.origin)}`,
        );
      }
      values.set(key, value);
      lastRaw.set(key, entry.value);
    }
    explicit.set(key, entry.origin);
  }

  const config: Record<string, unknown> = {};
  for (const spec of schema) {
    const key = keyOf(spec);
    config[key] = values.has(key) ? values.get(key) : defaultValue(spec);
  }
  // The loop above gives every key of the schema a value of its declared type.
  return { config: config as ResolvedConfig<Schema>, warnings, notices: [...notices.values()], explicit };
}

/**
 * A copy of `schema` with other defaults, for a plugin whose defaults differ from the shared keys'
 * (e.g. `workers`). The type is unchanged, so give defaults only to keys that already have one.
 */
export function withDefaults<const Schema extends readonly ParamSpec[]>(
  schema: Schema,
  defaults: Readonly<Partial<Record<SchemaKey<Schema>, string | number | boolean>>>,
): Schema {
  const overrides: Readonly<Record<string, string | number | boolean | undefined>> = defaults;
  // Same length and order, same keys and types: only `default` changes.
  return schema.map((spec) => (keyOf(spec) in overrides ? { ...spec, default: overrides[keyOf(spec)] } : spec)) as unknown as Schema;
}

export interface SchemaRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

/**
 * A copy of `schema` whose help shows `shown` as the default of these keys, for defaults a plugin
 * computes from other keys. Validation is unchanged.
 */
export function withShownDefaults<const Schema extends readonly ParamSpec[]>(
  schema: Schema,
  shown: Readonly<Partial<Record<SchemaKey<Schema>, string>>>,
): Schema {
  const texts: Readonly<Record<string, string | undefined>> = shown;
  // Same length and order, same keys, types and defaults: only what help shows changes.
  return schema.map((spec) => (texts[keyOf(spec)] === undefined ? spec : { ...spec, shownDefault: texts[keyOf(spec)] })) as unknown as Schema;
}

function displayDefault(spec: ParamSpec): string {
  if (spec.shownDefault !== undefined) return spec.shownDefault;
  const value = spec.default;
  if (value === undefined || value === null || value === '') return 'none';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

/** Rows for `wsbit -o NAME -h` and the README tables. */
export function describeSchema(schema: readonly ParamSpec[]): SchemaRow[] {
  return schema.map((spec) => {
    let description = spec.description;
    if (spec.type === 'enum') description += ` One of: ${enumWords(spec).join(', ')}.`;
    if (spec.multiple === true) description += ' May be given more than once.';
    return {
      key: spec.key,
      type: spec.multiple === true ? `${spec.type} (multiple)` : spec.type,
      default: displayDefault(spec),
      description,
    };
  });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.length > 0 ? lines : [''];
}

/** A plain aligned table for the terminal, or a Markdown table for docs. */
export function renderSchemaTable(rows: readonly SchemaRow[], style: 'text' | 'markdown'): string {
  const headings: SchemaRow = { key: 'KEY', type: 'TYPE', default: 'DEFAULT', description: 'DESCRIPTION' };
  if (style === 'markdown') {
    const cell = (text: string): string => text.replace(/\|/g, '\\|');
    const out = ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
    for (const row of rows) {
      const fallback = row.default === 'none' ? '_none_' : `\`${cell(row.default)}\``;
      out.push(`| \`${cell(row.key)}\` | ${cell(row.type)} | ${fallback} | ${cell(row.description)} |`);
    }
    return `${out.join('\n')}\n`;
  }
  const all = [headings, ...rows];
  const keyWidth = Math.max(...all.map((row) => row.key.length));
  const typeWidth = Math.max(...all.map((row) => row.type.length));
  const defaultWidth = Math.max(...all.map((row) => row.default.length));
  const indent = keyWidth + typeWidth + defaultWidth + 6;
  const out: string[] = [];
  for (const row of all) {
    const [first = '', ...rest] = wrap(row.description, Math.max(40, 110 - indent));
    const left = `${row.key.padEnd(keyWidth)}  ${row.type.padEnd(typeWidth)}  ${row.default.padEnd(defaultWidth)}  `;
    out.push(`${left}${first}`.trimEnd());
    for (const line of rest) out.push(`${' '.repeat(indent)}${line}`);
  }
  return `${out.join('\n')}\n`;
}
