/**
 * `env:` as a list of name/value items and a `telemetry:` map, run end to end: wsbit prints the
 * record Fluent Bit 5.1.1 printed for the same file (test/fixtures/yaml/env-list.*), byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'yaml');

test('env-list.yaml prints the record Fluent Bit printed for it', async () => {
  const expected = readFileSync(path.join(fixtures, 'env-list.fluent-bit.out'), 'utf8');
  const agent = spawnAgent(['-c', path.join(fixtures, 'env-list.yaml')]);
  try {
    await agent.waitForOutput(/^\{"date".*\}$/m, 'the record', 20_000);
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  assert.equal(agent.stdout(), expected);
  assert.match(agent.stderr(), /'telemetry' is accepted and ignored/);
});
