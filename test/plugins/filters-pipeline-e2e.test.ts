import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { goldenDir } from './filters-golden-support.js';

/** stdout's lines (`[0] tag: [[time, {}], {...}]`) without the time, in a stable order. */
const records = (text: string): string[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith('['))
    .map((line) => line.replace(/\[\[\d+\.\d+, /, '[[TIME, '))
    .sort();

test('nest, type_converter, rewrite_tag and throttle in one classic .conf run by bin/wsbit print what Fluent Bit 5.1.1 printed', async () => {
  const dir = path.join(goldenDir, 'pipeline');
  const expected = records(readFileSync(path.join(dir, 'fluent-bit-stdout.txt'), 'utf8'));
  assert.equal(expected.length, 2);
  const agent = spawnAgent(['-c', path.join(dir, 'pipeline.conf')]);
  try {
    await agent.waitForOutput(/(\[0\] [^\n]*\n[^]*){2}/, 'two records');
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  assert.deepEqual(records(agent.stdout()), expected);
  assert.doesNotMatch(agent.stderr(), /\[(error|warn)\]/);
});
