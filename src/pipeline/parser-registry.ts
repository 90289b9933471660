/**
 * Parsers by name, made from the `[PARSER]` and `[MULTILINE_PARSER]` sections of `Parsers_File` files
 * (`-R`) and YAML `parsers:`, read as `flb_parser_load_parser_definitions` reads them. The loader
 * (src/app) reads the files; wsbit ships Fluent Bit's common parsers in `conf/parsers.conf`.
 */
import type { ConfigSection } from '../config/document.js';
import { parseBool } from '../config/units.js';
import { ConfigError, WsbitError, type ConfigOrigin } from '../base/errors.js';
import { parseTypes } from '../parsers/fields.js';
import { createParser } from '../parsers/formats.js';
import { parseUtcOffset } from '../parsers/time-format.js';
import { loadTimeZone } from '../parsers/time-zone.js';
import { addDecoderRule, uselessAppendRules, type FieldDecoder } from '../parsers/decoders.js';
import { parserFormats, type Parser, type ParserDefinition, type ParserFormat } from '../parsers/types.js';
import { builtinMultilineNames, builtinMultilineParser } from '../multiline/builtins.js';
import { multilineSection, type MultilineSection } from '../multiline/section.js';
import type { MultilineParserDefinition } from '../multiline/types.js';

export const UNKNOWN_PARSER = 'WSBIT_CONFIG_UNKNOWN_PARSER';

export class ParserRegistry {
  private readonly parsers = new Map<string, { parser: Parser; origin?: ConfigOrigin }>();
  /** `[MULTILINE_PARSER]` sections by lower-cased name (flb_ml_parser_get compares without case). */
  private readonly multiline = new Map<string, MultilineSection>();

  addMultiline(section: MultilineSection): this {
    const key = section.definition.name.toLowerCase();
    const existing = this.multiline.get(key);
    if (existing !== undefined || builtinMultilineNames.includes(key)) {
      const where = existing === undefined ? ' (a built-in one)' : ` (first defined at ${existing.origin.file}:${existing.origin.line})`;
      throw new ConfigError('WSBIT_CONFIG_DUPLICATE_PARSER', `[multiline_parser] parser named '${section.definition.name}' already exists${where}`, section.origin);
    }
    this.multiline.set(key, section);
    return this;
  }

  multilineNames(): string[] {
    return [...builtinMultilineNames, ...[...this.multiline.values()].map((section) => section.definition.name).sort()];
  }

  /**
   * The multiline parser a `multiline.parser` key names: a built-in (docker, cri, go, python, java,
   * ruby) or a `[MULTILINE_PARSER]`. Its `parser` is looked up now, so it may be defined in any file.
   */
  requireMultiline(name: string, instance: string): MultilineParserDefinition {
    const builtin = builtinMultilineParser(name);
    if (builtin !== undefined) return builtin;
    const section = this.multiline.get(name.toLowerCase());
    if (section === undefined) {
      throw new ConfigError(UNKNOWN_PARSER, `[config] ${instance}: multiline parser '${name}' is not registered (known multiline parsers: ${this.multilineNames().join(', ')})`);
    }
    let parser: Parser | null = null;
    if (section.parserName !== null) {
      parser = this.get(section.parserName) ?? null;
      if (parser === null) {
        throw new ConfigError(
          UNKNOWN_PARSER,
          `[config] error in ${section.origin.file}:${section.origin.line}: multiline parser '${section.definition.name}' points to an undefined parser '${section.parserName}'`,
          section.origin,
        );
      }
    }
    return { ...section.definition, parser };
  }

  add(parser: Parser, origin?: ConfigOrigin): this {
    const existing = this.parsers.get(parser.name);
    if (existing !== undefined) {
      const where = existing.origin === undefined ? '' : ` (first defined at ${existing.origin.file}:${existing.origin.line})`;
      throw new ConfigError('WSBIT_CONFIG_DUPLICATE_PARSER', `[parser] parser named '${parser.name}' already exists${where}`, origin);
    }
    this.parsers.set(parser.name, origin === undefined ? { parser } : { parser, origin });
    return this;
  }

