import { configMessage } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import { forEachEvent, isGroupMarker, writeEventHeader } from '../../codec/event.js';
import { keyEquals, mapEntries, strRange, writeMap, type MapEntry } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { Parser } from '../../parsers/types.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { countFilterRecords } from './event-rewriter.js';
import { parseRecordAccessor, resolveAccessor, type RecordAccessor } from './record-accessor.js';
import { parserManifest } from './parser/schema.js';

/**
 * Fluent Bit's `parser` filter (`plugins/filter_parser`): parses one string field of each record with
 * the first parser that accepts it, and replaces the record with the parsed fields (followed, with
 * Reserve_Data, by the other original fields in their order, and with Preserve_Key by the parsed key
 * itself). A parsed time replaces the record's time. A record whose field is missing, not a string,
 * or that no parser reads, passes unchanged, as in Fluent Bit.
 */
export const parserFilter = defineFilter({
  ...parserManifest,
  create(context) {
    const { config, instance, telemetry } = context;
    const keyName = config.key_name;
    if (keyName === null || keyName === '') {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: missing 'key_name' (the field to parse, e.g. Key_Name log)`));
    }
    if (config.parser.length === 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: no 'parser' given (e.g. Parser json); it names a parser from Parsers_File`));
    }
    // Fluent Bit only logs an unknown parser and goes on with the others; wsbit refuses to start, since
    // a typo would otherwise silently leave records unparsed.
    const parsers: Parser[] = config.parser.map((name) => context.parsers.require(name, instance));
    let accessor: RecordAccessor | null = null;
    if (keyName.startsWith('$')) {
      accessor = parseRecordAccessor(keyName);
      if (accessor === null) {
        throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: invalid record accessor pattern '${keyName}' for key_name`));
      }
    }
    const keyBytes = Buffer.from(keyName, 'utf8');
    const writer = new MsgpackWriter(16 * 1024);
    const warn = (message: string): void => telemetry.logger.warn(message);

    /** The first parser that reads `value`, and what it made of it. */
    const parse = (buf: Uint8Array, start: number, end: number): { body: Buffer; sec: number; nsec: number } | null => {
      const text = buf.subarray(start, end);
      for (const parser of parsers) {
        const parsed = parser.parse(text, warn);
        if (parsed.ok) {
          const time = parsed.time;
          // A parsed time of 0 counts as none (flb_time_to_nanosec == 0), as in the C filter.
          if (time === null || (time.sec === 0 && time.nsec === 0)) return { body: parsed.body, sec: -1, nsec: 0 };
          return { body: parsed.body, sec: time.sec, nsec: time.nsec };
        }
      }
      return null;
    };

    return {
      filter(events, records) {
        writer.reset();
        let changed = false;
        let copiedTo = 0;
        forEachEvent(events, (event) => {
          if (isGroupMarker(event)) return;
          const entries = mapEntries(events, event.bodyStart, event.bodyEnd);
          if (entries === null) return;
          let result: ReturnType<typeof parse> = null;
          let parsedEntry: MapEntry | null = null;
          if (accessor !== null) {
            const range = resolveAccessor(events, event.bodyStart, event.bodyEnd, accessor);
            const text = range === null ? null : strRange(events, range.start, range.end, true);
            if (text !== null) result = parse(events, text.start, text.end);
          } else {
            // Every entry named Key_Name is tried, as the C loop does; the last one parsed wins.
            for (const entry of entries) {
              if (!keyEquals(entry, keyBytes, true)) continue;
              const text = strRange(events, entry.valueStart, entry.end, true);
              if (text === null) continue;
              const parsed = parse(events, text.start, text.end);
              if (parsed !== null) {
                result = parsed;
                parsedEntry = entry;
              }
            }
          }
          if (result === null) return;
          writer.raw(events, copiedTo, event.start);
          changed = true;
          copiedTo = event.end;
          const sec = result.sec >= 0 ? result.sec : event.sec;
          const nsec = result.sec >= 0 ? result.nsec : event.nsec;
          const metadata = event.metaEnd > event.metaStart ? events.subarray(event.metaStart, event.metaEnd) : null;
          writeEventHeader(writer, sec, nsec, metadata);
          let appended: readonly MapEntry[] = [];
          if (config.reserve_data) appended = config.preserve_key ? entries : entries.filter((entry) => entry !== parsedEntry);
          else if (config.preserve_key && parsedEntry !== null) appended = [parsedEntry];
          if (appended.length === 0) writer.raw(result.body);
          else writeMap(writer, [...(mapEntries(result.body) ?? []), ...appended]);
        });
        countFilterRecords(telemetry, records, records);
        if (!changed) return { events, records };
        writer.raw(events, copiedTo, events.length);
        return { events: writer.bytes(), records };
      },
    };
  },
});
