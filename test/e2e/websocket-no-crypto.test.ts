/**
 * The plain ws:// client, and the tcp, forward and http inputs without TLS, load no node:crypto (nor
 * node:tls): OpenSSL would cost the agent about 1 MB of RSS for a few random numbers (base/entropy.ts
 * reads them from the kernel) and one hash (websocket/sha1.ts); the inputs load TLS only with `tls on`
 * (base/openssl.ts). bin/wsbit ships records to a real `ws` server, with confirmed delivery (so it pings)
 * and a Close at the end, and lists the builtins it loaded at exit (helpers/builtin-trace.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encode } from '@msgpack/msgpack';
import { repoRoot } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { startWsServer } from '../websocket/peers.js';

const builtinTrace = pathToFileURL(path.join(repoRoot, 'dist', 'test', 'helpers', 'builtin-trace.js')).href;

/**
 * Runs wsbit with `args` against a `ws` server until it has delivered two messages, stops it; the builtins
 * it loaded. `feed` sends records to its input, given the port the input logged that it listens on.
 */
async function builtinsLoaded(args: (port: number) => string[], feed?: (inputPort: number) => Promise<void>): Promise<string[]> {
  const peer = await startWsServer();
  let messages = 0;
  peer.wss.on('connection', (ws) => ws.on('message', () => messages++));
  const trace = path.join(tempDir('wsbit-builtins-'), 'builtins');
  const agent = spawnAgent(args(peer.port), { env: { NODE_OPTIONS: `--import=${builtinTrace}`, WSBIT_BUILTIN_TRACE: trace } });
  try {
    if (feed !== undefined) {
      await waitFor(() => /listening on [^ ]*:(\d+)/.test(agent.stderr()), `the input to listen\nstderr:\n${agent.stderr()}`, 30_000);
      const inputPort = Number(/listening on [^ ]*:(\d+)/.exec(agent.stderr())?.[1]);
      await feed(inputPort);
      await waitFor(() => messages >= 1, `a message at the server\nstderr:\n${agent.stderr()}`, 30_000);
      await feed(inputPort);
    }
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

/** Writes `bytes` to 127.0.0.1:`port` and closes. */
function sendOver(port: number, bytes: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(bytes));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

const feeds: Record<string, (port: number) => Promise<void>> = {
  tcp: (port) => sendOver(port, '{"seq":1}\n{"seq":2}\n'),
  // Forward's message mode, [tag, time, record], with no shared_key (so no handshake).
  forward: (port) => sendOver(port, Buffer.from(encode(['app', 1_700_000_000, { seq: 1 }]))),
  http: (port) =>
    new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/app', headers: { 'content-type': 'application/json' } }, (response) => {
        response.resume();
        response.on('end', () => resolve());
      });
      request.on('error', reject);
      request.end('{"seq":1}');
    }),
};

for (const [input, feed] of Object.entries(feeds)) {
  test(`-i ${input} (no tls) -o websocket://… delivers without loading node:crypto or node:tls`, async () => {
    const builtins = await builtinsLoaded((port) => ['-i', input, '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${port}/`, '-f', '0.2'], feed);
    assert.deepEqual(cryptoModules(builtins), []);
    assert.deepEqual(builtins.filter((name) => name === 'tls' || name === 'https' || name.startsWith('_tls')), []);
  });
}
