/**
 * `Time_Format`: strptime(3)-style patterns, read the way Fluent Bit's `flb_parser_time_lookup` does:
 *
 * - `%L` (Fluent Bit's own directive) reads fractional seconds, up to 9 digits; wsbit also takes
 *   Python's `%f` for the same thing;
 * - a format without `%Y`, `%y` or `%s` (syslog's `%b %d %H:%M:%S`) gets the current year, month and
 *   day, as Fluent Bit prepends them; a format with a year but no day gets day 0 (the last day of the
 *   month before: `%Y-%m` reads `2023-06` as May 31), as Fluent Bit's zeroed struct tm does;
 * - a time without `%z`/`%Z` is UTC, shifted by `Time_Offset` (`+0900`), or read in an IANA
 *   `Time_Zone`, or in the system time zone with `Time_System_Timezone on`;
 * - `Time_Strict off`: a time that fits the format only part way (no `%L` digits, a missing field)
 *   still counts, made of the fields read so far, without `Time_Offset`;
 * - white space in the format matches any run of white space, and text after the last directive is
 *   ignored (flb_strptime stops there and Fluent Bit does not check the rest).
 *
 * Directives: %Y %y %m %d %e %j %H %k %I %l %M %S %p %L %f %z %Z %s %b %h %B %a %A %T %D %F %R
 * %n %t %%. Others are a config error at load time, not a silent misparse.
 */
import type { EventTime } from '../base/record.js';
import type { TimeZone } from './time-zone.js';
import { readUtcOffset, readZoneAbbreviation } from './time-zone-text.js';

export class TimeFormatError extends Error {}

type Field = 'year' | 'year2' | 'month' | 'day' | 'yday' | 'hour' | 'hour12' | 'minute' | 'second' | 'epoch';

type Token =
  | { kind: 'literal'; text: string }
  | { kind: 'space' }
  | { kind: 'number'; field: Field; min: number; max: number; maxDigits: number; leadingSpace: boolean }
  | { kind: 'fraction' }
  | { kind: 'ampm' }
  | { kind: 'month-name' }
  | { kind: 'weekday-name' }
  | { kind: 'offset' }
  | { kind: 'zone-name' };

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const number = (field: Field, min: number, max: number, maxDigits: number, leadingSpace = false): Token => ({
  kind: 'number', field, min, max, maxDigits, leadingSpace,
});

function directive(c: string, format: string): Token[] {
  switch (c) {
    case 'Y': return [number('year', 0, 9999, 4)];
    case 'y': return [number('year2', 0, 99, 2)];
    case 'm': return [number('month', 1, 12, 2, true)];
    case 'd': case 'e': return [number('day', 1, 31, 2, true)];
    case 'j': return [number('yday', 1, 366, 3)];
    case 'H': case 'k': return [number('hour', 0, 23, 2, true)];
    case 'I': case 'l': return [number('hour12', 1, 12, 2, true)];
    case 'M': return [number('minute', 0, 59, 2)];
    case 'S': return [number('second', 0, 60, 2)];
    case 's': return [number('epoch', 0, 1e12, 19)];
    case 'L': case 'f': return [{ kind: 'fraction' }];
    case 'p': case 'P': return [{ kind: 'ampm' }];
    case 'b': case 'h': case 'B': return [{ kind: 'month-name' }];
    case 'a': case 'A': return [{ kind: 'weekday-name' }];
    case 'z': return [{ kind: 'offset' }];
    case 'Z': return [{ kind: 'zone-name' }];
    case 'T': return [...directive('H', format), { kind: 'literal', text: ':' }, ...directive('M', format), { kind: 'literal', text: ':' }, ...directive('S', format)];
    case 'R': return [...directive('H', format), { kind: 'literal', text: ':' }, ...directive('M', format)];
    case 'D': return [...directive('m', format), { kind: 'literal', text: '/' }, ...directive('d', format), { kind: 'literal', text: '/' }, ...directive('y', format)];
    case 'F': return [...directive('Y', format), { kind: 'literal', text: '-' }, ...directive('m', format), { kind: 'literal', text: '-' }, ...directive('d', format)];
    case 'n': case 't': return [{ kind: 'space' }];
    case '%': return [{ kind: 'literal', text: '%' }];
    default:
      throw new TimeFormatError(`unsupported directive '%${c}' in time format '${format}'`);
  }
}

function tokenize(format: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c === '%') {
      // glibc's E and O modifiers (%Ey, %Od) change nothing in the C locale.
      let next = format[++i];
      if (next === 'E' || next === 'O') next = format[++i];
      if (next === undefined) throw new TimeFormatError(`time format '${format}' ends with a lone '%'`);
      tokens.push(...directive(next, format));
    } else if (/\s/.test(c)) {
      if (tokens[tokens.length - 1]?.kind !== 'space') tokens.push({ kind: 'space' });
    } else {
      const last = tokens[tokens.length - 1];
      if (last?.kind === 'literal') last.text += c;
      else tokens.push({ kind: 'literal', text: c });
    }
  }
  return tokens;
}

