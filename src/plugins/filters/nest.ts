import { ConfigError } from '../../base/errors.js';
import { configMessage } from '../../config/schema.js';
import { mapEntries, strRange, writeMap, type MapEntry } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { nestManifest } from './nest/schema.js';

interface Wildcard {
  bytes: Uint8Array;
  /** A trailing '*': the key only has to start with `bytes`. */
  prefix: boolean;
}

/** The bytes of a str or bin key (`nest.c` matches both), or null for another type. */
function keyBytes(entry: MapEntry): Uint8Array | null {
  const range = strRange(entry.keyBuf, entry.keyStart, entry.keyEnd, true);
  return range === null ? null : entry.keyBuf.subarray(range.start, range.end);
}

function bytesEqual(a: Uint8Array, b: Uint8Array, length = b.length): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Fluent Bit's `nest` filter (`plugins/filter_nest/nest.c`). Nest: the keys that match a Wildcard leave
 * the top level, in their order, for one map appended under Nest_under. Lift: every map under
 * Nested_under is replaced by its entries, appended after the other keys. Add_prefix / Remove_prefix
 * change only the moved keys, which are then written as str; every value keeps its bytes.
 */
export const nestFilter = defineFilter({
  ...nestManifest,
  create(context) {
    const { config, instance } = context;
    const fail = (reason: string): never => {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: ${reason}`));
    };
    const operation = config.operation ?? fail("'operation' must be set to nest or lift");
    if (config.add_prefix !== null && config.remove_prefix !== null) fail('Add_prefix and Remove_prefix are exclusive (Fluent Bit refuses both too)');
    const wildcards: Wildcard[] = config.wildcard.map((text) => {
      const prefix = text.endsWith('*');
      return { bytes: Buffer.from(prefix ? text.slice(0, -1) : text, 'utf8'), prefix };
    });
    let under: Buffer;
    if (operation === 'nest') {
      if (config.nest_under === null || config.nest_under === '') fail("operation nest needs 'nest_under', the key of the new map");
      if (wildcards.length === 0) fail("operation nest needs at least one 'wildcard'");
      under = Buffer.from(config.nest_under ?? '', 'utf8');
    } else {
      if (config.nested_under === null || config.nested_under === '') fail("operation lift needs 'nested_under', the key of the map to lift");
      under = Buffer.from(config.nested_under ?? '', 'utf8');
    }
    const addPrefix = config.add_prefix === null ? null : Buffer.from(config.add_prefix, 'utf8');
    const removePrefix = config.remove_prefix === null ? null : Buffer.from(config.remove_prefix, 'utf8');
    const notAMap = context.logger.repeating('info');
    const rewriter = new EventRewriter();
    const scratch = new MsgpackWriter(1024);
    const keyWriter = new MsgpackWriter(256);

    const toNest = (entry: MapEntry): boolean => {
      const key = keyBytes(entry);
      if (key === null) return false;
      return wildcards.some((w) => (w.prefix ? bytesEqual(key, w.bytes) : key.length === w.bytes.length && bytesEqual(key, w.bytes)));
    };

    /** The moved entry with its key prefixed or unprefixed (and so written as str); other keys as they are. */
    const moved = (entry: MapEntry): MapEntry => {
      if (addPrefix === null && removePrefix === null) return entry;
      const key = keyBytes(entry);
      if (key === null) return entry;
      let text: Uint8Array = key;
      if (addPrefix !== null) text = Buffer.concat([addPrefix, key]);
      else if (removePrefix !== null && bytesEqual(key, removePrefix)) text = key.subarray(removePrefix.length);
      keyWriter.reset();
      keyWriter.strUtf8(text, 0, text.length);
      const keyBuf = keyWriter.bytes();
      return { keyBuf, keyStart: 0, keyEnd: keyBuf.length, valueBuf: entry.valueBuf, valueStart: entry.valueStart, end: entry.end };
    };

    const nest = (entries: readonly MapEntry[]): readonly MapEntry[] | 'keep' => {
      const nested = entries.filter(toNest);
      if (nested.length === 0) return 'keep';
      const movedEntries = nested.map(moved);
      scratch.reset();
      scratch.strUtf8(under, 0, under.length);
      const keyEnd = scratch.length;
      writeMap(scratch, movedEntries);
      const bytes = scratch.bytes();
      const entry: MapEntry = { keyBuf: bytes, keyStart: 0, keyEnd, valueBuf: bytes, valueStart: keyEnd, end: bytes.length };
      return [...entries.filter((e) => !toNest(e)), entry];
    };

    const isUnder = (entry: MapEntry): boolean => {
      const key = keyBytes(entry);
      return key !== null && key.length === under.length && bytesEqual(key, under);
    };

    const lift = (entries: readonly MapEntry[]): readonly MapEntry[] | 'keep' => {
      const kept: MapEntry[] = [];
      const lifted: MapEntry[] = [];
      let found = false;
      for (const entry of entries) {
        if (!isUnder(entry)) {
          kept.push(entry);
          continue;
        }
        const inner = mapEntries(entry.valueBuf, entry.valueStart, entry.end);
        if (inner === null) {
          notAMap.log(`Value of key '${config.nested_under}' is not a map. Will not attempt to lift from here`);
          kept.push(entry);
          continue;
        }
        found = true;
        for (const child of inner) lifted.push(moved(child));
      }
      return found ? [...kept, ...lifted] : 'keep';
    };

    const apply = operation === 'nest' ? nest : lift;
    return {
      filter(events, records) {
        const out = rewriter.rewrite(events, records, (buf, event) => {
          const entries = mapEntries(buf, event.bodyStart, event.bodyEnd);
          return entries === null ? 'keep' : apply(entries);
        });
        countFilterRecords(context.telemetry, records, out.records);
        return out;
      },
    };
  },
});