  get(name: string): Parser | undefined {
    return this.parsers.get(name)?.parser;
  }

  names(): string[] {
    return [...this.parsers.keys()].sort();
  }

  /**
   * The parser a plugin's `parser` key names. An unknown name fails start-up, naming the known ones
   * (Fluent Bit logs `parser '%s' is not registered` and the input fails to initialize).
   */
  require(name: string, instance: string): Parser {
    const parser = this.get(name);
    if (parser !== undefined) return parser;
    const known = this.names();
    const list = known.length === 0 ? 'no parsers are loaded: add a Parsers_File to [SERVICE] or use -R conf/parsers.conf' : `known parsers: ${known.join(', ')}`;
    throw new ConfigError(UNKNOWN_PARSER, `[config] ${instance}: parser '${name}' is not registered (${list})`);
  }
}

/** Keys of a `[PARSER]` section; Fluent Bit reads each one with `get_parser_key`. */
const KNOWN_KEYS = new Set([
  'name', 'format', 'regex', 'time_key', 'time_format', 'time_keep', 'time_offset', 'time_strict',
  'time_system_timezone', 'time_zone', 'types', 'skip_empty_values', 'logfmt_no_bare_keys',
]);
/** Fluent Bit keys wsbit accepts but does not act on. */
const IGNORED_KEYS = new Set(['time_numeric_unit']);
/** Keys that may repeat, each one a rule (flb_parser_decoder_list_create). */
const DECODER_KEYS = new Set(['decode_field', 'decode_field_as']);

function sectionError(section: ConfigSection, reason: string, origin: ConfigOrigin = section.origin): ConfigError {
  return new ConfigError('WSBIT_CONFIG_BAD_PARSER', `[config] error in ${origin.file}:${origin.line}: ${reason}`, origin);
}