export interface TimeFormatOptions {
  /** Seconds east of UTC for times without a zone (`Time_Offset`). */
  offsetSeconds?: number;
  /** Read times without a zone in the system's time zone (`Time_System_Timezone`). */
  systemTimezone?: boolean;
  /** Read times without a zone in this IANA zone (`Time_Zone`). */
  timeZone?: TimeZone;
  /**
   * `Time_Strict` (default on). Off, a time that stops fitting the format part way still gives a time,
   * made of the fields read so far, as Fluent Bit's strptime leaves them.
   */
  strict?: boolean;
}

/** A compiled `Time_Format`. */
export interface TimeFormat {
  readonly source: string;
  /** The time in `text`, or null when `text` does not fit the format. `nowMs` fills a missing year. */
  parse(text: string, nowMs?: number): EventTime | null;
}

/** `Time_Offset`: `+0900`, `-07:00`, `+09`, `Z` → seconds east of UTC (`flb_parser_tzone_offset`). */
export function parseUtcOffset(text: string): number | null {
  if (text === 'Z' || text === 'z') return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(text.trim());
  if (match === null) return null;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? '0');
  if (hours > 23 || minutes > 59) return null;
  return (match[1] === '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
}

interface Parsed {
  year?: number;
  /** `%y`: applied only once the whole format matched, as flb_strptime does at its end. */
  year2?: number;
  month?: number;
  day?: number;
  yday?: number;
  hour: number;
  hour12?: number;
  pm?: boolean;
  minute: number;
  second: number;
  nsec: number;
  epoch?: number;
  offsetSeconds?: number;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function matchName(text: string, at: number, names: readonly string[]): { index: number; length: number } | null {
  const rest = text.slice(at, at + 12).toLowerCase();
  // Full names first, so "March" is not read as "Mar" followed by "ch".
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (rest.startsWith(name)) return { index: i, length: name.length };
  }
  for (let i = 0; i < names.length; i++) {
    if (rest.startsWith((names[i] as string).slice(0, 3))) return { index: i, length: 3 };
  }
  return null;
}

/** Runs the tokens over `text`; `complete` is false from the first mismatch on, with the fields read until then. */
function scan(tokens: readonly Token[], text: string): { parsed: Parsed; complete: boolean } {
  const parsed: Parsed = { hour: 0, minute: 0, second: 0, nsec: 0 };
  const complete = scanInto(tokens, text, parsed);
  return { parsed, complete };
}

function scanInto(tokens: readonly Token[], text: string, out: Parsed): boolean {
  let pos = 0;
  for (const token of tokens) {
    switch (token.kind) {
      case 'space':
        while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
        break;
      case 'literal':
        if (!text.startsWith(token.text, pos)) return false;
        pos += token.text.length;
        break;
      case 'number': {
        if (token.leadingSpace) while (text.charCodeAt(pos) === 0x20) pos++;
        const start = pos;
        let value = 0;
        while (pos < text.length && pos - start < token.maxDigits) {
          const c = text.charCodeAt(pos);
          if (c < 0x30 || c > 0x39) break;
          value = value * 10 + (c - 0x30);
          pos++;
        }
        if (pos === start) return false;
        if (value < token.min || value > token.max) return false;
        if (token.field === 'year2') out.year2 = value;
        else out[token.field] = value;
        break;
      }
      case 'fraction': {
        // parse_subseconds: at most 9 digits (a 10th must fit what follows %L), read as the double
        // 0.DIGITS and truncated to nanoseconds, so .000511 is 510999 ns, as in Fluent Bit.
        const start = pos;
        while (pos < text.length && pos - start < 9 && text.charCodeAt(pos) >= 0x30 && text.charCodeAt(pos) <= 0x39) pos++;
        if (pos === start) return false;
        out.nsec = Math.trunc(Number(`0.${text.slice(start, pos)}`) * 1e9);
        break;
      }
      case 'ampm': {
        const word = text.slice(pos, pos + 2).toUpperCase();
        if (word !== 'AM' && word !== 'PM') return false;
        out.pm = word === 'PM';
        pos += 2;
        break;
      }
      case 'month-name': {
        const found = matchName(text, pos, MONTHS);
        if (found === null) return false;
        out.month = found.index + 1;
        pos += found.length;
        break;
      }
      case 'weekday-name': {
        const found = matchName(text, pos, WEEKDAYS);
        if (found === null) return false;
        pos += found.length;
        break;
      }
      case 'offset':
      case 'zone-name': {
        const zone = token.kind === 'offset' ? readUtcOffset(text, pos) : readZoneAbbreviation(text, pos);
        if (zone === null) return false;
        out.offsetSeconds = zone.offset;
        pos = zone.end;
        break;
      }
    }
  }
  return true;
}

