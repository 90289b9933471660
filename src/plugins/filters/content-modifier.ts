import { createHash } from 'node:crypto';
import { decode } from '@msgpack/msgpack';
import { configMessage } from '../../config/schema.js';
import { encodeStr, keyEquals, mapEntries, stringEntry, strRange, withKey, type MapEntry } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { ConfigError } from '../../base/errors.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter, type RecordVerdict } from './event-rewriter.js';
import { ACTIONS, type Action, type ConvertedType, contentModifierManifest } from './content-modifier/schema.js';

const scratch = new MsgpackWriter(64);

/** An entry of `key` with a value the writer callback encodes. */
function entryWith(key: Uint8Array, write: (writer: MsgpackWriter) => void): MapEntry {
  scratch.reset();
  scratch.raw(key);
  const keyEnd = scratch.length;
  write(scratch);
  const bytes = scratch.bytes();
  return { keyBuf: bytes, keyStart: 0, keyEnd, valueBuf: bytes, valueStart: keyEnd, end: bytes.length };
}

function decodeValue(entry: MapEntry): unknown {
  return decode(entry.valueBuf.subarray(entry.valueStart, entry.end), { useBigInt64: true });
}

/** A value as text: a string as it is, other scalars as JSON writes them. */
function valueText(entry: MapEntry): string {
  const text = strRange(entry.valueBuf, entry.valueStart, entry.end, true);
  if (text !== null) return Buffer.from(entry.valueBuf.subarray(text.start, text.end)).toString('utf8');
  const value = decodeValue(entry);
  return typeof value === 'bigint' ? value.toString() : JSON.stringify(value) ?? '';
}

/** The converted value's writer, or null when the value cannot become `type`. */
function converter(entry: MapEntry, type: ConvertedType): ((writer: MsgpackWriter) => void) | null {
  const value = decodeValue(entry);
  const text = typeof value === 'string' ? value.trim() : null;
  switch (type) {
    case 'string':
      return (writer) => writer.str(valueText(entry));
    case 'int': {
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return (writer) => writer.int(value);
      if (typeof value === 'number' && Number.isFinite(value)) return (writer) => writer.int(Math.trunc(value));
      if (typeof value === 'boolean') return (writer) => writer.int(value ? 1 : 0);
      if (text === null || !/^[+-]?\d+$/.test(text)) return null;
      const big = BigInt(text);
      return (writer) => writer.int(big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big);
    }
    case 'double': {
      if (typeof value === 'number' || typeof value === 'bigint') return (writer) => writer.float64(Number(value));
      if (typeof value === 'boolean') return (writer) => writer.float64(value ? 1 : 0);
      const number = text === null || text === '' ? NaN : Number(text);
      return Number.isFinite(number) ? (writer) => writer.float64(number) : null;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return (writer) => writer.bool(value);
      if (typeof value === 'number' || typeof value === 'bigint') return (writer) => writer.bool(Number(value) !== 0);
      const word = text?.toLowerCase();
      return word === 'true' || word === 'false' ? (writer) => writer.bool(word === 'true') : null;
    }
  }
}

function required(instance: string, action: Action, key: string, value: unknown): void {
  if (value === null) throw new ConfigError('WSBIT_CONFIG_MISSING_KEY', configMessage(`${instance}: action '${action}' needs '${key}'`));
}

/**
 * Fluent Bit's `content_modifier` processor (`plugins/processor_content_modifier`), on the record body.
 * Where Fluent Bit puts a key it changes is matched against the real binary (see
 * `test/fixtures/yaml/content-modifier.fluent-bit.out`): rename and hash change a pair in place;
 * insert, upsert, extract and convert write the pair again at the end of the body.
 */
export const contentModifierFilter = defineFilter({
  ...contentModifierManifest,
  create(context) {
    const { config, instance } = context;
    const action = config.action;
    if (action === null) throw new ConfigError('WSBIT_CONFIG_MISSING_KEY', configMessage(`${instance}: 'action' is required: one of ${ACTIONS.join(', ')}`));
    required(instance, action, 'key', config.key);
    const key = Buffer.from(config.key ?? '', 'utf8');
    const encodedKey = encodeStr(config.key ?? '');
    if (action === 'insert' || action === 'upsert' || action === 'rename') required(instance, action, 'value', config.value);
    if (action === 'extract') required(instance, action, 'pattern', config.pattern);
    if (action === 'convert') required(instance, action, 'converted_type', config.converted_type);
    const value = config.value ?? '';
    const encodedValueKey = encodeStr(value);
    const pattern = config.pattern;
    const rewriter = new EventRewriter();
    let unconverted = 0;

    const change = (entries: MapEntry[]): RecordVerdict => {
      const found = entries.findIndex((entry) => keyEquals(entry, key));
      const target = entries[found];
      const without = (): MapEntry[] => entries.filter((entry) => !keyEquals(entry, key));
      switch (action) {
        case 'insert':
          return target === undefined ? [...entries, stringEntry(config.key ?? '', value)] : 'keep';
        case 'upsert':
          return [...without(), stringEntry(config.key ?? '', value)];
        case 'delete':
          return target === undefined ? 'keep' : without();
        case 'rename':
          return target === undefined ? 'keep' : entries.map((entry, index) => (index === found ? withKey(entry, encodedValueKey) : entry));
        case 'hash': {
          if (target === undefined) return 'keep';
          const digest = createHash('sha256').update(valueText(target), 'utf8').digest('hex');
          return entries.map((entry, index) => (index === found ? entryWith(encodedKey, (writer) => writer.str(digest)) : entry));
        }
        case 'extract': {
          if (target === undefined || pattern === null) return 'keep';
          pattern.regex.lastIndex = 0;
          const groups = pattern.regex.exec(valueText(target))?.groups;
          if (groups === undefined) return 'keep';
          // The translation renames groups g0, g1, …; `names` gives back the ones written in the pattern.
          const found = pattern.names.filter(({ group }) => groups[group] !== undefined);
          const kept = entries.filter((entry) => !found.some(({ name }) => keyEquals(entry, Buffer.from(name, 'utf8'))));
          return [...kept, ...found.map(({ group, name }) => stringEntry(name, groups[group] ?? ''))];
        }
        case 'convert': {
          if (target === undefined || config.converted_type === null) return 'keep';
          const write = converter(target, config.converted_type);
          if (write === null) {
            unconverted++;
            return 'keep';
          }
          return [...without(), entryWith(encodedKey, write)];
        }
      }
    };

    return {
      filter(events, records) {
        unconverted = 0;
        const out = rewriter.rewrite(events, records, (buf, event) => {
          const entries = mapEntries(buf, event.bodyStart, event.bodyEnd);
          return entries === null ? 'keep' : change(entries);
        });
        // One line per emit or chunk, however many records failed, so a stream of bad values cannot flood the log.
        if (unconverted > 0) {
          context.logger.warn(`${unconverted} of ${records} records kept '${config.key ?? ''}' unchanged: its value cannot be converted to ${config.converted_type ?? ''}`);
        }
        countFilterRecords(context.telemetry, records, out.records);
        return out;
      },
    };
  },
});
