import { configMessage } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import type { TimerHandle } from '../../base/clock.js';
import { forEachEvent, isGroupMarker, writeEvent } from '../../codec/event.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { MultilineEngine, recordMetadata, type MultilineRecord } from '../../multiline/engine.js';
import { PartialMessageJoiner } from '../../multiline/partial.js';
import { multilineParserKey } from '../../multiline/builtins.js';
import { DEFAULT_BUFFER_LIMIT_BYTES } from '../../multiline/types.js';
import { defineFilter } from '../../pipeline/contracts.js';

const schema = [
  multilineParserKey,
  { key: 'multiline.key_content', type: 'string', default: null, description: 'Key holding the text to join (e.g. log); overrides the parsers\' own key_content. Required with mode partial_message.' },
  {
    key: 'mode',
    type: 'enum',
    values: ['parser', 'partial_message'],
    default: 'parser',
    description: 'parser: join lines with multiline.parser. partial_message: join the pieces of a line that a log driver split (partial_message, partial_id, partial_last keys).',
  },
  {
    key: 'buffer',
    type: 'bool',
    default: true,
    description: 'Keep open groups across emits and release them when complete or after flush_ms, so records that arrive one at a time (forward, tcp) are joined. Off: groups are joined within one emit only.',
  },
  { key: 'flush_ms', type: 'int', default: 2000, description: 'Milliseconds an open group waits for its next line before it is emitted as it is (at least 500).' },
  { key: 'emitter_name', type: 'string', default: null, description: 'Accepted for compatibility: wsbit passes joined records straight to the filters after this one, without an emitter input.' },
  { key: 'emitter_storage.type', type: 'enum', values: ['memory', 'filesystem'], default: 'memory', description: 'Accepted for compatibility: joined records are buffered as records of the input they came from.' },
  { key: 'emitter_mem_buf_limit', type: 'size', default: '10M', description: 'Accepted for compatibility: joined records count against the Mem_Buf_Limit of the input they came from.' },
] as const;

/** flb_ml_auto_flush_init refuses shorter timeouts. */
const MIN_FLUSH_MS = 500;

/**
 * Fluent Bit's `multiline` filter (`plugins/filter_multiline`): joins the records of one input and tag
 * whose key_content holds consecutive lines of one message (a stack trace, a split container line).
 * Joined records go on down the filter chain; with buffer on, a group completed by a timer or open at
 * shutdown is handed over through the filter context's `emit`, so none is lost.
 */
