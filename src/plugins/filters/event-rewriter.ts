/**
 * What the record filters share: one pass over an emit that copies unchanged events in bulk and
 * returns the input Buffer itself when nothing changed, and Fluent Bit's generic filter counters.
 * Bodies are read and written as map entries (`codec/msgpack-map.ts`), so untouched values, 64-bit
 * integers and float64s such as 3.0 are copied as they are.
 */
import { forEachEvent, isGroupMarker, type EventView } from '../../codec/event.js';
import { writeMap, type MapEntry } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { Telemetry } from '../../base/telemetry.js';

/** What a filter decided for one record: unchanged, dropped, or a new body made of these entries. */
export type RecordVerdict = 'keep' | 'drop' | readonly MapEntry[];

export interface FilterOutput {
  events: Buffer;
  records: number;
}

/**
 * Runs a per-record decision over the events of one emit. Events before the first change are not
 * copied until one happens, unchanged runs are copied in one piece, and when no record changed the
 * input Buffer is returned as it is. Each rewritten event keeps its original timestamp and metadata
 * bytes (`[[time, meta], ` is copied), and only its body map is written again.
 */
export class EventRewriter {
  private readonly writer = new MsgpackWriter(16 * 1024);

  rewrite(events: Buffer, records: number, visit: (events: Buffer, event: EventView) => RecordVerdict): FilterOutput {
    const writer = this.writer;
    let changed = false;
    let copiedTo = 0;
    let dropped = 0;
    forEachEvent(events, (event) => {
      if (isGroupMarker(event)) return;
      const verdict = visit(events, event);
      if (verdict === 'keep') return;
      if (!changed) {
        writer.reset();
        changed = true;
      }
      writer.raw(events, copiedTo, event.start);
      if (verdict === 'drop') {
        dropped++;
      } else {
        writer.raw(events, event.start, event.bodyStart);
        writeMap(writer, verdict);
      }
      copiedTo = event.end;
    });
    if (!changed) return { events, records };
    writer.raw(events, copiedTo, events.length);
    return { events: writer.bytes(), records: Math.max(0, records - dropped) };
  }
}

/**
 * Fluent Bit's generic filter counters (`flb_filter_do`): every record a filter sees, and the
 * difference between what went in and what came out as dropped or added records. A drop here is the
 * filter doing its job, so it is counted and never logged as a loss.
 */
export function countFilterRecords(telemetry: Telemetry, recordsIn: number, recordsOut: number): void {
  telemetry.count('fluentbit_filter_records_total', recordsIn);
  if (recordsOut < recordsIn) telemetry.count('fluentbit_filter_drop_records_total', recordsIn - recordsOut);
  else if (recordsOut > recordsIn) telemetry.count('fluentbit_filter_add_records_total', recordsOut - recordsIn);
}
