/**
 * `wsbit -J` through a pipe: the whole JSON arrives even when the reader is slow, as `wsbit -J | jq`
 * needs. A pipe holds 64 KiB and the help is larger, so an exit before stdout drains cuts it there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnAgent } from '../helpers/spawn.js';
import { binPath } from '../helpers/paths.js';

const wsbit = `"${process.execPath}" "${binPath}"`;

test('-J through a slow reader is whole: one line of JSON, larger than a pipe holds', async () => {
  // The reader starts only after a second, when the first 64 KiB have long filled the pipe.
  const agent = spawnAgent([], { command: ['sh', '-c', `${wsbit} -J | { sleep 1; cat; }`] });
  assert.equal(await agent.waitForExit(), 0, agent.stderr());
  const text = agent.stdout();
  assert.ok(Buffer.byteLength(text) > 65_536, `${Buffer.byteLength(text)} bytes`);
  assert.ok(text.endsWith('}\n') && text.indexOf('\n') === text.length - 1, 'one line, as Fluent Bit prints it');
  const help = JSON.parse(text) as { inputs: unknown[]; outputs: unknown[] };
  assert.ok(help.inputs.length > 0 && help.outputs.length > 0);
});

test('a reader that stops early (wsbit -J | head -c 10) ends wsbit quietly, with its exit code 0', async () => {
  const agent = spawnAgent([], { command: ['sh', '-c', `{ ${wsbit} -J; echo "wsbit=$?" >&2; } | head -c 10`] });
  assert.equal(await agent.waitForExit(), 0, agent.stderr());
  assert.equal(agent.stdout(), '{"fluent-b');
  assert.equal(agent.stderr(), 'wsbit=0\n', 'no crash on the closed pipe');
});

test('-J after an unknown plugin fails as Fluent Bit does: exit 1, nothing on stdout', async () => {
  const agent = spawnAgent(['-i', 'nosuch', '-J']);
  assert.equal(await agent.waitForExit(), 1);
  assert.equal(agent.stdout(), '');
  assert.match(agent.stderr(), /unknown input plugin 'nosuch'/);
  const known = spawnAgent(['-F', 'nest', '-J']);
  assert.equal(await known.waitForExit(), 0);
  assert.equal((JSON.parse(known.stdout()) as { name: string }).name, 'nest');
});
