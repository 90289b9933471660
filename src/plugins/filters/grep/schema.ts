/** The `grep` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { RegexTranslationError, translateOnigmo } from '../../../regex/onigmo.js';
import { parseRecordAccessor, type RecordAccessor } from '../record-accessor.js';
import { configOrder } from '../rule-args.js';
import { splitFirstWord } from '../../../config/words.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

export interface GrepRule {
  order: number;
  accessor: RecordAccessor;
  regex: RegExp;
}

/** `KEY REGEX`, split at the first space as `flb_grep_set_rule_str` does; a plain KEY gets a `$`. */
function parseGrepRule(raw: string): GrepRule | ParseFailure {
  const parts = splitFirstWord(raw);
  if (parts === null) return new ParseFailure("a key and a regular expression, e.g. 'log ^error'");
  const [key, pattern] = parts;
  const accessor = parseRecordAccessor(key);
  if (accessor === null) return new ParseFailure(`a key or record accessor such as log or $kubernetes['labels']['app'], not '${key}'`);
  try {
    return { order: configOrder(), accessor, regex: translateOnigmo(pattern).regex };
  } catch (error) {
    if (!(error instanceof RegexTranslationError)) throw error;
    return new ParseFailure(`a regular expression wsbit can run; '${pattern}': ${error.message}`);
  }
}

const schema = [
  {
    key: 'regex',
    type: 'string',
    multiple: true,
    parse: parseGrepRule,
    description: "KEY REGEX: keep records whose KEY (a key, or a record accessor such as $kubernetes['labels']['app']) is a string matching REGEX.",
  },
  {
    key: 'exclude',
    type: 'string',
    multiple: true,
    parse: parseGrepRule,
    description: 'KEY REGEX: drop records whose KEY is a string matching REGEX.',
  },
  {
    key: 'logical_op',
    type: 'enum',
    values: ['legacy', 'AND', 'OR'],
    default: 'legacy',
    description:
      'How rules combine. AND: keep a record when every Regex matches (or drop it when every Exclude matches); ' +
      'OR: when any does; these two take only one kind of rule. legacy (Fluent Bit\'s default): rules are tried ' +
      'in order and the first that decides wins: a Regex that does not match drops, a Regex that matches keeps, ' +
      'an Exclude that matches drops; a record no rule decides is kept.',
  },
] as const;

export const grepManifest = defineFilterManifest({
  kind: 'filter',
  name: 'grep',
  description: 'Grep events by specified field values',
  schema,
});
