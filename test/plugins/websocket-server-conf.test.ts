/** conf/http-to-browser.conf run by bin/wsbit, on port 0 instead of its documented 8080 and 8888. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { confDir } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { closeAllClients, httpToBrowserScenario, wsClient } from './websocket-server-support.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'wsbit-ws-server-'));
after(() => {
  closeAllClients();
  rmSync(workDir, { recursive: true, force: true });
});

it('conf/http-to-browser.conf broadcasts posted and dummy records and serves the live page', async () => {
  const text = readFileSync(path.join(confDir, 'http-to-browser.conf'), 'utf8');
  assert.match(text, /^ {4}Port {15}8080$/m);
  const file = path.join(workDir, 'http-to-browser.conf');
  assert.match(text, /^ {4}Port {9}8888$/m);
  writeFileSync(file, text.replace(/^( {4}Port {15})8080$/m, '$10').replace(/^( {4}Port {9})8888$/m, '$10'));
  const agent = spawnAgent(['-c', file]);
  try {
    await httpToBrowserScenario(agent);
    const late = await wsClient(`ws://127.0.0.1:${Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1])}/`);
    // Buffered_Messages: a client that connects late starts with what came before.
    await late.waitForFrames(4);
    assert.equal(await agent.stop(), 0, agent.stderr());
    assert.equal(await late.waitForClose(), 1001);
  } finally {
    await agent.stop();
  }
  assert.doesNotMatch(agent.stderr(), /\[error\]/);
});
