import { readTimestampedRecord, writeEvent, writeEventHeader } from '../../codec/event.js';
import { scanJsonValue, skipJsonWhitespace } from '../../codec/json-scan.js';
import type { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { EventTime } from '../../core/record.js';

/**
 * What a top-level JSON array means on a stream input: Fluent Bit's tcp input nests it as
 * `{"msg": [...]}`; its stdin input reads it as Fluent's `[time, {record}]` event.
 */
export type TopLevelArray = 'nest-as-msg' | 'time-and-record';

/**
 * Turns every complete JSON value at the start of `pending` (concatenated, with or without white
 * space between) into events appended to `writer`, stamped `time`. An object is a record; other
 * values are rejected through `reject`, and the stream goes on. Invalid JSON discards the rest of
 * `pending`, as Fluent Bit does, since there is no reliable point to resume from. Returns how many
 * bytes were used (an incomplete value at the end waits for more) and how many records were written.
 */
export function appendJsonStreamEvents(
  pending: Buffer,
  writer: MsgpackWriter,
  scratch: MsgpackWriter,
  time: EventTime,
  arrays: TopLevelArray,
  reject: (reason: string) => void,
): { consumed: number; records: number } {
  let records = 0;
  let offset = 0;
  for (;;) {
    offset = skipJsonWhitespace(pending, offset);
    if (offset >= pending.length) break;
    const first = pending[offset];
    const direct = first === 0x7b /* { */ || (first === 0x5b /* [ */ && arrays === 'nest-as-msg');
    const mark = writer.length;
    if (direct) {
      writeEventHeader(writer, time.sec, time.nsec, null);
      if (first === 0x5b) {
        writer.mapHeader(1);
        writer.str('msg');
      }
    } else {
      scratch.reset();
    }
    const result = scanJsonValue(pending, offset, direct ? writer : scratch);
    if (result.status === 'incomplete') {
      writer.truncate(mark);
      break;
    }
    if (result.status === 'error') {
      writer.truncate(mark);
      reject(result.message);
      offset = pending.length;
      break;
    }
    offset = result.end;
    if (direct) {
      records++;
      continue;
    }
    const timestamped = result.kind === 'array' ? readTimestampedRecord(scratch.view()) : null;
    if (timestamped === null) {
      reject(
        result.kind === 'array'
          ? 'a top-level array is not a [time, {record}] event'
          : `a top-level ${result.kind} is not a record (expected a JSON object or array)`,
      );
      continue;
    }
    writeEvent(writer, timestamped.sec, timestamped.nsec, null, timestamped.body);
    records++;
  }
  return { consumed: offset, records };
}
