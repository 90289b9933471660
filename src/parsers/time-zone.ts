/**
 * A parser's `Time_Zone` (an IANA name): wall-clock times without an offset are read in that zone.
 * Offsets come from the platform's `Intl` data, so wsbit needs no zoneinfo files.
 *
 * Wall-clock times that a transition makes ambiguous or impossible are resolved as Fluent Bit 5.1.1
 * resolves them (`tzif_tm2time`), checked against the real binary for America/New_York and Europe/Berlin:
 * - a repeated time (clocks go back) is the first of the two instants, in the offset before the change;
 * - a skipped time (clocks go forward) takes the offset in force at the same digits read as UTC, so
 *   02:30 in New York's gap is 07:30Z (EST) and 02:30 in Berlin's gap is 00:30Z (CEST).
 * Fluent Bit picks a repeated time's offset by the order of types in the zoneinfo file, which for a few
 * zones (Australia/Lord_Howe) is the later instant; and after 2037 it keeps the file's last offset,
 * where wsbit follows the zone's rules.
 */
import { fluentBitTimeZoneNames } from './time-zone-names.js';

export interface TimeZone {
  readonly name: string;
  /** Seconds east of UTC at the instant `utcSeconds`. */
  offsetAt(utcSeconds: number): number;
  /** The instant (seconds since the epoch) of a wall-clock time given as seconds since the epoch "in UTC". */
  toUtc(localSeconds: number): number;
}

const DAY = 86_400;
/** Offsets are cached per minute of UTC; transitions fall on whole minutes since the 1900s. */
const CACHE_LIMIT = 4096;

/** The zone named `name`, or null when Fluent Bit would refuse the name (it is case-sensitive and knows no `UTC`). */
export function loadTimeZone(name: string): TimeZone | null {
  if (!fluentBitTimeZoneNames.has(name)) return null;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', era: 'short',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  } catch {
    return null;
  }
  const cache = new Map<number, number>();

  const computeOffset = (utcSeconds: number): number => {
    const fields: Record<string, string> = {};
    for (const part of format.formatToParts(utcSeconds * 1000)) fields[part.type] = part.value;
    const year = Number(fields.year);
    const local = new Date(0);
    local.setUTCFullYear(fields.era === 'BC' ? 1 - year : year, Number(fields.month) - 1, Number(fields.day));
    local.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second));
    return Math.round(local.getTime() / 1000) - utcSeconds;
  };

  const offsetAt = (utcSeconds: number): number => {
    const whole = Math.floor(utcSeconds);
    const minute = Math.floor(whole / 60);
    const cached = cache.get(minute);
    if (cached !== undefined) return cached;
    const offset = computeOffset(minute * 60);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(minute, offset);
    return offset;
  };

  return {
    name,
    offsetAt,
    toUtc(localSeconds: number): number {
      const before = offsetAt(localSeconds - DAY);
      const after = offsetAt(localSeconds + DAY);
      // The larger offset first: for a repeated time that is the earlier instant.
      for (const offset of before >= after ? [before, after] : [after, before]) {
        if (offsetAt(localSeconds - offset) === offset) return localSeconds - offset;
      }
      return localSeconds - offsetAt(localSeconds);
    },
  };
}
