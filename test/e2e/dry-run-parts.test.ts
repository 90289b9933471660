/**
 * A file that is only a part of a configuration (a parsers-only YAML, a `[SERVICE]` snippet, inputs
 * without outputs) passes `-D`, as Fluent Bit's dry run passes it (test/fixtures/fluent-bit/dry-run,
 * results.txt made by make.sh there); a start without -D refuses it, naming what is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { fluentBitFixtures } from '../helpers/paths.js';

const dir = path.join(fluentBitFixtures, 'dry-run');
const fluentBit = readFileSync(path.join(dir, 'results.txt'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [file = '', code = '', ...message] = line.split(' ');
    return { file, code: Number(code), message: message.join(' ') };
  });

/** What each file lacks, for the warning of -D and the error of a start. */
const lacks: Record<string, Array<'input' | 'output'>> = {
  'parsers-only.yaml': ['input', 'output'],
  'service-only.conf': ['input', 'output'],
  'service-only.yaml': ['input', 'output'],
  'input-only.conf': ['output'],
};

test('the fixtures cover every file here', () => {
  assert.deepEqual(fluentBit.map(({ file }) => file).sort(), Object.keys(lacks).sort());
});

for (const { file, code, message } of fluentBit) {
  test(`-c ${file} -D: exit ${code} and "${message}" as Fluent Bit, with a warning naming what a start needs`, async () => {
    const agent = spawnAgent(['-c', path.join(dir, file), '-D']);
    assert.equal(await agent.waitForExit(), code, agent.stderr());
    assert.equal(agent.stdout(), `${message}\n`);
    for (const kind of ['input', 'output'] as const) {
      const warned = agent.stderr().includes(`[ warn] no ${kind} plugin is configured: the configuration is valid, but a start needs`);
      assert.equal(warned, lacks[file]?.includes(kind), `${kind} warning in:\n${agent.stderr()}`);
    }
  });

  test(`-c ${file} without -D refuses to start, naming what is missing`, async () => {
    const agent = spawnAgent(['-c', path.join(dir, file)]);
    assert.equal(await agent.waitForExit(), 1);
    for (const kind of lacks[file] ?? []) assert.match(agent.stderr(), new RegExp(`no ${kind} plugin is configured: give -${kind[0]} NAME or an \\[${kind.toUpperCase()}\\] section`));
    assert.doesNotMatch(agent.stderr(), /\n\s+at /, 'no stack trace');
  });
}

test('-D still checks what the part holds: a bad service value fails', async () => {
  const agent = spawnAgent(['-c', path.join(dir, 'service-only.conf'), '-f', 'soon', '-D']);
  assert.equal(await agent.waitForExit(), 1);
  assert.match(agent.stderr(), /invalid value 'soon' for 'flush'/);
});
