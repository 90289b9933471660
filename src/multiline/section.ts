/**
 * `[MULTILINE_PARSER]` sections, read as `flb_parser_load_multiline_parser_definitions` reads them:
 *
 *     [MULTILINE_PARSER]
 *         name          multiline-regex-test
 *         type          regex
 *         flush_timeout 1000
 *         rule          "start_state"  "/([a-zA-Z]+ \d+ \d+\:\d+\:\d+)(.*)/"  "cont"
 *         rule          "cont"         "/^\s+at.*\/"                          "cont"
 *
 * The configuration document carries the rules already split (`section.rules`, from classic `rule`
 * lines and YAML `rules:` items alike); a `rule` entry still here (a section built by hand, or one of
 * the wrong shape) is split the classic way, and a group named `rules` with `state`, `regex` and
 * `next_state` entries is one rule too.
 */
import type { ConfigSection } from '../config/document.js';
import { splitTokens } from '../config/words.js';
import { parseBool } from '../config/units.js';
import { ConfigError, type ConfigOrigin } from '../base/errors.js';
import { compileRules, MultilineRuleError, type RawRule } from './rules.js';
import { DEFAULT_FLUSH_TIMEOUT_MS, multilineTypes, type MultilineParserDefinition, type MultilineType } from './types.js';

/** A section's parser before its `parser` key is looked up (that parser may come from a later file). */
export interface MultilineSection {
  definition: Omit<MultilineParserDefinition, 'parser'>;
  parserName: string | null;
  origin: ConfigOrigin;
}

const KNOWN_KEYS = new Set(['name', 'type', 'match_string', 'negate', 'key_content', 'key_pattern', 'key_group', 'parser', 'flush_timeout', 'rule']);

function sectionError(origin: ConfigOrigin, reason: string): ConfigError {
  return new ConfigError('WSBIT_CONFIG_BAD_PARSER', `[config] error in ${origin.file}:${origin.line}: [multiline_parser] ${reason}`, origin);
}

/** Reads one section; throws a ConfigError naming file, line and key for anything Fluent Bit refuses. */
export function multilineSection(section: ConfigSection, warnings: string[]): MultilineSection {
  const values = new Map<string, { value: string; origin: ConfigOrigin }>();
  const rules: Array<RawRule & { origin: ConfigOrigin }> = [];
  for (const entry of section.entries) {
    const origin = entry.origin ?? section.origin;
    if (!KNOWN_KEYS.has(entry.key)) {
      warnings.push(`[multiline_parser] ${origin.file}:${origin.line}: unknown property '${entry.key}' is ignored (known: ${[...KNOWN_KEYS].join(', ')})`);
      continue;
    }
    if (entry.key === 'rule') {
      const tokens = splitTokens(entry.value, 0, 'blanks');
      if (tokens.length < 2 || tokens.length > 3) {
        throw sectionError(origin, `invalid rule '${entry.value}': expected "from_state" "/regex/" "to_state"`);
      }
      rules.push({ from: tokens[0] as string, regex: tokens[1] as string, to: tokens[2] ?? null, origin });
      continue;
    }
    if (!values.has(entry.key) && entry.value !== '') values.set(entry.key, { value: entry.value, origin });
  }
  for (const rule of section.rules ?? []) rules.push({ from: rule.state, regex: rule.regex, to: rule.nextState, origin: rule.origin });
  for (const group of section.groups) {
    if (group.name.toLowerCase() !== 'rules' && group.name.toLowerCase() !== 'rule') continue;
    const field = (key: string): string | null => group.entries.find((entry) => entry.key.toLowerCase() === key)?.value ?? null;
    const from = field('state');
    const regex = field('regex');
    if (from === null || regex === null) throw sectionError(group.origin, "a rule needs 'state' and 'regex' (and usually 'next_state')");
    rules.push({ from, regex, to: field('next_state'), origin: group.origin });
  }
  const text = (key: string): string | null => values.get(key)?.value ?? null;
  const name = text('name');
  if (name === null) throw sectionError(section.origin, "no 'name' defined");
  const typeText = text('type');
  if (typeText === null) throw sectionError(section.origin, `no 'type' defined for '${name}' (expected one of regex, endswith, equal)`);
  // flb_ml_type_lookup: `eq` is a synonym of `equal`.
  const lower = typeText.toLowerCase();
  const type = (lower === 'eq' ? 'equal' : multilineTypes.find((candidate) => candidate === lower)) as MultilineType | undefined;
  if (type === undefined) throw sectionError(values.get('type')?.origin ?? section.origin, `invalid type '${typeText}' for '${name}': expected one of regex, endswith, equal`);
  let negate = false;
  const negateText = text('negate');
  if (negateText !== null) {
    const parsed = parseBool(negateText);
    if (parsed === undefined) throw sectionError(values.get('negate')?.origin ?? section.origin, `invalid value '${negateText}' for 'negate': expected on or off`);
    negate = parsed;
  }
  let flushTimeoutMs = DEFAULT_FLUSH_TIMEOUT_MS;
  const flushText = text('flush_timeout');
  if (flushText !== null) {
    // Milliseconds; 0 or less means the default, as in flb_ml_parser_create.
    if (!/^-?\d+$/.test(flushText.trim())) throw sectionError(values.get('flush_timeout')?.origin ?? section.origin, `invalid flush_timeout '${flushText}': expected milliseconds, e.g. 1000`);
    const value = Number(flushText);
    if (value > 0) flushTimeoutMs = value;
  }
  const matchString = text('match_string');
  if (type !== 'regex' && matchString === null) throw sectionError(section.origin, `type ${type} needs a 'match_string' ('${name}')`);
  if (type === 'regex' && rules.length === 0) throw sectionError(section.origin, `type regex needs at least one 'rule' ('${name}')`);
  let compiled: MultilineParserDefinition['rules'] = [];
  if (type === 'regex') {
    try {
      compiled = compileRules(name, rules);
    } catch (error) {
      if (error instanceof MultilineRuleError) throw sectionError(section.origin, error.message);
      throw error;
    }
  }
  return {
    definition: {
      name, type, matchString, negate, flushTimeoutMs,
      keyContent: text('key_content'), keyGroup: text('key_group'), keyPattern: text('key_pattern'), rules: compiled,
    },
    parserName: text('parser'),
    origin: section.origin,
  };
}
