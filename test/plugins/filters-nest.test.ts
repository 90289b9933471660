import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/base/errors.js';
import { nestFilter } from '../../src/plugins/filters/nest.js';
import type { FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { caseConfig, caseEvents, describeEvents, golden, goldenCases } from './filters-golden-support.js';
import { eventsOf, makeFilter, msgpackOf, run } from './filters-support.js';

const nest = nestFilter as unknown as FilterPluginDefinition;

for (const c of goldenCases('nest')) {
  test(`nest: same events as Fluent Bit 5.1.1: ${c.name}`, () => {
    const expected = golden(c);
    const filter = makeFilter(nest, caseConfig(c));
    const out = filter.filter.filter(caseEvents(c), c.input.length, c.tag ?? 'test');
    assert.deepEqual(describeEvents(out.events), describeEvents(Buffer.from(expected.outputs[c.tag ?? 'test'] ?? '', 'hex')), expected.command);
    assert.equal(out.records, c.input.length);
  });
}

test('nest: a wildcard without * matches the whole key only', () => {
  const filter = makeFilter(nest, ['Operation nest', 'Wildcard a', 'Nest_under n']);
  const [body] = run(filter, ['{"ab":1,"a":2}']);
  assert.equal(body?.toString('hex'), msgpackOf('{"ab":1,"n":{"a":2}}').toString('hex'));
});

test('nest: untouched emits come back as the same Buffer and records are counted', () => {
  const filter = makeFilter(nest, ['Operation lift', 'Nested_under k']);
  const input = eventsOf(['{"a":1}', '{"k":"x"}']);
  const out = filter.filter.filter(input, 2, 't');
  assert.equal(out.events, input);
  assert.equal(filter.metrics.get('fluentbit_filter_records_total', 'nest.0'), 2);
  // A value under Nested_under that is not a map is logged once, not for every record.
  filter.filter.filter(eventsOf(['{"k":"x"}', '{"k":1}']), 2, 't');
  assert.equal(filter.logs.filter((line) => line.includes('is not a map')).length, 1, filter.logs.join(''));
});

test('nest: configuration errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['Wildcard a', 'Nest_under n'], /'operation' must be set to nest or lift/],
    [['Operation nested'], /invalid value 'nested' for 'operation'.*nest, lift/],
    [['Operation nest', 'Wildcard a'], /operation nest needs 'nest_under'/],
    [['Operation nest', 'Nest_under n'], /needs at least one 'wildcard'/],
    [['Operation lift'], /operation lift needs 'nested_under'/],
    [['Operation lift', 'Nested_under n', 'Add_prefix a', 'Remove_prefix b'], /Add_prefix and Remove_prefix are exclusive/],
    [['Operation lift', 'Nested_under n', 'Wildcards a'], /unknown configuration property 'wildcards' \(did you mean 'wildcard'\?\)/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(nest, config), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
});
