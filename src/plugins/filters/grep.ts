import { configMessage } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import type { EventView } from '../../codec/event.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { resolveAccessor } from './record-accessor.js';
import { readStr } from '../../codec/msgpack-map.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { type GrepRule, grepManifest } from './grep/schema.js';

/**
 * Fluent Bit's `grep` filter (`plugins/filter_grep`, `src/flb_grep.c`): keeps or drops whole records by
 * matching a value against a regex. As in Fluent Bit, only str values are matched: a number, a bool, a
 * map or a missing key never matches (so a Regex rule drops such a record and an Exclude rule keeps it).
 */
export const grepFilter = defineFilter({
  ...grepManifest,
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
