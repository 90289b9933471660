import { ParseFailure } from '../../config/schema.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { RegexTranslationError, translateOnigmo } from '../../regex/onigmo.js';
import { parseRecordAccessor, resolveAccessor, type RecordAccessor } from './record-accessor.js';
import { encodeStr, keyEquals, mapEntries, readStr, strEquals, stringEntry, strRange, withKey, type MapEntry, type ValueRange } from '../../codec/msgpack-map.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { configOrder } from './rule-args.js';
import { splitQuoted } from '../../config/words.js';

type RuleKind =
  | 'set' | 'add' | 'remove' | 'remove_wildcard' | 'remove_regex' | 'move_to_start' | 'move_to_end'
  | 'rename' | 'hard_rename' | 'copy' | 'hard_copy';

const ONE_ARGUMENT: ReadonlySet<RuleKind> = new Set(['remove', 'remove_wildcard', 'remove_regex', 'move_to_start', 'move_to_end']);

interface ModifyRule {
  order: number;
  kind: RuleKind;
  /** First argument, UTF-8; a prefix for the wildcard rules. */
  key: Uint8Array;
  /** Second argument, UTF-8 (the target key of Rename/Copy). */
  target: Uint8Array;
  /** Second argument as msgpack str bytes: the new key Rename/Copy write. */
  encodedTarget: Buffer;
  /** The pair Set and Add write, built once. */
  pair: MapEntry;
  regex: RegExp | null;
}

type ConditionKind =
  | 'key_exists' | 'key_does_not_exist' | 'a_key_matches' | 'no_key_matches'
  | 'key_value_equals' | 'key_value_does_not_equal' | 'key_value_matches' | 'key_value_does_not_match'
  | 'matching_keys_have_matching_values' | 'matching_keys_do_not_have_matching_values';

type ConditionShape = 'key' | 'keyRegex' | 'key value' | 'key valueRegex' | 'keyRegex valueRegex';

/** Each condition's arguments after its name: a key (record accessor) or a key regex, then a value or a value regex. */
const CONDITION_ARGUMENTS: Readonly<Record<ConditionKind, ConditionShape>> = {
  key_exists: 'key',
  key_does_not_exist: 'key',
  a_key_matches: 'keyRegex',
  no_key_matches: 'keyRegex',
  key_value_equals: 'key value',
  key_value_does_not_equal: 'key value',
  key_value_matches: 'key valueRegex',
  key_value_does_not_match: 'key valueRegex',
  matching_keys_have_matching_values: 'keyRegex valueRegex',
  matching_keys_do_not_have_matching_values: 'keyRegex valueRegex',
};

const SHAPE_TEXT: Readonly<Record<ConditionShape, string>> = {
  key: 'KEY',
  keyRegex: 'REGEX',
  'key value': 'KEY VALUE',
  'key valueRegex': 'KEY REGEX',
  'keyRegex valueRegex': 'KEY_REGEX VALUE_REGEX',
};

interface ModifyCondition {
  kind: ConditionKind;
  accessor: RecordAccessor | null;
  keyRegex: RegExp | null;
  value: Uint8Array | null;
  valueRegex: RegExp | null;
}

function regex(pattern: string): RegExp | ParseFailure {
  try {
    return translateOnigmo(pattern).regex;
  } catch (error) {
    if (!(error instanceof RegexTranslationError)) throw error;
    return new ParseFailure(`a regular expression wsbit can run; '${pattern}': ${error.message}`);
  }
}

