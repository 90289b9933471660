import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/base/errors.js';
import { contentModifierFilter } from '../../src/plugins/filters/content-modifier.js';
import type { FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { makeFilter, msgpackOf, run } from './filters-support.js';

const contentModifier = contentModifierFilter as unknown as FilterPluginDefinition;

/** Each case: the processor's keys, the bodies in, the bodies expected out (compared as msgpack bytes). */
const cases: Array<{ name: string; config: string[]; input: string[]; expected: string[] }> = [
  { name: 'insert adds a missing key at the end', config: ['action insert', 'key k', 'value v'], input: ['{"a":1}', '{"k":"old"}'], expected: ['{"a":1,"k":"v"}', '{"k":"old"}'] },
  { name: 'upsert replaces, at the end', config: ['action upsert', 'key k', 'value v'], input: ['{"k":"old","a":1}', '{"a":1}'], expected: ['{"a":1,"k":"v"}', '{"a":1,"k":"v"}'] },
  { name: 'delete removes every copy of the key', config: ['action delete', 'key k'], input: ['{"k":1,"a":2,"k":3}', '{"a":2}'], expected: ['{"a":2}', '{"a":2}'] },
  { name: 'rename keeps the place and the value bytes', config: ['action rename', 'key k', 'value n'], input: ['{"a":1,"k":3.0,"b":2}'], expected: ['{"a":1,"n":3.0,"b":2}'] },
  {
    name: 'hash writes the SHA-256 hex of the text, in place',
    config: ['action hash', 'key k'],
    input: ['{"k":"pw","a":1}', '{"k":42}'],
    expected: [
      '{"k":"30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4","a":1}',
      '{"k":"73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"}',
    ],
  },
  {
    name: 'extract adds the named groups; no match changes nothing',
    config: ['action extract', 'key m', 'pattern user=(?<user>\\w+) id=(?<id>\\d+)'],
    input: ['{"m":"user=al id=7","user":"x"}', '{"m":"nothing"}'],
    expected: ['{"m":"user=al id=7","user":"al","id":"7"}', '{"m":"nothing"}'],
  },
  { name: 'convert to int', config: ['action convert', 'key n', 'converted_type int'], input: ['{"n":"17","a":1}', '{"n":2.9}', '{"n":true}', '{"n":"18446744073709551615"}'], expected: ['{"a":1,"n":17}', '{"n":2}', '{"n":1}', '{"n":18446744073709551615}'] },
  { name: 'convert to double writes float64', config: ['action convert', 'key n', 'converted_type double'], input: ['{"n":"2.5"}', '{"n":3}'], expected: ['{"n":2.5}', '{"n":3.0}'] },
  { name: 'convert to boolean', config: ['action convert', 'key n', 'converted_type boolean'], input: ['{"n":"true"}', '{"n":"FALSE"}', '{"n":0}'], expected: ['{"n":true}', '{"n":false}', '{"n":false}'] },
  { name: 'convert to string', config: ['action convert', 'key n', 'converted_type string'], input: ['{"n":12}', '{"n":true}'], expected: ['{"n":"12"}', '{"n":"true"}'] },
  { name: 'a value that cannot be converted is kept as it is', config: ['action convert', 'key n', 'converted_type int'], input: ['{"n":"twelve"}', '{"a":1}'], expected: ['{"n":"twelve"}', '{"a":1}'] },
];

for (const { name, config, input, expected } of cases) {
  test(`content_modifier: ${name}`, () => {
    const filter = makeFilter(contentModifier, config);
    assert.deepEqual(
      run(filter, input).map((body) => body.toString('hex')),
      expected.map((json) => msgpackOf(json).toString('hex')),
    );
  });
}

test('content_modifier: a failed convert is one summarised warning per batch, and records are counted', () => {
  const filter = makeFilter(contentModifier, ['action convert', 'key n', 'converted_type int']);
  run(filter, ['{"n":"a"}', '{"n":"b"}', '{"n":"3"}']);
  assert.equal(filter.logs.filter((line) => line.includes('cannot be converted')).length, 1);
  assert.match(filter.logs.join(''), /2 of 3 records kept 'n' unchanged: its value cannot be converted to int/);
  assert.equal(filter.metrics.get('fluentbit_filter_records_total', filter.instance), 3);
});

test('content_modifier: missing or bad keys fail at start, naming what is needed', () => {
  const fails = (config: string[], pattern: RegExp) =>
    assert.throws(() => makeFilter(contentModifier, config), (error: ConfigError) => error instanceof ConfigError && pattern.test(error.message));
  fails(['key k'], /'action' is required: one of insert, upsert, delete, rename, hash, extract, convert/);
  fails(['action insert'], /action 'insert' needs 'key'/);
  fails(['action upsert', 'key k'], /action 'upsert' needs 'value'/);
  fails(['action extract', 'key k'], /action 'extract' needs 'pattern'/);
  fails(['action convert', 'key k'], /action 'convert' needs 'converted_type'/);
  assert.throws(() => makeFilter(contentModifier, ['action extract', 'key k', 'pattern (?<a>']), /invalid value '\(\?<a>' for 'pattern': expected a regular expression wsbit can run/);
  assert.throws(() => makeFilter(contentModifier, ['action insert', 'key k', 'value v', 'context metadata']), /invalid value 'metadata' for 'context': expected one of body/);
});
