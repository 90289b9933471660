import { writeEvent } from '../../codec/event.js';
import type { MsgpackWriter } from '../../codec/msgpack-writer.js';
import type { Telemetry } from '../../base/telemetry.js';
import type { EventTime } from '../../base/record.js';
import type { Parser } from '../../parsers/types.js';

/**
 * Runs `parser` on one line and appends its record, timed by the parser or else `now`. A line it cannot
 * parse is counted and logged, then dropped, as Fluent Bit's tcp and stdin inputs do with a Parser.
 * Returns whether a record was written.
 */
export function writeParsedLine(writer: MsgpackWriter, parser: Parser, line: Uint8Array, now: EventTime, telemetry: Telemetry): boolean {
  const parsed = parser.parse(line, (message) => telemetry.logger.warn(message));
  if (!parsed.ok) {
    telemetry.event('warn', `parser '${parser.name}' could not parse a line, skipping: ${parsed.reason}`, 'wsbit_input_rejected_records_total');
    return false;
  }
  const time = parsed.time ?? now;
  writeEvent(writer, time.sec, time.nsec, null, parsed.body);
  return true;
}
