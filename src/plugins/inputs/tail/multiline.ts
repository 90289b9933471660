/**
 * tail's `multiline.parser` (in_tail's `ml_ctx`): every followed file is a stream of the multiline
 * engine, lines go in as text, and joined records come out with the file's tag, at once when a
 * group completes, or from the idle timer, or when the file is let go or tail stops.
 */
import { writeEventHeader } from '../../../codec/event.js';
import { mapEntries, rewriteMap } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { Clock } from '../../../base/clock.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { MultilineEngine, recordMetadata, type MultilineRecord } from '../../../multiline/engine.js';
import { DEFAULT_BUFFER_LIMIT_BYTES, type MultilineParserDefinition } from '../../../multiline/types.js';
import { OffsetsDb } from './offsets-db.js';
import type { LineView, TailFile } from './tail-file.js';

export interface TailMultilineOptions {
  clock: Clock;
  pathKey: string | null;
  offsetKey: string | null;
  telemetry: Telemetry;
  emit(events: Buffer, records: number, tag: string): void;
}

/** A followed file as the multiline streams know it; `offset` is what offset_key gets for a record flushed now. */
interface StreamFile {
  tag: string;
  name: string;
  offset: number;
}

export class TailMultiline {
  private readonly engine: MultilineEngine;
  private readonly writer = new MsgpackWriter(64 * 1024);
  /** Records flushed and not yet emitted, in order, with their file and offset_key value. */
  private pending: Array<{ file: StreamFile; record: MultilineRecord; offset: number }> = [];
  private readonly files = new Map<string, StreamFile>();
  /** How often open groups are checked against the flush timeout. */
  readonly tickMs: number;

  constructor(definitions: readonly MultilineParserDefinition[], private readonly options: TailMultilineOptions) {
    this.engine = new MultilineEngine(definitions, {
      bufferLimitBytes: DEFAULT_BUFFER_LIMIT_BYTES,
      nowMs: () => options.clock.nowMs(),
      onRecord: (stream, record) => {
        const file = this.files.get(stream);
        if (file !== undefined) this.pending.push({ file, record, offset: file.offset });
      },
    });
    this.tickMs = Math.min(1000, Math.max(50, Math.floor(this.engine.flushTimeoutMs / 4)));
  }

  lines(file: TailFile, lines: readonly LineView[]): void {
    const stream = OffsetsDb.key(file.dev, file.ino);
    let state = this.files.get(stream);
    if (state === undefined) {
      state = { tag: file.tag, name: file.name, offset: 0 };
      this.files.set(stream, state);
    }
    for (const line of lines) {
      // A record flushed by this line gets its offset (in_tail's last_processed_bytes), as in Fluent Bit.
      state.offset = line.offset;
      const appended = this.engine.appendText(stream, line.bytes, null);
      if (appended === 'truncated') {
        this.options.telemetry.event('warn', `multiline message truncated due to buffer limit (${DEFAULT_BUFFER_LIMIT_BYTES} bytes) in ${file.name}`, 'fluentbit_input_multiline_truncated_total');
      }
    }
    // Records flushed later (timer, close) get the offset read up to, as in Fluent Bit.
    state.offset = file.committedOffset;
    this.drain();
  }

  flushIdle(): void {
    this.engine.flushIdle(this.engine.flushTimeoutMs);
    this.drain();
  }

  flushAll(): void {
    this.engine.flushAll();
    this.drain();
  }

  close(file: TailFile): void {
    const stream = OffsetsDb.key(file.dev, file.ino);
    this.engine.closeStream(stream);
    this.drain();
    this.files.delete(stream);
  }

  /** Emits the flushed records, one emit per run of records with the same tag. */
  private drain(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    const writer = this.writer;
    let start = 0;
    while (start < pending.length) {
      const tag = (pending[start] as (typeof pending)[number]).file.tag;
      let end = start;
      writer.reset();
      while (end < pending.length && (pending[end] as (typeof pending)[number]).file.tag === tag) {
        const { file, record, offset } = pending[end] as (typeof pending)[number];
        writeEventHeader(writer, record.time.sec, record.time.nsec, recordMetadata(record));
        const { pathKey, offsetKey } = this.options;
        if (pathKey === null && offsetKey === null) writer.raw(record.body);
        else {
          // record_append_custom_keys: path_key, then offset_key, after the record's keys.
          const suffix: Array<(w: MsgpackWriter) => void> = [];
          if (pathKey !== null) suffix.push((w) => {
            w.str(pathKey);
            w.str(file.name);
          });
          if (offsetKey !== null) suffix.push((w) => {
            w.str(offsetKey);
            w.uint(offset);
          });
          rewriteMap(writer, record.body, mapEntries(record.body) ?? [], { suffix });
        }
        end++;
      }
      this.options.emit(writer.view(), end - start, tag);
      start = end;
    }
  }
}
