/**
 * Shutdown of bin/wsbit with the websocket output: on SIGTERM the buffered records are flushed within
 * Grace and the connection ends with a Close frame carrying 1001 (SPEC part A, 10).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { figures, startCountingServer } from './websocket-output-support.js';

let dir = '';
/** A config file that only sets Grace 1, combined with -i/-o on the command line. */
let graceOneConf = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsbit-shutdown-'));
  graceOneConf = join(dir, 'grace.conf');
  writeFileSync(graceOneConf, '[SERVICE]\n    Grace 1\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function tcpPortOf(agent: RunningAgent): Promise<number> {
  await agent.waitForOutput(/listening on 127\.0\.0\.1:\d+/, 'the tcp input');
  return Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]);
}

function write(port: number, text: string): Promise<void> {
  return new Promise((resolve) => netConnect({ host: '127.0.0.1', port }).end(text, () => resolve()));
}

const records = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => `{"seq":${from + i}}\n`).join('');

describe('SIGTERM', () => {
  it('flushes the buffered records within Grace, then sends Close 1001', async (t) => {
    const server = await startCountingServer('json_lines');
    const agent = spawnAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${server.port}/`, '-p', 'format=json_lines', '-f', '3']);
    try {
      const port = await tcpPortOf(agent);
      await write(port, records(1, 100));
      await waitFor(() => server.unique === 100, `the first flush\n${agent.stderr()}`, 10_000);
      // These stay in the open chunk: the next flush is up to 3 s away when SIGTERM comes.
      await write(port, records(101, 500));
      await sleep(300);
      const signalledAt = Date.now();
      assert.equal(await agent.stop('SIGTERM'), 0);
      const exitMs = Date.now() - signalledAt;
      await waitFor(() => server.closeCodes.length > 0, 'the close');
      t.diagnostic(`${figures('SIGTERM', 500, server)}; exited ${exitMs} ms after SIGTERM`);
      assert.equal(server.lost(500), 0);
      assert.deepEqual(server.closeCodes, [1001]);
      assert.equal(server.handshakes, 1);
      assert.ok(exitMs < 5000, `exited within Grace (took ${exitMs} ms)`);
      assert.match(agent.stderr(), /\[ info\] \[engine\] caught signal \(SIGTERM\)/);
      assert.match(agent.stderr(), /\[ info\] \[engine\] service has stopped/);
    } finally {
      await agent.stop('SIGKILL');
      await server.close();
    }
  });

  it('with the server down, gives up after Grace in one line: the records lost, why, and how to keep them', async () => {
    const server = await startCountingServer('json_lines');
    const port = server.port;
    await server.close();
    const agent = spawnAgent(['-c', graceOneConf, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${port}/`, '-f', '5']);
    try {
      await write(await tcpPortOf(agent), records(1, 20));
      await sleep(300);
      const signalledAt = Date.now();
      assert.equal(await agent.stop('SIGTERM'), 0);
      const exitMs = Date.now() - signalledAt;
      assert.ok(exitMs < 4000, `exited soon after Grace=1 (took ${exitMs} ms)`);
      const stderr = agent.stderr();
      assert.match(stderr, /\[ warn\] \[output:websocket:websocket\.0\] connecting to ws:\/\/127\.0\.0\.1:\d+\/ failed: cannot connect to 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
      // Issue 22: one line with the count, the output's last failure, and the storage that would have kept them.
      assert.match(
        stderr,
        /\[error\] \[engine\] 20 records \(1 chunk\) were not delivered within Grace=1s and are lost: output websocket\.0: connecting to ws:\/\/127\.0\.0\.1:\d+\/ failed: cannot connect to 127\.0\.0\.1:\d+: connect ECONNREFUSED [\d.:]+\. To keep undelivered records across restarts, set storage\.path in \[SERVICE\] and storage\.type filesystem on input tcp\.0\n/,
      );
      assert.equal(stderr.match(/were not delivered/g)?.length, 1, 'one line, not one per chunk plus a total');
      assert.doesNotMatch(stderr, /retry in \d+ seconds/, 'no retry promise without a reason while stopping');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  it('during a handshake the server never answers, exits after Grace without waiting out handshake_timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const agent = spawnAgent(['-c', graceOneConf, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${port}/`, '-p', 'handshake_timeout=30', '-f', '0.2']);
    try {
      await write(await tcpPortOf(agent), records(1, 5));
      await waitFor(() => sockets.size > 0, 'the connection to the silent server');
      const signalledAt = Date.now();
      assert.equal(await agent.stop('SIGTERM'), 0);
      const exitMs = Date.now() - signalledAt;
      assert.ok(exitMs < 5000, `exited ${exitMs} ms after SIGTERM, not after the 30 s handshake timeout`);
      assert.match(agent.stderr(), /\[error\] \[engine\] 5 records \(1 chunk\) were not delivered within Grace=1s and are lost: output websocket\.0 had them in flight\. To keep undelivered records/);
    } finally {
      await agent.stop('SIGKILL');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('with the server down and filesystem storage, says the records stay on disk for the next start', async () => {
    const server = await startCountingServer('json_lines');
    const port = server.port;
    await server.close();
    const storage = join(dir, 'storage');
    const agent = spawnAgent(['-c', graceOneConf, '-b', storage, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'storage.type=filesystem', '-o', `websocket://127.0.0.1:${port}/`, '-f', '5']);
    try {
      await write(await tcpPortOf(agent), records(1, 7));
      await sleep(300);
      assert.equal(await agent.stop('SIGTERM'), 0);
      const stderr = agent.stderr();
      assert.match(stderr, /\[ info\] \[engine\] 7 records \(1 chunk\) were not delivered within Grace=1s \(output websocket\.0: connecting to ws:\/\/127\.0\.0\.1:\d+\/ failed: .*ECONNREFUSED.*\); they stay on disk in storage\.path for the next start\n/);
      assert.doesNotMatch(stderr, /are lost/);
      assert.doesNotMatch(stderr, /retry in \d+ seconds/);
    } finally {
      await agent.stop('SIGKILL');
    }
  });
});
