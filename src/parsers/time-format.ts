/**
 * `Time_Format`: strptime(3)-style patterns, read the way Fluent Bit's `flb_parser_time_lookup` does:
 *
 * - `%L` (Fluent Bit's own directive) reads fractional seconds, up to 9 digits; wsbit also takes
 *   Python's `%f` for the same thing;
 * - a format without `%Y`, `%y` or `%s` (syslog's `%b %d %H:%M:%S`) gets the current year, as Fluent
 *   Bit prepends it; month and day default to today's when the format has neither;
 * - a time without `%z`/`%Z` is UTC, shifted by `Time_Offset` (`+0900`), or read in the system time
 *   zone with `Time_System_Timezone on`;
 * - white space in the format matches any run of white space, and text after the last directive is
 *   ignored (flb_strptime stops there and Fluent Bit does not check the rest).
 *
 * Directives: %Y %y %m %d %e %j %H %k %I %l %M %S %p %L %f %z %Z %s %b %h %B %a %A %T %D %F %R
 * %n %t %%. Others are a config error at load time, not a silent misparse.
 */
import type { EventTime } from '../base/record.js';

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

/** Zone abbreviations %Z understands (seconds east of UTC). glibc's strptime only knows UTC/GMT and the local zone. */
const ZONES: Readonly<Record<string, number>> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0,
  EST: -5 * 3600, EDT: -4 * 3600, CST: -6 * 3600, CDT: -5 * 3600, MST: -7 * 3600, MDT: -6 * 3600, PST: -8 * 3600, PDT: -7 * 3600,
  WET: 0, WEST: 3600, BST: 3600, CET: 3600, CEST: 7200, EET: 7200, EEST: 3 * 3600, MSK: 3 * 3600,
  IST: 5 * 3600 + 1800, JST: 9 * 3600, KST: 9 * 3600, HKT: 8 * 3600, AEST: 10 * 3600, AEDT: 11 * 3600, NZST: 12 * 3600, NZDT: 13 * 3600,
};

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
    case 's': return [number('epoch', -1e12, 1e12, 13)];
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

/** Runs the tokens over `text`; null on the first mismatch. */
function scan(tokens: readonly Token[], text: string): Parsed | null {
  const out: Parsed = { hour: 0, minute: 0, second: 0, nsec: 0 };
  let pos = 0;
  for (const token of tokens) {
    switch (token.kind) {
      case 'space':
        while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
        break;
      case 'literal':
        if (!text.startsWith(token.text, pos)) return null;
        pos += token.text.length;
        break;
      case 'number': {
        if (token.leadingSpace) while (text.charCodeAt(pos) === 0x20) pos++;
        let sign = 1;
        if (token.field === 'epoch' && (text[pos] === '-' || text[pos] === '+')) {
          if (text[pos] === '-') sign = -1;
          pos++;
        }
        const start = pos;
        let value = 0;
        while (pos < text.length && pos - start < token.maxDigits) {
          const c = text.charCodeAt(pos);
          if (c < 0x30 || c > 0x39) break;
          value = value * 10 + (c - 0x30);
          pos++;
        }
        if (pos === start) return null;
        value *= sign;
        if (value < token.min || value > token.max) return null;
        if (token.field === 'year2') out.year = value < 69 ? 2000 + value : 1900 + value;
        else out[token.field] = value;
        break;
      }
      case 'fraction': {
        const start = pos;
        let digits = '';
        while (pos < text.length && text.charCodeAt(pos) >= 0x30 && text.charCodeAt(pos) <= 0x39) {
          if (digits.length < 9) digits += text[pos];
          pos++;
        }
        if (pos === start) return null;
        out.nsec = Number(digits.padEnd(9, '0'));
        break;
      }
      case 'ampm': {
        const word = text.slice(pos, pos + 2).toUpperCase();
        if (word !== 'AM' && word !== 'PM') return null;
        out.pm = word === 'PM';
        pos += 2;
        break;
      }
      case 'month-name': {
        const found = matchName(text, pos, MONTHS);
        if (found === null) return null;
        out.month = found.index + 1;
        pos += found.length;
        break;
      }
      case 'weekday-name': {
        const found = matchName(text, pos, WEEKDAYS);
        if (found === null) return null;
        pos += found.length;
        break;
      }
      case 'offset': {
        const match = /^(?:Z|[+-]\d{2}(?::?\d{2})?)/i.exec(text.slice(pos));
        if (match === null) return null;
        const offset = parseUtcOffset(match[0].toUpperCase());
        if (offset === null) return null;
        out.offsetSeconds = offset;
        pos += match[0].length;
        break;
      }
      case 'zone-name': {
        const match = /^[A-Za-z]+|^[+-]\d{2}(?::?\d{2})?/.exec(text.slice(pos));
        if (match === null) return null;
        const offset = ZONES[match[0].toUpperCase()] ?? parseUtcOffset(match[0]);
        if (offset === null || offset === undefined) return null;
        out.offsetSeconds = offset;
        pos += match[0].length;
        break;
      }
    }
  }
  return out;
}

/** Compiles a `Time_Format`; throws `TimeFormatError` for directives wsbit does not know. */
export function compileTimeFormat(format: string, options: TimeFormatOptions = {}): TimeFormat {
  const tokens = tokenize(format);
  const has = (field: Field): boolean => tokens.some((token) => token.kind === 'number' && token.field === field);
  const hasYear = has('year') || has('year2');
  const hasMonth = has('month') || tokens.some((token) => token.kind === 'month-name');
  const hasDay = has('day') || has('yday');
  const defaultOffset = options.offsetSeconds ?? 0;

  return {
    source: format,
    parse(text: string, nowMs: number = Date.now()): EventTime | null {
      const parsed = scan(tokens, text);
      if (parsed === null) return null;
      if (parsed.epoch !== undefined) return { sec: parsed.epoch, nsec: parsed.nsec };
      const now = new Date(nowMs);
      const year = parsed.year ?? now.getUTCFullYear();
      // Fluent Bit defaults a year-less time to today's month and day (flb_parser_time_lookup).
      const month = parsed.month ?? (hasYear || hasMonth ? 1 : now.getUTCMonth() + 1);
      let day = parsed.day ?? (hasYear || hasDay || hasMonth ? 1 : now.getUTCDate());
      let monthIndex = month - 1;
      if (parsed.yday !== undefined) {
        monthIndex = 0;
        day = parsed.yday;
      }
      let hour = parsed.hour;
      if (parsed.hour12 !== undefined) hour = (parsed.hour12 % 12) + (parsed.pm === true ? 12 : 0);
      else if (parsed.pm === true && hour < 12) hour += 12;
      let ms: number;
      if (parsed.offsetSeconds !== undefined) {
        ms = Date.UTC(year, monthIndex, day, hour, parsed.minute, parsed.second) - parsed.offsetSeconds * 1000;
      } else if (options.systemTimezone === true) {
        ms = new Date(year, monthIndex, day, hour, parsed.minute, parsed.second).getTime();
      } else {
        ms = Date.UTC(year, monthIndex, day, hour, parsed.minute, parsed.second) - defaultOffset * 1000;
      }
      // Date.UTC treats years 0-99 as 1900-1999; a four-digit %Y below 100 is rare enough to ignore.
      if (!Number.isFinite(ms)) return null;
      return { sec: Math.floor(ms / 1000), nsec: parsed.nsec };
    },
  };
}
