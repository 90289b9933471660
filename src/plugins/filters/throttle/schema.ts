/** The `throttle` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

/** `parse_duration` in `throttle.c`: a positive number with an optional s, m, h or d. */
function parseInterval(raw: string): { text: string; seconds: number } | ParseFailure {
  const match = /^\s*(\d+(?:\.\d*)?|\.\d+)([smhd]?)\s*$/.exec(raw);
  const value = match === null ? 0 : Number(match[1]);
  if (match === null || !(value > 0)) return new ParseFailure('a positive number of seconds, optionally with a unit: 1, 1s, 5m, 1h, 1d');
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return { text: raw.trim(), seconds: value * unit };
}

const schema = [
  { key: 'rate', type: 'double', default: 1, description: 'Average number of records per interval let through, over the window (a value of 1 or less means 1, as in Fluent Bit).' },
  { key: 'window', type: 'int', default: 5, description: 'Number of intervals the average is taken over (a value of 1 or less means 5, as in Fluent Bit).' },
  { key: 'interval', type: 'string', default: '1', parse: parseInterval, description: 'Length of one interval: 1, 1s, 5m, 1h, 1d (whole seconds, at least 1).' },
  { key: 'print_status', type: 'bool', default: false, description: 'Log the limit and the current rate at every interval that records pass.' },
] as const;

export const throttleManifest = defineFilterManifest({
  kind: 'filter',
  name: 'throttle',
  description: 'Throttle messages using sliding window algorithm',
  schema,
});
