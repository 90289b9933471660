/**
 * The two ways the multiline filter joins records, behind one interface: by multiline parsers (a stack
 * trace) or by the partial_message keys of a log driver that split a line.
 */
import type { Clock } from '../../../base/clock.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { forEachEvent, isGroupMarker, writeEvent } from '../../../codec/event.js';
import type { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { MultilineEngine, recordMetadata, type MultilineRecord } from '../../../multiline/engine.js';
import { PartialMessageJoiner } from '../../../multiline/partial.js';
import { DEFAULT_BUFFER_LIMIT_BYTES, type MultilineParserDefinition } from '../../../multiline/types.js';

/** A record released outside `filter` (timer, stop), with the input and tag it belongs to. */
export interface LateRecord {
  tag: string;
  input: string;
  write(out: MsgpackWriter): void;
}

export interface RecordJoiner {
  /** Appends to `out` the records that leave with this emit (joined, or passed as they are); returns how many. */
  join(events: Buffer, tag: string, input: string, out: MsgpackWriter): number;
  /** The records of groups that waited `flushMs` or more, or of all groups (`all`). */
  release(all: boolean, flushMs: number): LateRecord[];
  hasPending(): boolean;
}

interface JoinerContext {
  readonly clock: Clock;
  readonly telemetry: Telemetry;
}

/** mode parser: the multiline engine, one stream per input and tag. */
export class ParserJoiner implements RecordJoiner {
  private readonly engine: MultilineEngine;
  /** Where records flushed by the engine go: this emit's output, or a later emit of their own. */
  private sink: ((stream: string, record: MultilineRecord) => void) | null = null;
  private readonly streams = new Map<string, { tag: string; input: string }>();

  /** `buffer` off: nothing stays open past one emit (flb_ml_flush_pending_now). */
  constructor(
    parsers: readonly MultilineParserDefinition[],
    keyContent: string | null,
    private readonly buffer: boolean,
    private readonly context: JoinerContext,
  ) {
    this.engine = new MultilineEngine(parsers, {
      keyContent,
      bufferLimitBytes: DEFAULT_BUFFER_LIMIT_BYTES,
      nowMs: () => context.clock.nowMs(),
      onRecord: (stream, record) => this.sink?.(stream, record),
    });
  }

  join(events: Buffer, tag: string, input: string, out: MsgpackWriter): number {
    let count = 0;
    const stream = `${input}\u0000${tag}`;
    this.streams.set(stream, { tag, input });
    this.sink = (_stream, record) => {
      this.writeRecord(out, record);
      count++;
    };
    try {
      forEachEvent(events, (event) => {
        if (isGroupMarker(event)) return;
        const metadata = event.metaEnd > event.metaStart ? events.subarray(event.metaStart, event.metaEnd) : null;
        this.engine.appendRecord(stream, { sec: event.sec, nsec: event.nsec }, metadata, events.subarray(event.bodyStart, event.bodyEnd));
      });
      if (!this.buffer) this.engine.flushAll(stream);
    } finally {
      this.sink = null;
    }
    return count;
  }

  release(all: boolean, flushMs: number): LateRecord[] {
    const out: LateRecord[] = [];
    this.sink = (stream, record) => {
      const owner = this.streams.get(stream);
      if (owner !== undefined) out.push({ ...owner, write: (w) => this.writeRecord(w, record) });
    };
    if (all) this.engine.flushAll();
    else for (const forgotten of this.engine.flushIdle(flushMs)) this.streams.delete(forgotten);
    this.sink = null;
    return out;
  }

  hasPending(): boolean {
    return this.engine.hasPending();
  }

  private writeRecord(out: MsgpackWriter, record: MultilineRecord): void {
    writeEvent(out, record.time.sec, record.time.nsec, recordMetadata(record), record.body);
    if (record.truncated) this.context.telemetry.event('warn', 'multiline message truncated due to buffer limit', 'fluentbit_filter_emit_truncated_total');
  }
}

/** mode partial_message: pieces with the same partial_id are joined until partial_last. */
export class PartialJoiner implements RecordJoiner {
  private readonly joiner: PartialMessageJoiner;

  constructor(
    keyContent: string,
    private readonly context: JoinerContext,
  ) {
    this.joiner = new PartialMessageJoiner(keyContent, DEFAULT_BUFFER_LIMIT_BYTES);
  }

  join(events: Buffer, tag: string, input: string, out: MsgpackWriter): number {
    let count = 0;
    forEachEvent(events, (event) => {
      if (isGroupMarker(event)) return;
      const result = this.joiner.add(tag, input, { sec: event.sec, nsec: event.nsec }, events.subarray(event.bodyStart, event.bodyEnd), this.context.clock.nowMs());
      if (result.kind === 'held') return;
      if (result.kind === 'done') {
        writeEvent(out, result.record.time.sec, result.record.time.nsec, null, result.record.body);
      } else {
        if (result.problem !== undefined) this.context.telemetry.logger.warn(result.problem);
        out.raw(events, event.start, event.end);
      }
      count++;
    });
    return count;
  }

  release(all: boolean, flushMs: number): LateRecord[] {
    return this.joiner.expire(this.context.clock.nowMs(), all ? 0 : flushMs).map((record) => ({
      tag: record.tag,
      input: record.input,
      write: (w: MsgpackWriter) => writeEvent(w, record.time.sec, record.time.nsec, null, record.body),
    }));
  }

  hasPending(): boolean {
    return this.joiner.pending > 0;
  }
}
