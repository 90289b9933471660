import { configMessage, ParseFailure } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import type { EventView } from '../../codec/event.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { RegexTranslationError, translateOnigmo } from '../../regex/onigmo.js';
import { parseRecordAccessor, resolveAccessor, type RecordAccessor } from './record-accessor.js';
import { readStr } from '../../codec/msgpack-map.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { configOrder } from './rule-args.js';
import { splitFirstWord } from '../../config/words.js';

interface GrepRule {
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

/**
 * Fluent Bit's `grep` filter (`plugins/filter_grep`, `src/flb_grep.c`): keeps or drops whole records by
 * matching a value against a regex. As in Fluent Bit, only str values are matched: a number, a bool, a
 * map or a missing key never matches (so a Regex rule drops such a record and an Exclude rule keeps it).
 */
export const grepFilter = defineFilter({
  kind: 'filter',
  name: 'grep',
  description: 'Grep events by specified field values',
  schema,
  create(context) {
    const { config, instance } = context;
    const op = config.logical_op;
    if (op !== 'legacy' && config.regex.length > 0 && config.exclude.length > 0) {
      throw new ConfigError(
        'WSBIT_CONFIG_BAD_VALUE',
        configMessage(`${instance}: both 'regex' and 'exclude' are set; with logical_op ${op} use one kind of rule (Fluent Bit refuses this too)`),
      );
    }
    const rules = [
      ...config.regex.map((rule) => ({ ...rule, exclude: false })),
      ...config.exclude.map((rule) => ({ ...rule, exclude: true })),
    ].sort((a, b) => a.order - b.order);
    const rewriter = new EventRewriter();

    const matches = (events: Buffer, event: EventView, rule: GrepRule): boolean => {
      const range = resolveAccessor(events, event.bodyStart, event.bodyEnd, rule.accessor);
      const text = range === null ? null : readStr(events, range.start, range.end);
      return text !== null && rule.regex.test(text);
    };

    // flb_grep_filter_legacy: the first rule that decides wins.
    const keepLegacy = (events: Buffer, event: EventView): boolean => {
      for (const rule of rules) {
        if (matches(events, event, rule)) return !rule.exclude;
        if (!rule.exclude) return false;
      }
      return true;
    };

    // flb_grep_filter_data_and_or: every rule has the same kind here.
    const exclude = rules[0]?.exclude ?? false;
    const keepAndOr = (events: Buffer, event: EventView): boolean => {
      let found = false;
      for (const rule of rules) {
        found = matches(events, event, rule);
        if (op === 'OR' ? found : !found) break;
      }
      return exclude ? !found : found;
    };

    const keep = op === 'legacy' ? keepLegacy : keepAndOr;
    return {
      filter(events, records) {
        if (rules.length === 0) {
          countFilterRecords(context.telemetry, records, records);
          return { events, records };
        }
        const out = rewriter.rewrite(events, records, (buf, event) => (keep(buf, event) ? 'keep' : 'drop'));
        countFilterRecords(context.telemetry, records, out.records);
        return out;
      },
    };
  },
});
