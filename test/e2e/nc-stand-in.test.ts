/**
 * test/helpers/bin/nc, the stand-in test/e2e/conf.test.ts puts first on PATH for the README's nc lines
 * when the machine has no nc. Checked here on every machine, whether or not it has an nc of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const standIn = path.join(repoRoot, 'test', 'helpers', 'bin', 'nc');

/** Runs the stand-in as a shell would, with `input` on its stdin. */
function nc(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(standIn, args);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A loopback server that hands each connection to `onConnection`; allowHalfOpen keeps it open after the client's FIN. */
async function server(onConnection: (socket: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const tcp = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    port: (tcp.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => tcp.close(() => resolve()));
    },
  };
}

test('the nc stand-in is executable, as PATH needs it', () => {
  accessSync(standIn, constants.X_OK);
});

test('nc -N sends stdin, shuts down its write side at the end, and prints the reply until the server closes', async () => {
  const peer = await server((socket) => {
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString()));
    // The reply is sent only once the client's write side is shut down: nc must not wait for more.
    socket.on('end', () => socket.end(`got ${JSON.stringify(received)}\n`));
  });
  try {
    const result = await nc(['-N', '127.0.0.1', String(peer.port)], 'line one\nline two\n');
    assert.deepEqual(result, { code: 0, stdout: 'got "line one\\nline two\\n"\n', stderr: '' });
  } finally {
    await peer.close();
  }
});

test('nc -q0 returns once stdin is sent, while the server keeps the connection open', async () => {
  let received = '';
  const peer = await server((socket) => socket.on('data', (data: Buffer) => (received += data.toString())));
  try {
    const result = await nc(['-q0', '127.0.0.1', String(peer.port)], '{"message":"hello"}\n');
    assert.deepEqual(result, { code: 0, stdout: '', stderr: '' });
    await waitFor(() => received === '{"message":"hello"}\n', `the line at the server (so far ${JSON.stringify(received)})`);
  } finally {
    await peer.close();
  }
});

test('nc fails as nc does: exit 1 on a refused connection and on options it does not know', async () => {
  const peer = await server(() => undefined);
  const { port } = peer;
  await peer.close();
  const refused = await nc(['127.0.0.1', String(port)], 'x\n');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^nc: connect to 127\\.0\\.0\\.1 port ${port} \\(tcp\\) failed: .*ECONNREFUSED`));
  const unknown = await nc(['-z', '127.0.0.1', String(port)], '');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^usage: nc \[-N\] \[-q SECONDS\] HOST PORT/);
});
