/**
 * The time of a JSON record, read from its date key (the websocket output's `json_date_key`, `date` by
 * default) in every `json_date_format` the output writes:
 *
 * | output `json_date_format` | value                               | read back as                         |
 * |---------------------------|-------------------------------------|--------------------------------------|
 * | double                    | 1700000000.123457                   | seconds, rounded to the microsecond  |
 * | epoch                     | 1700000000                          | seconds                              |
 * | epoch_ms                  | 1700000000123                       | milliseconds (integers >= 1e11)      |
 * | iso8601                   | "2023-11-14T22:13:20.123456Z"       | ISO 8601, any fraction, Z or ±hh:mm  |
 * | java_sql_timestamp        | "2023-11-14 22:13:20.123456"        | the same, UTC when no zone is given  |
 *
 * A double near today's dates carries about 0.2 µs, and Fluent Bit prints it with 6 decimals, so the
 * microsecond is the honest precision: 1700000000.123457 becomes 123457000 ns, not the 123456954 ns
 * the nearest double holds.
 *
 * Auto-detection treats an integer of 1e11 or more as milliseconds: 1e11 seconds is the year 5138,
 * while 1e11 ms is 1973. `time_format` removes the guess: `epoch_ms` reads every number as
 * milliseconds, `double`/`epoch` as seconds, and any other value is a strptime pattern for strings
 * (src/parsers/time-format.ts, the parsers' Time_Format).
 */
import type { EventTime } from '../../../base/record.js';
import { strRange } from '../../../codec/msgpack-map.js';
import { compileTimeFormat, parseUtcOffset, type TimeFormat } from '../../../parsers/time-format.js';

export interface RecordTimeReader {
  /** The time held by the msgpack value at `buf[pos..end)`, or null when it is not a time. */
  read(buf: Uint8Array, pos: number, end: number): EventTime | null;
}

type NumberUnit = 'auto' | 'seconds' | 'milliseconds';

/** Integers from here on are milliseconds when the unit is auto (see above). */
const MILLISECONDS_FROM = 1e11;
/** EventTime holds seconds as uint32. */
const MAX_SECONDS = 0xffffffff;

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** `time_format` → a reader; throws `TimeFormatError` for a strptime pattern wsbit does not know. */
export function recordTimeReader(timeFormat: string | null): RecordTimeReader {
  const word = timeFormat?.toLowerCase() ?? null;
  let unit: NumberUnit = 'auto';
  let pattern: TimeFormat | null = null;
  if (word === 'double' || word === 'epoch') unit = 'seconds';
  else if (word === 'epoch_ms' || word === 'epoch_millis' || word === 'epoch_milliseconds') unit = 'milliseconds';
  else if (timeFormat !== null && word !== 'iso8601' && word !== 'java_sql_timestamp') {
    pattern = compileTimeFormat(timeFormat);
    unit = 'seconds';
  }
  return {
    read(buf, pos, end) {
      const range = strRange(buf, pos, end);
      if (range !== null) {
        const text = Buffer.from(buf.buffer, buf.byteOffset + range.start, range.end - range.start).toString('utf8');
        return checked(pattern !== null ? pattern.parse(text) : parseIsoTime(text));
      }
      const number = readNumber(buf, pos, end);
      if (number === null) return null;
      if (number.isFloat) return checked(fromSeconds(number.value, unit === 'milliseconds' ? 1000 : 1));
      const milliseconds = unit === 'milliseconds' || (unit === 'auto' && number.value >= MILLISECONDS_FROM);
      return checked(milliseconds ? fromMilliseconds(number.value) : { sec: number.value, nsec: 0 });
    },
  };
}

function checked(time: EventTime | null): EventTime | null {
  if (time === null || !Number.isFinite(time.sec) || time.sec < 0 || time.sec > MAX_SECONDS) return null;
  return time;
}

/** Seconds (or milliseconds when `divisor` is 1000) as a float, rounded to the microsecond. */
function fromSeconds(value: number, divisor: number): EventTime | null {
  if (!Number.isFinite(value)) return null;
  const seconds = value / divisor;
  let sec = Math.floor(seconds);
  let micros = Math.round((seconds - sec) * 1e6);
  if (micros >= 1_000_000) {
    sec += 1;
    micros -= 1_000_000;
  }
  return { sec, nsec: micros * 1000 };
}

function fromMilliseconds(ms: number): EventTime {
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
}

/** ISO 8601 / RFC 3339 and Java SQL timestamps: `YYYY-MM-DD[T ]hh:mm:ss[.fraction][Z|±hh[:mm]]`, UTC without a zone. */
export function parseIsoTime(text: string): EventTime | null {
  const match = ISO_8601.exec(text.trim());
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const offset = match[8] === undefined ? 0 : parseUtcOffset(match[8].toUpperCase());
  if (offset === null) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) - offset * 1000;
  if (!Number.isFinite(ms)) return null;
  const nsec = match[7] === undefined ? 0 : Number(match[7].slice(0, 9).padEnd(9, '0'));
  return { sec: Math.floor(ms / 1000), nsec };
}

/** A msgpack int or float at `pos`; null for other types and for negative integers. */
function readNumber(buf: Uint8Array, pos: number, end: number): { value: number; isFloat: boolean } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  if (b <= 0x7f) return { value: b, isFloat: false };
  const width = b === 0xcc ? 1 : b === 0xcd ? 2 : b === 0xce || b === 0xca ? 4 : b === 0xcf || b === 0xcb ? 8 : 0;
  if (width === 0 || pos + 1 + width > end) return null;
  const view = new DataView(buf.buffer, buf.byteOffset + pos + 1, width);
  switch (b) {
    case 0xcc:
      return { value: view.getUint8(0), isFloat: false };
    case 0xcd:
      return { value: view.getUint16(0), isFloat: false };
    case 0xce:
      return { value: view.getUint32(0), isFloat: false };
    case 0xcf:
      return { value: Number(view.getBigUint64(0)), isFloat: false };
    case 0xca:
      return { value: view.getFloat32(0), isFloat: true };
    default:
      return { value: view.getFloat64(0), isFloat: true };
  }
}
