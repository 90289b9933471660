import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { confDir } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';

/**
 * Every example in conf/ runs here exactly as the README tells users to run it. A scenario drives
 * the example and checks what it produced; a new conf file without a scenario fails the last test.
 */
type Scenario = (agent: RunningAgent) => Promise<void>;

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

export const scenarios: Record<string, Scenario> = {
  'dummy-to-stdout.conf': async (agent) => {
    await agent.waitForOutput(/(\{"date":[^\n]*"message":"hello from wsbit"[^\n]*\n){3}/, 'three JSON lines');
    assert.equal(agent.stdout().trim().split('\n').length, 3);
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"message":"hello from wsbit","level":"info"\}$/m);
  },
  'tcp-to-stdout.conf': async (agent) => {
    await agent.waitForOutput('listening on 127.0.0.1:5170');
    await sendTcp(5170, '{"key 1": 123456789, "key 2": "abcdefg"}\n');
    await agent.waitForOutput('"key 2":"abcdefg"');
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}$/m);
  },
};

for (const name of Object.keys(scenarios)) {
  test(`conf/${name} runs as documented`, async () => {
    const agent = spawnAgent(['-c', path.join(confDir, name)]);
    try {
      await (scenarios[name] as Scenario)(agent);
    } finally {
      assert.equal(await agent.stop(), 0, agent.stderr());
    }
    assert.doesNotMatch(agent.stderr(), /\[error\]/);
  });
}

test('every file in conf/ has a scenario in this test', () => {
  const files = readdirSync(confDir).filter((file) => file.endsWith('.conf'));
  const missing = files.filter((file) => !(file in scenarios) && !file.startsWith('parsers'));
  assert.deepEqual(missing, [], 'add a scenario for each example config');
});
