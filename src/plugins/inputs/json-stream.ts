import { readTimestampedRecord, writeEvent, writeEventHeader } from '../../codec/event.js';
import { scanJsonValue, skipJsonWhitespace, type ScanOptions } from '../../codec/json-scan.js';
import type { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { EventTime } from '../../base/record.js';
import { MAX_NESTING_DEPTH } from '../../codec/limits.js';

/**
 * What a top-level JSON array means on a stream input: Fluent Bit's tcp input nests it as
 * `{"msg": [...]}`; its stdin input reads it as Fluent's `[time, {record}]` event.
 */
export type TopLevelArray = 'nest-as-msg' | 'time-and-record';

/** Bytes of a malformed message left out of the stream, for the log line that reports them. */
export interface SkippedBytes {
  /** The skipped bytes, from the start of the bad message up to the newline that ends it (excluded). */
  bytes: Uint8Array;
  /** Why the message could not be read. */
  reason: string;
}

// The scan options for each kind of top-level value, made once rather than per record.
const OBJECT_SCAN: ScanOptions = { maxDepth: MAX_NESTING_DEPTH };
const NESTED_ARRAY_SCAN: ScanOptions = { maxDepth: MAX_NESTING_DEPTH - 1 };
const TIMED_ARRAY_SCAN: ScanOptions = { maxDepth: MAX_NESTING_DEPTH + 1 };

/**
 * Turns every complete JSON value at the start of `pending` (concatenated, with or without white
 * space between) into events appended to `writer`, stamped `time`. An object is a record; other
 * values are rejected through `reject`, and the stream goes on.
 *
 * Invalid JSON (or a record nested deeper than MAX_NESTING_DEPTH) costs only its own message: the
 * stream resynchronises at the next newline after the error, where a line-oriented sender starts its
 * next message, and the bytes skipped are reported through `skip`. Fluent Bit instead discards the
 * whole read, so `oops` followed by 1,000 good lines in one write loses all of them. When no newline
 * has arrived yet, the rest of `pending` is skipped, as Fluent Bit does. Returns how many bytes were
 * used (an incomplete value at the end waits for more) and how many records were written.
 */
export function appendJsonStreamEvents(
  pending: Buffer,
  writer: MsgpackWriter,
  scratch: MsgpackWriter,
  time: EventTime,
  arrays: TopLevelArray,
  reject: (reason: string) => void,
  skip: (skipped: SkippedBytes) => void,
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
    // A record may nest MAX_NESTING_DEPTH levels. On tcp `[...]` becomes {"msg": [...]}, one level more
    // than the text has; on stdin the record of `[time, {record}]` sits one level below the array.
    const scan = first === 0x5b ? (arrays === 'nest-as-msg' ? NESTED_ARRAY_SCAN : TIMED_ARRAY_SCAN) : OBJECT_SCAN;
    const result = scanJsonValue(pending, offset, direct ? writer : scratch, scan);
    if (result.status === 'incomplete') {
      writer.truncate(mark);
      break;
    }
    if (result.status === 'error') {
      writer.truncate(mark);
      const newline = pending.indexOf(0x0a, result.offset);
      const resume = newline < 0 ? pending.length : newline + 1;
      skip({ bytes: pending.subarray(offset, newline < 0 ? pending.length : newline), reason: result.message });
      offset = resume;
      continue;
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