/** Reads one `[PARSER]` section into a definition; Fluent Bit's defaults where keys are missing. */
export function parserDefinition(section: ConfigSection, warnings: string[]): ParserDefinition {
  const values = new Map<string, { value: string; origin: ConfigOrigin | undefined }>();
  const ignored = new Set<string>();
  let decoders: FieldDecoder[] = [];
  let decoderProblem: string | null = null;
  for (const entry of section.entries) {
    if (DECODER_KEYS.has(entry.key)) {
      const problem: string | null = decoderProblem === null ? addDecoderRule(decoders, entry.key === 'decode_field_as', entry.value) : null;
      if (problem !== null) decoderProblem = `${entry.origin?.file ?? section.origin.file}:${entry.origin?.line ?? section.origin.line}: ${entry.key}: ${problem}`;
      continue;
    }
    if (IGNORED_KEYS.has(entry.key)) {
      ignored.add(entry.key);
      continue;
    }
    if (!KNOWN_KEYS.has(entry.key)) {
      warnings.push(`[parser] ${entry.origin?.file ?? ''}:${entry.origin?.line ?? 0}: unknown parser property '${entry.key}' is ignored`);
      continue;
    }
    // Fluent Bit looks a key up with cfl_kvlist_fetch, which finds the first one; its own
    // parsers.conf repeats Time_Format in syslog-rfc3164 and relies on that.
    if (values.has(entry.key)) {
      warnings.push(`[parser] ${entry.origin?.file ?? ''}:${entry.origin?.line ?? 0}: '${entry.key}' is repeated; the first value is used`);
      continue;
    }
    // An empty value (an unset ${VAR}) counts as unset, as in get_parser_key.
    if (entry.value !== '') values.set(entry.key, { value: entry.value, origin: entry.origin });
  }
  const text = (key: string): string | null => values.get(key)?.value ?? null;
  const flag = (key: string, fallback: boolean): boolean => {
    const item = values.get(key);
    if (item === undefined) return fallback;
    const parsed = parseBool(item.value);
    if (parsed === undefined) throw sectionError(section, `invalid value '${item.value}' for '${key}': expected on or off`, item.origin);
    return parsed;
  };

  const name = text('name');
  if (name === null) throw sectionError(section, "[PARSER] section has no 'Name'");
  const formatText = text('format');
  if (formatText === null) throw sectionError(section, `no parser 'format' found for '${name}'`);
  const format = parserFormats.find((candidate) => candidate === formatText.toLowerCase());
  if (format === undefined) {
    throw sectionError(section, `[parser:${name}] Invalid format ${formatText}: expected one of ${parserFormats.join(', ')}`, values.get('format')?.origin);
  }
  const regex = text('regex');
  if (regex === null && format === 'regex') throw sectionError(section, `no parser 'regex' found for '${name}'`);
  let timeOffsetSeconds = 0;
  const offsetText = text('time_offset');
  if (offsetText !== null) {
    const offset = parseUtcOffset(offsetText);
    if (offset === null) throw sectionError(section, `[parser:${name}] invalid Time_Offset '${offsetText}': expected e.g. +0900 or -07:00`, values.get('time_offset')?.origin);
    timeOffsetSeconds = offset;
  }
  const timeZone = text('time_zone');
  if (timeZone !== null) {
    const origin = values.get('time_zone')?.origin;
    if (text('time_format') === null) throw sectionError(section, `[parser:${name}] time_zone requires time_format`, origin);
    if (flag('time_system_timezone', false)) throw sectionError(section, `[parser:${name}] time_zone cannot be combined with time_system_timezone`, origin);
    if (offsetText !== null) throw sectionError(section, `[parser:${name}] time_zone cannot be combined with time_offset`, origin);
    if (loadTimeZone(timeZone) === null) {
      throw sectionError(section, `[parser:${name}] invalid or unavailable time_zone '${timeZone}': expected an IANA name as Fluent Bit knows it, such as America/New_York or Etc/UTC (case-sensitive; 'UTC' and the US/... links are refused)`, origin);
    }
  }
  if (decoderProblem !== null) {
    // Fluent Bit logs the bad rule and makes the parser without any of its decoders.
    warnings.push(`[parser:${name}] ${decoderProblem}; all Decode_Field rules of this parser are ignored, as in Fluent Bit`);
    decoders = [];
  }
  const useless = uselessAppendRules(decoders);
  if (useless.length > 0) {
    warnings.push(`[parser:${name}] ${useless.join(', ')}: a Decode_Field backend other than json gives a string, which is not added to the record (Fluent Bit logs 'string type is not allowed' for each record) (${section.origin.file}:${section.origin.line})`);
  }
  if (ignored.size > 0) {
    warnings.push(`[parser:${name}] ${[...ignored].join(', ')} ${ignored.size === 1 ? 'is' : 'are'} not supported by wsbit and ignored (${section.origin.file}:${section.origin.line})`);
  }
  const typesText = text('types');
  return {
    name,
    format: format as ParserFormat,
    regex,
    timeKey: text('time_key'),
    timeFormat: text('time_format'),
    timeKeep: flag('time_keep', false),
    timeOffsetSeconds,
    timeStrict: flag('time_strict', true),
    timeSystemTimezone: flag('time_system_timezone', false),
    timeZone,
    decoders,
    types: typesText === null ? new Map() : parseTypes(typesText),
    skipEmptyValues: flag('skip_empty_values', true),
    logfmtNoBareKeys: flag('logfmt_no_bare_keys', false),
  };
}

/**
 * Registers the `[PARSER]` and `[MULTILINE_PARSER]` sections among `sections`, whichever front end
 * produced them (a parsers file, or a YAML file's `parsers`/`multiline_parsers`). Other kinds are
 * ignored. Returns the warnings for the caller to log.
 */
export function registerParserSections(sections: readonly ConfigSection[], registry: ParserRegistry): string[] {
  const warnings: string[] = [];
  for (const section of sections) {
    if (section.kind === 'multiline_parser') {
      registry.addMultiline(multilineSection(section, warnings));
      continue;
    }
    if (section.kind !== 'parser') continue;
    const definition = parserDefinition(section, warnings);
    let parser: Parser;
    try {
      parser = createParser(definition);
    } catch (error) {
      if (error instanceof WsbitError) throw sectionError(section, error.message);
      throw error;
    }
    registry.add(parser, section.origin);
  }
  return warnings;
}
