import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atof, boolPrefix, strtoInteger } from '../../src/codec/c-numbers.js';
import { ConfigError } from '../../src/base/errors.js';
import { typeConverterFilter } from '../../src/plugins/filters/type-converter.js';
import type { FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { caseConfig, caseEvents, describeEvents, golden, goldenCases } from './filters-golden-support.js';
import { eventsOf, makeFilter } from './filters-support.js';

const typeConverter = typeConverterFilter as unknown as FilterPluginDefinition;

for (const c of goldenCases('type_converter')) {
  test(`type_converter: same events as Fluent Bit 5.1.1: ${c.name}`, () => {
    const expected = golden(c);
    const filter = makeFilter(typeConverter, caseConfig(c));
    const input = caseEvents(c);
    const out = filter.filter.filter(input, c.input.length, c.tag ?? 'test');
    assert.deepEqual(describeEvents(out.events), describeEvents(Buffer.from(expected.outputs[c.tag ?? 'test'] ?? '', 'hex')), expected.command);
    assert.equal(out.records, c.input.length);
  });
}

test('type_converter: an emit in which nothing converts is the same Buffer; failures are logged once', () => {
  const filter = makeFilter(typeConverter, ['str_key s n int']);
  const input = eventsOf(['{"s":"zero"}', '{"s":"0"}', '{"t":1}']);
  const out = filter.filter.filter(input, 3, 't');
  assert.equal(out.events, input);
  assert.equal(filter.logs.filter((line) => line.includes('failed to convert. key=s')).length, 1, filter.logs.join(''));
  assert.equal(filter.metrics.get('fluentbit_filter_records_total', 'type_converter.0'), 3);
});

test('type_converter: configuration errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /no rules: set int_key, uint_key, float_key or str_key/],
    [['int_key a b'], /'int_key': expected KEY NEW_KEY TYPE/],
    [['int_key a b string extra'], /'int_key': expected KEY NEW_KEY TYPE/],
    [['str_key a b integer'], /'str_key': expected a TYPE a string can become: int, uint, hex, float, bool; not 'integer'/],
    [['int_key a b int'], /a TYPE a int can become: string, float, uint; not 'int'/],
    [["str_key $a['b b int"], /a key or record accessor/],
    [['float_keys a b string'], /unknown configuration property 'float_keys' \(did you mean 'float_key'\?\)/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(typeConverter, config), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
});

test('C number reading shared by type_converter and parser Types', () => {
  assert.equal(strtoInteger(' \t-12abc', 10, false), -12n);
  assert.equal(strtoInteger('-1', 10, true), 2n ** 64n - 1n);
  assert.equal(strtoInteger('99999999999999999999', 10, false), 2n ** 63n - 1n);
  assert.equal(strtoInteger('0x1F', 16, true), 31n);
  assert.equal(strtoInteger('0xg', 16, true), 0n);
  assert.equal(atof('  1.5e3x'), 1500);
  assert.equal(atof('-Infinity'), -Infinity);
  assert.ok(Number.isNaN(atof('nan')));
  assert.equal(atof('0x10'), 16);
  assert.equal(atof('.5'), 0.5);
  assert.equal(atof('abc'), 0);
  assert.equal(boolPrefix('TRUEish'), true);
  assert.equal(boolPrefix('False'), false);
  assert.equal(boolPrefix('yes'), null);
});
