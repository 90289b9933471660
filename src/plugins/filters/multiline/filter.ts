import type { TimerHandle } from '../../../base/clock.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { FilterContext, FilterInstance } from '../../../pipeline/contracts.js';
import { ParserJoiner, PartialJoiner, type LateRecord, type RecordJoiner } from './joiners.js';
import type { MultilineFilterOptions } from './options.js';

type LateEmit = NonNullable<FilterContext<unknown>['emit']>;

/**
 * The multiline filter at work: joins what each emit brings, and with buffer on releases the groups
 * left open later, from a timer or at stop, through the filter context's `emit`.
 */
export class MultilineFilter implements FilterInstance {
  private readonly writer = new MsgpackWriter(16 * 1024);
  private readonly late = new MsgpackWriter(16 * 1024);
  private readonly joiner: RecordJoiner;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly options: MultilineFilterOptions,
    private readonly context: Pick<FilterContext<unknown>, 'clock' | 'telemetry'>,
    private readonly emitLater: LateEmit,
  ) {
    this.joiner =
      options.mode === 'partial_message'
        ? new PartialJoiner(options.keyContent, context)
        : new ParserJoiner(options.parsers, options.keyContent, options.buffer, context);
  }

  filter(events: Buffer, records: number, tag: string, input = ''): { events: Buffer; records: number } {
    this.writer.reset();
    const out = this.joiner.join(events, tag, input, this.writer);
    this.armTimer();
    // Records held back are neither dropped nor lost (they leave later), so only the records seen
    // are counted here, and the records that left.
    this.context.telemetry.count('fluentbit_filter_records_total', records);
    this.context.telemetry.count('fluentbit_filter_emit_records_total', out);
    return { events: this.writer.bytes(), records: out };
  }

  stop(): void {
    this.release(true);
    this.timer?.cancel();
    this.timer = null;
  }

  /** Releases what waited long enough (or everything, at stop). */
  private release(all: boolean): void {
    this.emitLate(this.joiner.release(all, this.options.flushMs));
    if (!this.joiner.hasPending() && this.timer !== null) {
      this.timer.cancel();
      this.timer = null;
    }
  }

  private armTimer(): void {
    if (!this.options.buffer || this.timer !== null || !this.joiner.hasPending()) return;
    // Fluent Bit's partial timer runs every flush_ms / 2; the parser mode checks as often.
    this.timer = this.context.clock.setInterval(() => this.release(false), Math.max(100, Math.floor(this.options.flushMs / 2)));
  }

  /** Hands records released outside `filter` (timer, stop) to the rest of the pipeline, one emit per run of the same input and tag. */
  private emitLate(records: readonly LateRecord[]): void {
    let start = 0;
    while (start < records.length) {
      const first = records[start] as LateRecord;
      this.late.reset();
      let end = start;
      while (end < records.length && records[end]?.tag === first.tag && records[end]?.input === first.input) {
        (records[end] as LateRecord).write(this.late);
        end++;
      }
      this.context.telemetry.count('fluentbit_filter_emit_records_total', end - start);
      this.emitLater(this.late.bytes(), end - start, first.tag, first.input);
      start = end;
    }
  }
}
