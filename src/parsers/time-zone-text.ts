/**
 * The zone part of a time, as Fluent Bit 5.1.1's flb_strptime reads it: `%Z` (a zone abbreviation from
 * its list, any case, not followed by a letter or digit) and `%z` (`Z`, `UT`, `UTC`, `GMT`, North
 * American `EST`...`PDT`, or `+hh`, `+hhmm`, `+hh:mm` with no range check, after optional white space).
 */

const HOUR = 3600;

/** flb_known_timezones, in its order: the first abbreviation that fits wins. */
const ABBREVIATIONS: ReadonlyArray<readonly [string, number]> = [
  ['GMT', 0], ['UTC', 0], ['Z', 0], ['UT', 0],
  ['EST', -5 * HOUR], ['EDT', -4 * HOUR], ['CST', -6 * HOUR], ['CDT', -5 * HOUR], ['MST', -7 * HOUR], ['MDT', -6 * HOUR],
  ['PST', -8 * HOUR], ['PDT', -7 * HOUR], ['AKST', -9 * HOUR], ['AKDT', -8 * HOUR], ['HST', -10 * HOUR], ['HADT', -9 * HOUR],
  ['AST', -4 * HOUR], ['ADT', -3 * HOUR], ['NST', -3.5 * HOUR], ['NDT', -2.5 * HOUR],
  ['WET', 0], ['WEST', HOUR], ['CET', HOUR], ['CEST', 2 * HOUR], ['EET', 2 * HOUR], ['EEST', 3 * HOUR], ['MSK', 3 * HOUR],
  ['ART', -3 * HOUR], ['BRT', -3 * HOUR], ['BRST', -2 * HOUR], ['CLT', -4 * HOUR], ['CLST', -3 * HOUR],
  ['AEST', 10 * HOUR], ['AEDT', 11 * HOUR], ['ACST', 9.5 * HOUR], ['ACDT', 10.5 * HOUR], ['AWST', 8 * HOUR], ['NZST', 12 * HOUR], ['NZDT', 13 * HOUR],
  ['JST', 9 * HOUR], ['KST', 9 * HOUR], ['SGT', 8 * HOUR], ['IST', 5.5 * HOUR], ['GST', 4 * HOUR], ['ICT', 7 * HOUR],
  ['WIB', 7 * HOUR], ['WITA', 8 * HOUR], ['WIT', 9 * HOUR], ['MYT', 8 * HOUR], ['BDT', 6 * HOUR], ['NPT', 5.75 * HOUR],
  ['WAT', HOUR], ['CAT', 2 * HOUR], ['EAT', 3 * HOUR], ['SAST', 2 * HOUR],
  // Military zones; J (the observer's local time) is not one.
  ['A', HOUR], ['B', 2 * HOUR], ['C', 3 * HOUR], ['D', 4 * HOUR], ['E', 5 * HOUR], ['F', 6 * HOUR], ['G', 7 * HOUR], ['H', 8 * HOUR],
  ['I', 9 * HOUR], ['K', 10 * HOUR], ['L', 11 * HOUR], ['M', 12 * HOUR], ['N', -HOUR], ['O', -2 * HOUR], ['P', -3 * HOUR],
  ['Q', -4 * HOUR], ['R', -5 * HOUR], ['S', -6 * HOUR], ['T', -7 * HOUR], ['U', -8 * HOUR], ['V', -9 * HOUR], ['W', -10 * HOUR],
  ['X', -11 * HOUR], ['Y', -12 * HOUR],
];

/** RFC 822's North American zones that `%z` knows, standard then daylight. */
const NORTH_AMERICAN: ReadonlyArray<readonly [string, number]> = [
  ['EST', -5 * HOUR], ['CST', -6 * HOUR], ['MST', -7 * HOUR], ['PST', -8 * HOUR],
  ['EDT', -4 * HOUR], ['CDT', -5 * HOUR], ['MDT', -6 * HOUR], ['PDT', -7 * HOUR],
];

export interface ZoneRead {
  /** Seconds east of UTC. */
  offset: number;
  /** Where the text after the zone starts. */
  end: number;
}

const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9]$/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** `%Z` at `pos`, or null. (Fluent Bit would also try the system zone's names; wsbit does not.) */
export function readZoneAbbreviation(text: string, pos: number): ZoneRead | null {
  for (const [abbreviation, offset] of ABBREVIATIONS) {
    const end = pos + abbreviation.length;
    if (text.slice(pos, end).toUpperCase() === abbreviation && !isAlnum(text[end])) return { offset, end };
  }
  return null;
}

/** `%z` at `pos`, or null. */
export function readUtcOffset(text: string, pos: number): ZoneRead | null {
  let p = pos;
  while (p < text.length && /\s/.test(text[p] as string)) p++;
  const c = text[p];
  if (c === 'G') return text[p + 1] === 'M' && text[p + 2] === 'T' ? { offset: 0, end: p + 3 } : null;
  if (c === 'U') {
    if (text[p + 1] !== 'T') return null;
    return { offset: 0, end: text[p + 2] === 'C' ? p + 3 : p + 2 };
  }
  if (c === 'Z') return { offset: 0, end: p + 1 };
  if (c !== '+' && c !== '-') {
    const word = text.slice(p, p + 3).toUpperCase();
    const known = NORTH_AMERICAN.find(([name]) => name === word);
    return known === undefined ? null : { offset: known[1], end: p + 3 };
  }
  p++;
  if (!isDigit(text[p]) || !isDigit(text[p + 1])) return null;
  let offset = Number(text.slice(p, p + 2)) * HOUR;
  p += 2;
  if (text[p] === ':') p++;
  if (isDigit(text[p])) {
    if (!isDigit(text[p + 1])) return null;
    offset += Number(text.slice(p, p + 2)) * 60;
    p += 2;
  }
  return { offset: c === '-' ? -offset : offset, end: p };
}
