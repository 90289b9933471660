import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/base/clock.js';
import { ConfigError } from '../../src/base/errors.js';
import { throttleFilter } from '../../src/plugins/filters/throttle.js';
import type { FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { caseConfig, caseEvents, describeEvents, golden, goldenCases } from './filters-golden-support.js';
import { eventsOf, makeFilter } from './filters-support.js';

const throttle = throttleFilter as unknown as FilterPluginDefinition;

// One emit of 20 records, as Fluent Bit's stdin input hands them to the filter at once: the window
// lets rate x window of them through.
for (const c of goldenCases('throttle')) {
  test(`throttle: a burst keeps the same records as Fluent Bit 5.1.1: ${c.name}`, () => {
    const expected = golden(c);
    const filter = makeFilter(throttle, caseConfig(c), { clock: new ManualClock(1_700_000_000_000) });
    const out = filter.filter.filter(caseEvents(c), c.input.length, 'test');
    const kept = describeEvents(Buffer.from(expected.outputs['test'] ?? '', 'hex'));
    assert.deepEqual(describeEvents(out.events), kept, expected.command);
    assert.equal(filter.metrics.get('fluentbit_filter_drop_records_total', 'throttle.0'), c.input.length - kept.length);
  });
}

const bodies = (count: number): string[] => Array.from({ length: count }, (_, i) => `{"n":${i}}`);

test('throttle: the window slides one pane per interval; drops are counted and logged at most once a minute', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const filter = makeFilter(throttle, ['Rate 2', 'Window 3', 'Interval 1s', 'Print_Status true'], { clock });
  const pass = (count: number): number => filter.filter.filter(eventsOf(bodies(count)), count, 't').records;
  assert.equal(pass(10), 6); // 6 / 3 panes reaches the rate of 2
  await clock.advance(1000);
  assert.equal(pass(1), 0); // the 6 are still in the window
  await clock.advance(1000);
  assert.equal(pass(1), 0);
  await clock.advance(1000);
  assert.equal(pass(10), 6); // the pane that held them is emptied and reused
  await clock.advance(10_000); // more intervals than panes: the whole window is empty
  assert.equal(pass(4), 4);
  assert.equal(filter.metrics.get('fluentbit_filter_drop_records_total', 'throttle.0'), 10);
  assert.equal(filter.metrics.get('fluentbit_filter_records_total', 'throttle.0'), 26);
  const dropLines = filter.logs.filter((line) => line.includes('records dropped'));
  assert.deepEqual(dropLines.length, 1, filter.logs.join(''));
  assert.match(dropLines[0] ?? '', /4 records dropped: more than 2 per 1s on average over 3 intervals/);
  await clock.advance(60_000);
  pass(20);
  assert.match(filter.logs.filter((line) => line.includes('records dropped'))[1] ?? '', /20 records dropped in the last 7\ds/);
  assert.ok(filter.logs.some((line) => /limit is 2\.00 per 1s with window size of 3, current rate is: 2 per interval/.test(line)), filter.logs.join(''));
});

test('throttle: an emit where nothing is dropped comes back as the same Buffer', () => {
  const filter = makeFilter(throttle, ['Rate 100'], { clock: new ManualClock(0) });
  const input = eventsOf(bodies(3));
  assert.equal(filter.filter.filter(input, 3, 't').events, input);
});

test('throttle: a longer interval counts in whole seconds', async () => {
  const clock = new ManualClock(0);
  const filter = makeFilter(throttle, ['Rate 2', 'Window 2', 'Interval 1m'], { clock });
  assert.equal(filter.filter.filter(eventsOf(bodies(5)), 5, 't').records, 4);
  await clock.advance(59_000);
  assert.equal(filter.filter.filter(eventsOf(bodies(1)), 1, 't').records, 0);
  await clock.advance(1000);
  assert.equal(filter.filter.filter(eventsOf(bodies(1)), 1, 't').records, 0); // the other pane still holds 4
  await clock.advance(60_000);
  assert.equal(filter.filter.filter(eventsOf(bodies(5)), 5, 't').records, 4);
});

test('throttle: configuration errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['Rate fast'], /invalid value 'fast' for 'rate': expected a number/],
    [['Window 2.5'], /invalid value '2.5' for 'window': expected an integer/],
    [['Interval 0'], /'interval': expected a positive number of seconds/],
    [['Interval 5w'], /'interval': expected a positive number of seconds/],
    [['Print_Status maybe'], /'print_status': expected one of true, false/],
    [['Rates 5'], /unknown configuration property 'rates' \(did you mean 'rate'\?\)/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(throttle, config), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
});