/** `flb_utils_split_quoted(value, ' ', 3)`, then the word count each rule takes, as `modify.c` checks it. */
function parseRule(kind: RuleKind, raw: string): ModifyRule | ParseFailure {
  const words = splitQuoted(raw, 3);
  const oneArgument = ONE_ARGUMENT.has(kind);
  const shape = oneArgument ? 'KEY' : 'KEY VALUE';
  if (words === null) return new ParseFailure(`${shape} with every quote closed`);
  if (words.length !== (oneArgument ? 1 : 2)) return new ParseFailure(`${shape} (quote a word that contains spaces: "a b")`);
  let [key = '', target = ''] = words;
  // Fluent Bit matches the wildcard rules by prefix and reads a '*' literally; wsbit accepts `Mem.*` too.
  if ((kind === 'remove_wildcard' || kind === 'move_to_start' || kind === 'move_to_end') && key.endsWith('*')) key = key.slice(0, -1);
  let compiled: RegExp | null = null;
  if (kind === 'remove_regex') {
    const result = regex(key);
    if (result instanceof ParseFailure) return result;
    compiled = result;
  }
  return {
    order: configOrder(),
    kind,
    key: Buffer.from(key, 'utf8'),
    target: Buffer.from(target, 'utf8'),
    encodedTarget: encodeStr(target),
    pair: stringEntry(key, target),
    regex: compiled,
  };
}

function parseCondition(raw: string): ModifyCondition | ParseFailure {
  const words = splitQuoted(raw, 3);
  if (words === null) return new ParseFailure('a condition with every quote closed');
  const [name = '', a = '', b = ''] = words;
  const kind = name.toLowerCase() as ConditionKind;
  const shape = Object.hasOwn(CONDITION_ARGUMENTS, kind) ? CONDITION_ARGUMENTS[kind] : undefined;
  if (shape === undefined) return new ParseFailure(`a condition: one of ${Object.keys(CONDITION_ARGUMENTS).join(', ')}`);
  if (words.length !== shape.split(' ').length + 1) {
    return new ParseFailure(`'${name} ${SHAPE_TEXT[shape]}' (quote a word that contains spaces: "a b")`);
  }
  const condition: ModifyCondition = { kind, accessor: null, keyRegex: null, value: null, valueRegex: null };
  if (shape.startsWith('keyRegex')) {
    const result = regex(a);
    if (result instanceof ParseFailure) return result;
    condition.keyRegex = result;
  } else {
    condition.accessor = parseRecordAccessor(a);
    if (condition.accessor === null) return new ParseFailure(`a key or record accessor such as log or $kubernetes['labels']['app'], not '${a}'`);
  }
  if (shape.endsWith('valueRegex')) {
    const result = regex(b);
    if (result instanceof ParseFailure) return result;
    condition.valueRegex = result;
  } else if (shape.endsWith('value')) {
    condition.value = Buffer.from(b, 'utf8');
  }
  return condition;
}

function ruleKey<const Key extends string>(key: Key, kind: RuleKind, description: string) {
  return { key, type: 'string', multiple: true, parse: (raw: string) => parseRule(kind, raw), description } as const;
}

const schema = [
  ruleKey('set', 'set', 'KEY VALUE: set KEY to the string VALUE, replacing every KEY already there (the pair moves to the end).'),
  ruleKey('add', 'add', 'KEY VALUE: add KEY with the string VALUE if the record has no KEY.'),
  ruleKey('add_if_not_present', 'add', 'Deprecated name of add.'),
  ruleKey('remove', 'remove', 'KEY: remove every KEY.'),
  ruleKey('remove_wildcard', 'remove_wildcard', 'PREFIX: remove every key that starts with PREFIX (a trailing * is optional).'),
  ruleKey('remove_regex', 'remove_regex', 'REGEX: remove every key that matches REGEX.'),
  ruleKey('move_to_start', 'move_to_start', 'PREFIX: move the keys that start with PREFIX to the start of the record.'),
  ruleKey('move_to_end', 'move_to_end', 'PREFIX: move the keys that start with PREFIX to the end of the record.'),
  ruleKey('rename', 'rename', 'KEY NEW_KEY: rename KEY if the record has KEY and no NEW_KEY.'),
  ruleKey('hard_rename', 'hard_rename', 'KEY NEW_KEY: rename KEY, replacing any NEW_KEY.'),
  ruleKey('copy', 'copy', 'KEY NEW_KEY: copy the value of KEY to NEW_KEY if the record has exactly one KEY and no NEW_KEY.'),
  ruleKey('hard_copy', 'hard_copy', 'KEY NEW_KEY: copy the value of KEY to NEW_KEY, replacing any NEW_KEY.'),
  {
    key: 'condition',
    type: 'string',
    multiple: true,
    parse: parseCondition,
    description:
      'Apply the rules only to records that meet every condition: Key_exists KEY, Key_does_not_exist KEY, ' +
      'A_key_matches REGEX, No_key_matches REGEX, Key_value_equals KEY VALUE, Key_value_does_not_equal KEY VALUE, ' +
      'Key_value_matches KEY REGEX, Key_value_does_not_match KEY REGEX, Matching_keys_have_matching_values ' +
      'KEY_REGEX VALUE_REGEX, Matching_keys_do_not_have_matching_values KEY_REGEX VALUE_REGEX.',
  },
] as const;