/** `timegm`: the fields as a UTC time in seconds, out-of-range values carried over (day 0 is the last of the month before). */
function timegm(year: number, monthIndex: number, day: number, hour: number, minute: number, second: number): number {
  // Date.UTC reads years 0-99 as 1900-1999, so only later years take the short way.
  if (year >= 100) return Date.UTC(year, monthIndex, day, hour, minute, second) / 1000;
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(hour, minute, second);
  return date.getTime() / 1000;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** Today's year, month index and day where the time is read: the zone, the system's zone, or UTC. */
function today(nowMs: number, options: TimeFormatOptions): { year: number; monthIndex: number; day: number } {
  if (options.timeZone !== undefined) {
    const seconds = Math.floor(nowMs / 1000);
    const local = new Date((seconds + options.timeZone.offsetAt(seconds)) * 1000);
    return { year: local.getUTCFullYear(), monthIndex: local.getUTCMonth(), day: local.getUTCDate() };
  }
  const now = new Date(nowMs);
  if (options.systemTimezone === true) return { year: now.getFullYear(), monthIndex: now.getMonth(), day: now.getDate() };
  return { year: now.getUTCFullYear(), monthIndex: now.getUTCMonth(), day: now.getUTCDate() };
}

/** Compiles a `Time_Format`; throws `TimeFormatError` for directives wsbit does not know. */
export function compileTimeFormat(format: string, options: TimeFormatOptions = {}): TimeFormat {
  const tokens = tokenize(format);
  const strict = options.strict !== false;
  // Fluent Bit decides these by searching the format text (flb_parser_create_with_time_zone).
  const withYear = format.includes('%Y') || format.includes('%y') || format.includes('%s');
  const withZone = ['%z', '%Z', '%SZ', '%S.%LZ'].some((marker) => format.includes(marker));
  const defaultOffset = options.offsetSeconds ?? 0;

  return {
    source: format,
    parse(text: string, nowMs: number = Date.now()): EventTime | null {
      const { parsed, complete } = scan(tokens, text);
      if (!complete && strict) return null;
      // Fluent Bit's struct tm starts zeroed: a format with a year but no day gives day 0, the last day
      // of the month before. A format without a year gets today's year, month and day first.
      let year = 1900;
      let monthIndex = 0;
      let day = 0;
      if (!withYear) ({ year, monthIndex, day } = today(nowMs, options));
      if (parsed.year !== undefined) year = parsed.year;
      if (complete && parsed.year2 !== undefined) year = parsed.year2 <= 68 ? 2000 + parsed.year2 : 1900 + parsed.year2;
      if (parsed.month !== undefined) monthIndex = parsed.month - 1;
      if (parsed.day !== undefined) day = parsed.day;
      if (complete && parsed.yday !== undefined) {
        // flb_strptime's ending: a day of the year fills the month and the day it was not given.
        let days = parsed.yday - 1;
        if (parsed.month === undefined) {
          monthIndex = 0;
          while (monthIndex < 12 && days >= (monthIndex === 1 && isLeap(year) ? 29 : MONTH_DAYS[monthIndex] as number)) {
            days -= monthIndex === 1 && isLeap(year) ? 29 : MONTH_DAYS[monthIndex] as number;
            monthIndex++;
          }
        }
        if (parsed.day === undefined) day = days + 1;
      }
      let hour = parsed.hour;
      if (parsed.hour12 !== undefined) hour = parsed.pm === undefined ? parsed.hour12 : (parsed.hour12 % 12) + (parsed.pm ? 12 : 0);
      else if (parsed.pm === true && hour < 12) hour += 12;
      // flb_strptime reads %s into UTC fields (gmtime), which are then read like any others: Time_Offset,
      // Time_Zone and a %z shift an epoch too, as in Fluent Bit.
      const local = parsed.epoch ?? timegm(year, monthIndex, day, hour, parsed.minute, parsed.second);
      let sec: number;
      if (options.systemTimezone === true) {
        // mktime: the system zone decides, whatever %z said.
        const fields = new Date(local * 1000);
        const date = new Date(0);
        date.setFullYear(fields.getUTCFullYear(), fields.getUTCMonth(), fields.getUTCDate());
        date.setHours(fields.getUTCHours(), fields.getUTCMinutes(), fields.getUTCSeconds(), 0);
        sec = date.getTime() / 1000;
      } else if (options.timeZone !== undefined && !withZone) {
        sec = options.timeZone.toUtc(local);
      } else {
        // Time_Offset applies only to a whole match; a partial one keeps the offset read so far, or none.
        const offset = parsed.offsetSeconds ?? (complete && !withZone && options.timeZone === undefined ? defaultOffset : 0);
        sec = local - offset;
      }
      // A time before 1970 cannot be encoded: Fluent Bit drops the record ("error packing event"), wsbit
      // takes it as no time (an error with Time_Strict on, the read time with it off).
      if (!Number.isFinite(sec) || sec < 0) return null;
      return { sec: Math.floor(sec), nsec: parsed.nsec };
    },
  };
}
