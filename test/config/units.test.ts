import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBool, parseDouble, parseInt, parseSizeBytes, parseTimeSeconds } from '../../src/config/units.js';

function table<T>(name: string, parse: (text: string) => T | undefined, cases: ReadonlyArray<readonly [string, T | undefined]>): void {
  describe(name, () => {
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${String(expected)}`, () => {
        assert.equal(parse(input), expected);
      });
    }
  });
}

// flb_utils_bool: true|on|yes / false|off|no, case-insensitive; anything else is not a boolean.
table('parseBool', parseBool, [
  ['true', true],
  ['On', true],
  ['YES', true],
  ['false', false],
  ['OFF', false],
  ['No', false],
  ['1', undefined],
  ['0', undefined],
  ['', undefined],
  ['enabled', undefined],
  [' on', undefined],
]);

// flb_utils_size_to_bytes: decimal units.
table('parseSizeBytes', parseSizeBytes, [
  ['0', 0],
  ['512', 512],
  ['1K', 1000],
  ['1k', 1000],
  ['1KB', 1000],
  ['1kb', 1000],
  ['5M', 5_000_000],
  ['5MB', 5_000_000],
  ['5mb', 5_000_000],
  ['1G', 1_000_000_000],
  ['2GB', 2_000_000_000],
  ['1.5M', 1_500_000],
  ['512B', 512],
  ['false', 0],
  ['FALSE', 0],
  ['', undefined],
  ['abc', undefined],
  ['M', undefined],
  ['1T', undefined],
  ['1KiB', undefined],
  ['1MBB', undefined],
  ['-1', undefined],
  ['1 M', undefined],
]);

// flb_utils_time_to_seconds: integer + s, m/M, h/H, d/D.
table('parseTimeSeconds', parseTimeSeconds, [
  ['0', 0],
  ['30', 30],
  ['30s', 30],
  ['30S', 30],
  ['5m', 300],
  ['5M', 300],
  ['1h', 3600],
  ['2H', 7200],
  ['1d', 86400],
  ['1D', 86400],
  ['1.5m', undefined],
  ['', undefined],
  ['abc', undefined],
  ['10x', undefined],
  ['-1', undefined],
  ['s', undefined],
]);

table('parseInt', parseInt, [
  ['0', 0],
  ['2020', 2020],
  ['-1', -1],
  ['+5', 5],
  ['80abc', undefined],
  ['1.0', undefined],
  ['', undefined],
  [' 1', undefined],
  ['0x10', undefined],
  ['99999999999999999999', undefined],
]);

table('parseDouble', parseDouble, [
  ['1', 1],
  ['0.5', 0.5],
  ['.25', 0.25],
  ['1.', 1],
  ['-2', -2],
  ['1e-3', 0.001],
  ['abc', undefined],
  ['1,5', undefined],
  ['', undefined],
  ['NaN', undefined],
  ['Infinity', undefined],
]);
