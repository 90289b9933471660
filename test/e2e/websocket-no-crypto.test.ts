/**
 * The plain ws:// client loads no node:crypto: OpenSSL's pages would cost the agent about 2.4 MB of RSS
 * for a few random numbers (base/entropy.ts reads them from the kernel) and one hash (websocket/sha1.ts).
 * bin/wsbit ships records to a real `ws` server, with confirmed delivery (so it pings) and a Close at the
 * end, and lists the builtins it loaded at exit (helpers/builtin-trace.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { startWsServer } from '../websocket/peers.js';

const builtinTrace = pathToFileURL(path.join(repoRoot, 'dist', 'test', 'helpers', 'builtin-trace.js')).href;

/** Runs wsbit with `args` against a `ws` server until it has delivered two messages, stops it; the builtins it loaded. */
async function builtinsLoaded(args: (port: number) => string[]): Promise<string[]> {
  const peer = await startWsServer();
  let messages = 0;
  peer.wss.on('connection', (ws) => ws.on('message', () => messages++));
  const trace = path.join(tempDir('wsbit-builtins-'), 'builtins');
  const agent = spawnAgent(args(peer.port), { env: { NODE_OPTIONS: `--import=${builtinTrace}`, WSBIT_BUILTIN_TRACE: trace } });
  try {
    await waitFor(() => messages >= 2, `two messages at the server\nstderr:\n${agent.stderr()}`, 30_000);
  } finally {
    await agent.stop();
    await peer.close();
  }
  const builtins = readFileSync(trace, 'utf8').split('\n').filter((line) => line !== '');
  assert.ok(builtins.includes('net') && builtins.includes('fs'), 'the trace lists the builtins the agent loaded');
  return builtins;
}

const cryptoModules = (builtins: string[]): string[] => builtins.filter((name) => name === 'crypto' || name.startsWith('internal/crypto/'));

test('-i dummy -o websocket://… delivers without loading node:crypto', async () => {
  const builtins = await builtinsLoaded((port) => ['-i', 'dummy', '-o', `websocket://127.0.0.1:${port}/`]);
  assert.deepEqual(cryptoModules(builtins), []);
});

test('the trace does see node:crypto where a plugin loads it (record_modifier, for uuid_key)', async () => {
  const builtins = await builtinsLoaded((port) => ['-i', 'dummy', '-F', 'record_modifier', '-m', '*', '-p', 'uuid_key=id', '-o', `websocket://127.0.0.1:${port}/`]);
  assert.ok(cryptoModules(builtins).includes('crypto'), builtins.join(' '));
});
