import { defineFilter } from '../../pipeline/contracts.js';
import { resolveAccessor } from './record-accessor.js';
import { keyEquals, mapEntries, readStr, strEquals, strRange, withKey, type MapEntry, type ValueRange } from '../../codec/msgpack-map.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { type ModifyRule, type ModifyCondition, modifyManifest } from './modify/schema.js';

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
  ...modifyManifest,
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
