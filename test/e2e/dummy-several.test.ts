/**
 * `-p 'dummy={"a":1}{"b":2}'`: one record per object on every event, the whole list repeated
 * `copies` times, `samples` counting events: what Fluent Bit 5.1.1 printed for the same properties
 * (test/fixtures/fluent-bit/dummy-several: cases.txt, the .out files, and make.sh that made them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { fluentBitFixtures } from '../helpers/paths.js';

const dir = path.join(fluentBitFixtures, 'dummy-several');
const cases = readFileSync(path.join(dir, 'cases.txt'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [name = '', ...props] = line.split(' ');
    return { name, props };
  });

for (const { name, props } of cases) {
  test(`dummy ${name}: the records Fluent Bit printed, byte for byte`, async () => {
    const expected = readFileSync(path.join(dir, `${name}.out`), 'utf8');
    const lines = expected.split('\n').length - 1;
    assert.ok(lines >= 3, `${name}.out has ${lines} records`);
    const args = ['-i', 'dummy', ...props.flatMap((prop) => ['-p', prop]), '-o', 'stdout', '-p', 'format=json_lines', '-f', '0.2'];
    const agent = spawnAgent(args);
    try {
      // The samples are all emitted by then; nothing else will follow.
      await agent.waitForOutput(new RegExp(`^(?:.*\\n){${lines}}`), `${lines} records`, 20_000);
    } finally {
      assert.equal(await agent.stop(), 0, agent.stderr());
    }
    assert.equal(agent.stdout(), expected);
  });
}

test('dummy: what is not an object, or text after the objects, is a configuration error naming the key (Fluent Bit drops it silently)', async () => {
  for (const [value, reason] of [
    ['[{"a":1}]', /invalid value for 'dummy': expected a JSON object \(or several, one after another\), got a JSON array at byte 0/],
    ['{"a":1}x', /invalid value for 'dummy': invalid JSON: unexpected character 'x' at byte 7/],
    ['{"a":1}{"b":', /invalid value for 'dummy': invalid JSON: unexpected end of input after 1 object\(s\)/],
  ] as const) {
    const agent = spawnAgent(['-i', 'dummy', '-p', `dummy=${value}`, '-o', 'null', '-D']);
    assert.equal(await agent.waitForExit(), 1, value);
    assert.match(agent.stderr(), reason);
  }
});
