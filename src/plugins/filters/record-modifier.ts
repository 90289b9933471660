import { randomUUID } from 'node:crypto';
import { configMessage } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { mapEntries, stringEntry, strRange, type MapEntry } from '../../codec/msgpack-map.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { recordModifierManifest } from './record-modifier/schema.js';

interface KeyPattern {
  /** Lower-cased ASCII, UTF-8. */
  bytes: Uint8Array;
  /** `key*`: compare only the first `bytes.length` bytes. */
  prefix: boolean;
}

function keyPattern(text: string): KeyPattern {
  const prefix = text.endsWith('*');
  return { bytes: Buffer.from((prefix ? text.slice(0, -1) : text).replace(/[A-Z]/g, (c) => c.toLowerCase()), 'utf8'), prefix };
}

const lower = (b: number): number => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b);

/** `make_bool_map` in `filter_modifier.c`: `strncasecmp` on str and bin keys, by length or by prefix. */
function keyMatches(entry: MapEntry, pattern: KeyPattern): boolean {
  const text = strRange(entry.keyBuf, entry.keyStart, entry.keyEnd, true);
  if (text === null) return false;
  const length = text.end - text.start;
  if (pattern.prefix ? length < pattern.bytes.length : length !== pattern.bytes.length) return false;
  for (let i = 0; i < pattern.bytes.length; i++) {
    if (lower(entry.keyBuf[text.start + i] ?? 0) !== pattern.bytes[i]) return false;
  }
  return true;
}

/**
 * Fluent Bit's `record_modifier` filter (`plugins/filter_record_modifier`): removes keys (Remove_key) or
 * keeps only some (Allowlist_key), then appends the Record pairs in order and the Uuid_key. A record
 * left with no keys at all is dropped, as Fluent Bit drops it.
 */
export const recordModifierFilter = defineFilter({
  ...recordModifierManifest,
  create(context) {
    const { config, instance } = context;
    const allowlist = [...config.allowlist_key, ...config.whitelist_key];
    if (config.remove_key.length > 0 && allowlist.length > 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: remove_key and allowlist_key are exclusive with each other`));
    }
    const removing = config.remove_key.length > 0;
    const patterns = (removing ? config.remove_key : allowlist).map(keyPattern);
    const appended = config.record.map(({ key, value }) => stringEntry(key, value));
    const uuidKey = config.uuid_key;
    const rewriter = new EventRewriter();
    const addsKeys = appended.length > 0 || uuidKey !== null;

    return {
      filter(events, records) {
        if (patterns.length === 0 && !addsKeys) {
          countFilterRecords(context.telemetry, records, records);
          return { events, records };
        }
        const out = rewriter.rewrite(events, records, (buf, event) => {
          const entries = mapEntries(buf, event.bodyStart, event.bodyEnd) ?? [];
          const kept =
            patterns.length === 0 ? entries : entries.filter((entry) => patterns.some((pattern) => keyMatches(entry, pattern)) !== removing);
          if (kept.length === entries.length && !addsKeys) return 'keep';
          const body = [...kept, ...appended];
          if (uuidKey !== null) body.push(stringEntry(uuidKey, randomUUID()));
          return body.length === 0 ? 'drop' : body;
        });
        countFilterRecords(context.telemetry, records, out.records);
        return out;
      },
    };
  },
});