/** The text a regex is matched against (`helper_msgpack_object_matches_regex`): a str, or a bool as true/false. */
function regexSubject(buf: Uint8Array, start: number, end: number): string | null {
  const b = buf[start];
  if (b === 0xc3) return 'true';
  if (b === 0xc2) return 'false';
  return readStr(buf, start, end);
}

function keyMatchesRegex(entry: MapEntry, pattern: RegExp): boolean {
  const subject = regexSubject(entry.keyBuf, entry.keyStart, entry.keyEnd);
  return subject !== null && pattern.test(subject);
}

function valueMatchesRegex(buf: Uint8Array, range: ValueRange, pattern: RegExp): boolean {
  const subject = regexSubject(buf, range.start, range.end);
  return subject !== null && pattern.test(subject);
}

function keyHasPrefix(entry: MapEntry, prefix: Uint8Array): boolean {
  const text = strRange(entry.keyBuf, entry.keyStart, entry.keyEnd, true);
  if (text === null || text.end - text.start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (entry.keyBuf[text.start + i] !== prefix[i]) return false;
  return true;
}

/** `evaluate_condition` in `modify.c`, on the record as it came in. */
function conditionHolds(condition: ModifyCondition, buf: Uint8Array, start: number, end: number, entries: () => readonly MapEntry[]): boolean {
  const lookup = (): ValueRange | null => (condition.accessor === null ? null : resolveAccessor(buf, start, end, condition.accessor));
  const anyKeyMatches = (): boolean => entries().some((entry) => keyMatchesRegex(entry, condition.keyRegex as RegExp));
  const matchingKeysHaveMatchingValues = (): boolean =>
    entries().every(
      (entry) =>
        !keyMatchesRegex(entry, condition.keyRegex as RegExp) ||
        valueMatchesRegex(entry.valueBuf, { start: entry.valueStart, end: entry.end }, condition.valueRegex as RegExp),
    );
  switch (condition.kind) {
    case 'key_exists':
      return lookup() !== null;
    case 'key_does_not_exist':
      return lookup() === null;
    case 'a_key_matches':
      return anyKeyMatches();
    case 'no_key_matches':
      return !anyKeyMatches();
    case 'key_value_equals': {
      const range = lookup();
      return range !== null && strEquals(buf, range.start, range.end, condition.value as Uint8Array, true);
    }
    case 'key_value_does_not_equal': {
      // The key must exist, as in Fluent Bit.
      const range = lookup();
      return range !== null && !strEquals(buf, range.start, range.end, condition.value as Uint8Array, true);
    }
    case 'key_value_matches': {
      const range = lookup();
      return range !== null && valueMatchesRegex(buf, range, condition.valueRegex as RegExp);
    }
    case 'key_value_does_not_match': {
      const range = lookup();
      return range !== null && !valueMatchesRegex(buf, range, condition.valueRegex as RegExp);
    }
    case 'matching_keys_have_matching_values':
      return matchingKeysHaveMatchingValues();
    case 'matching_keys_do_not_have_matching_values':
      return !matchingKeysHaveMatchingValues();
  }
}

/** One rule (`apply_rule_*` in `modify.c`); null when the rule does not apply to this record. */
function applyRule(rule: ModifyRule, entries: readonly MapEntry[]): MapEntry[] | null {
  const isKey = (entry: MapEntry): boolean => keyEquals(entry, rule.key, true);
  const isTarget = (entry: MapEntry): boolean => keyEquals(entry, rule.target, true);
  const keyCount = (): number => entries.filter(isKey).length;
  const targetCount = (): number => entries.filter(isTarget).length;
  const removeWhere = (remove: (entry: MapEntry) => boolean): MapEntry[] | null => {
    const kept = entries.filter((entry) => !remove(entry));
    return kept.length === entries.length ? null : kept;
  };
  const hasPrefix = (entry: MapEntry): boolean => keyHasPrefix(entry, rule.key);
  const copyAfterKey = (source: readonly MapEntry[]): MapEntry[] =>
    source.flatMap((entry) => (isKey(entry) ? [entry, withKey(entry, rule.encodedTarget)] : [entry]));

  switch (rule.kind) {
    case 'set':
      return [...entries.filter((entry) => !isKey(entry)), rule.pair];
    case 'add':
      return keyCount() > 0 ? null : [...entries, rule.pair];
    case 'remove':
      return removeWhere(isKey);
    case 'remove_wildcard':
      return removeWhere(hasPrefix);
    case 'remove_regex':
      return removeWhere((entry) => keyMatchesRegex(entry, rule.regex as RegExp));
    case 'move_to_start':
    case 'move_to_end': {
      const moved = entries.filter(hasPrefix);
      if (moved.length === 0) return null;
      const rest = entries.filter((entry) => !hasPrefix(entry));
      return rule.kind === 'move_to_start' ? [...moved, ...rest] : [...rest, ...moved];
    }
    case 'rename':
      if (keyCount() === 0 || targetCount() > 0) return null;
      return entries.map((entry) => (isKey(entry) ? withKey(entry, rule.encodedTarget) : entry));
    case 'hard_rename':
      if (keyCount() === 0) return null;
      return entries.filter((entry) => !isTarget(entry)).map((entry) => (isKey(entry) ? withKey(entry, rule.encodedTarget) : entry));
    case 'copy':
      // The copy goes right after its source, and only from a single source key.
      if (keyCount() !== 1 || targetCount() > 0) return null;
      return copyAfterKey(entries);
    case 'hard_copy':
      if (keyCount() !== 1 || targetCount() > 1) return null;
      return copyAfterKey(entries.filter((entry) => !isTarget(entry)));
  }
}

/**
 * Fluent Bit's `modify` filter (`plugins/filter_modify/modify.c`). When every Condition holds for the
 * record as it came in, the rules run in configuration order, each on the result of the one before.
 * Keys are compared exactly (str or bin keys); values written by Set and Add are strings; everything
 * not touched by a rule keeps its bytes.
 */
export const modifyFilter = defineFilter({
  kind: 'filter',
  name: 'modify',
  description: 'Modify records by applying rules',
  schema,
  create(context) {
    const { config } = context;
    const rules = [
      ...config.set, ...config.add, ...config.add_if_not_present, ...config.remove, ...config.remove_wildcard,
      ...config.remove_regex, ...config.move_to_start, ...config.move_to_end, ...config.rename, ...config.hard_rename,
      ...config.copy, ...config.hard_copy,
    ].sort((a, b) => a.order - b.order);
    if (config.add_if_not_present.length > 0) context.logger.info("DEPRECATED : Operation 'add_if_not_present' has been replaced by 'add'.");
    const conditions = config.condition;
    const rewriter = new EventRewriter();

    return {
      filter(events, records) {
        if (rules.length === 0) {
          countFilterRecords(context.telemetry, records, records);
          return { events, records };
        }
        const out = rewriter.rewrite(events, records, (buf, event) => {
          let entries: readonly MapEntry[] | null = null;
          const original = (): readonly MapEntry[] => (entries ??= mapEntries(buf, event.bodyStart, event.bodyEnd) ?? []);
          for (const condition of conditions) {
            if (!conditionHolds(condition, buf, event.bodyStart, event.bodyEnd, original)) return 'keep';
          }
          let current = original();
          let changed = false;
          for (const rule of rules) {
            const next = applyRule(rule, current);
            if (next !== null) {
              current = next;
              changed = true;
            }
          }
          return changed ? current : 'keep';
        });
        countFilterRecords(context.telemetry, records, out.records);
        return out;
      },
    };
  },
});