export const multilineFilter = defineFilter({
  kind: 'filter',
  name: 'multiline',
  description: 'Concatenate multiline messages',
  schema,
  create(context) {
    const { config, instance, telemetry, clock } = context;
    const emitLater = context.emit;
    if (emitLater === undefined) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: multiline holds records back and releases them later, so it runs as a [FILTER] or an input's processor, not as an output's processor`));
    }
    const names = config['multiline.parser'].flat();
    const partialMode = config.mode === 'partial_message';
    if (config.flush_ms < MIN_FLUSH_MS) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: flush_ms ${config.flush_ms} is too low: at least ${MIN_FLUSH_MS}`));
    }
    if (partialMode && config['multiline.key_content'] === null) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode partial_message requires multiline.key_content (e.g. log)`));
    }
    if (partialMode && !config.buffer) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode partial_message requires buffer on`));
    }
    if (!partialMode && names.length === 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode parser requires at least one multiline.parser (e.g. java, python)`));
    }
    const flushMs = config.flush_ms;
    const writer = new MsgpackWriter(16 * 1024);
    const late = new MsgpackWriter(16 * 1024);
    /** Where records flushed by the engine go: this emit's output, or a later emit of their own. */
    let sink: ((stream: string, record: MultilineRecord) => void) | null = null;
    const streams = new Map<string, { tag: string; input: string }>();
    let timer: TimerHandle | null = null;

    const writeRecord = (out: MsgpackWriter, record: MultilineRecord): void => {
      writeEvent(out, record.time.sec, record.time.nsec, recordMetadata(record), record.body);
      if (record.truncated) telemetry.event('warn', 'multiline message truncated due to buffer limit', 'fluentbit_filter_emit_truncated_total');
    };

    /** Hands records released outside `filter` (timer, stop) to the rest of the pipeline, per stream. */
    const emitLate = (records: ReadonlyArray<{ tag: string; input: string; write: (out: MsgpackWriter) => void }>): void => {
      let start = 0;
      while (start < records.length) {
        const first = records[start] as (typeof records)[number];
        late.reset();
        let end = start;
        while (end < records.length && records[end]?.tag === first.tag && records[end]?.input === first.input) {
          (records[end] as (typeof records)[number]).write(late);
          end++;
        }
        telemetry.count('fluentbit_filter_emit_records_total', end - start);
        emitLater(late.bytes(), end - start, first.tag, first.input);
        start = end;
      }
    };

    const engine = partialMode
      ? null
      : new MultilineEngine(
          names.map((name) => context.parsers.requireMultiline(name, instance)),
          {
            keyContent: config['multiline.key_content'],
            bufferLimitBytes: DEFAULT_BUFFER_LIMIT_BYTES,
            nowMs: () => clock.nowMs(),
            onRecord: (stream, record) => sink?.(stream, record),
          },
        );
    const joiner = partialMode ? new PartialMessageJoiner(config['multiline.key_content'] as string, DEFAULT_BUFFER_LIMIT_BYTES) : null;

    /** Releases what waited long enough (or everything, at stop). */
    const release = (all: boolean): void => {
      const out: Array<{ tag: string; input: string; write: (out: MsgpackWriter) => void }> = [];
      if (engine !== null) {
        sink = (stream, record) => {
          const owner = streams.get(stream);
          if (owner !== undefined) out.push({ ...owner, write: (w) => writeRecord(w, record) });
        };
        if (all) engine.flushAll();
        else for (const forgotten of engine.flushIdle(flushMs)) streams.delete(forgotten);
        sink = null;
      }
      if (joiner !== null) {
        for (const record of joiner.expire(clock.nowMs(), all ? 0 : flushMs)) {
          out.push({ tag: record.tag, input: record.input, write: (w) => writeEvent(w, record.time.sec, record.time.nsec, null, record.body) });
        }
      }
      emitLate(out);
      const pending = engine?.hasPending() === true || (joiner?.pending ?? 0) > 0;
      if (!pending && timer !== null) {
        timer.cancel();
        timer = null;
      }
    };

    const armTimer = (): void => {
      if (!config.buffer || timer !== null) return;
      if (engine?.hasPending() !== true && (joiner?.pending ?? 0) === 0) return;
      // Fluent Bit's partial timer runs every flush_ms / 2; the parser mode checks as often.
      timer = clock.setInterval(() => release(false), Math.max(100, Math.floor(flushMs / 2)));
    };

    return {
      filter(events, records, tag, input = '') {
        writer.reset();
        let out = 0;
        const stream = `${input}\u0000${tag}`;
        if (engine !== null) {
          streams.set(stream, { tag, input });
          sink = (_stream, record) => {
            writeRecord(writer, record);
            out++;
          };
          try {
            forEachEvent(events, (event) => {
              if (isGroupMarker(event)) return;
              const metadata = event.metaEnd > event.metaStart ? events.subarray(event.metaStart, event.metaEnd) : null;
              engine.appendRecord(stream, { sec: event.sec, nsec: event.nsec }, metadata, events.subarray(event.bodyStart, event.bodyEnd));
            });
            // Without buffer, nothing stays open past this emit (flb_ml_flush_pending_now).
            if (!config.buffer) engine.flushAll(stream);
          } finally {
            sink = null;
          }
        } else if (joiner !== null) {
          forEachEvent(events, (event) => {
            if (isGroupMarker(event)) return;
            const result = joiner.add(tag, input, { sec: event.sec, nsec: event.nsec }, events.subarray(event.bodyStart, event.bodyEnd), clock.nowMs());
            if (result.kind === 'held') return;
            if (result.kind === 'done') {
              writeEvent(writer, result.record.time.sec, result.record.time.nsec, null, result.record.body);
            } else {
              if (result.problem !== undefined) telemetry.logger.warn(result.problem);
              writer.raw(events, event.start, event.end);
            }
            out++;
          });
        }
        armTimer();
        // Records held back are neither dropped nor lost (they leave later), so only the records seen
        // are counted here, and the records that left.
        telemetry.count('fluentbit_filter_records_total', records);
        telemetry.count('fluentbit_filter_emit_records_total', out);
        return { events: writer.bytes(), records: out };
      },
      stop() {
        release(true);
        timer?.cancel();
        timer = null;
      },
    };
  },
});
