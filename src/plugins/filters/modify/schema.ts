/** The `modify` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { RegexTranslationError, translateOnigmo } from '../../../regex/onigmo.js';
import { parseRecordAccessor, type RecordAccessor } from '../record-accessor.js';
import { encodeStr, stringEntry, type MapEntry } from '../../../codec/msgpack-map.js';
import { configOrder } from '../rule-args.js';
import { splitQuoted } from '../../../config/words.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

type RuleKind =
  | 'set' | 'add' | 'remove' | 'remove_wildcard' | 'remove_regex' | 'move_to_start' | 'move_to_end'
  | 'rename' | 'hard_rename' | 'copy' | 'hard_copy';

const ONE_ARGUMENT: ReadonlySet<RuleKind> = new Set(['remove', 'remove_wildcard', 'remove_regex', 'move_to_start', 'move_to_end']);

export interface ModifyRule {
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

export interface ModifyCondition {
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
  ruleKey('Set', 'set', 'KEY VALUE: set KEY to the string VALUE, replacing every KEY already there (the pair moves to the end).'),
  ruleKey('Add', 'add', 'KEY VALUE: add KEY with the string VALUE if the record has no KEY.'),
  ruleKey('add_if_not_present', 'add', 'Deprecated name of add.'),
  ruleKey('Remove', 'remove', 'KEY: remove every KEY.'),
  ruleKey('Remove_wildcard', 'remove_wildcard', 'PREFIX: remove every key that starts with PREFIX (a trailing * is optional).'),
  ruleKey('Remove_regex', 'remove_regex', 'REGEX: remove every key that matches REGEX.'),
  ruleKey('Move_To_Start', 'move_to_start', 'PREFIX: move the keys that start with PREFIX to the start of the record.'),
  ruleKey('Move_To_End', 'move_to_end', 'PREFIX: move the keys that start with PREFIX to the end of the record.'),
  ruleKey('Rename', 'rename', 'KEY NEW_KEY: rename KEY if the record has KEY and no NEW_KEY.'),
  ruleKey('Hard_Rename', 'hard_rename', 'KEY NEW_KEY: rename KEY, replacing any NEW_KEY.'),
  ruleKey('Copy', 'copy', 'KEY NEW_KEY: copy the value of KEY to NEW_KEY if the record has exactly one KEY and no NEW_KEY.'),
  ruleKey('Hard_copy', 'hard_copy', 'KEY NEW_KEY: copy the value of KEY to NEW_KEY, replacing any NEW_KEY.'),
  {
    key: 'Condition',
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

export const modifyManifest = defineFilterManifest({
  kind: 'filter',
  name: 'modify',
  description: 'Modify records by applying rules',
  schema,
});
