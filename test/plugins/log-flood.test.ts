/**
 * The log never floods (issue 12, item 6), against a real wsbit process: 1,100 upgrade requests with a
 * wrong token used to write one line each. Now a few are printed and the rest summarised with a true
 * count; the metric still counts every one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';

/** One upgrade request with a wrong token on a raw socket; resolves with the status line. */
function refusedUpgrade(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        'GET /?token=wrong HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    let head = '';
    socket.on('data', (data: Buffer) => (head += data.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(head.split('\r\n')[0] ?? ''));
  });
}

test('1,100 refused upgrades write a handful of log lines, and the summary counts the rest', async (t) => {
  const agent = spawnAgent(['-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'token=right', '-o', 'null', '-m', '*']);
  t.after(() => agent.stop());
  await agent.waitForOutput(/listening on 127\.0\.0\.1:(\d+)/, 'the websocket input to listen', 30_000);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]);
  const total = 1100;
  const statuses: string[] = [];
  for (let sent = 0; sent < total; sent += 50) {
    statuses.push(...(await Promise.all(Array.from({ length: 50 }, () => refusedUpgrade(port)))));
  }
  assert.equal(statuses.filter((status) => status === 'HTTP/1.1 401 Unauthorized').length, total);
  // SIGTERM: the summaries of open windows are written before the process exits.
  assert.equal(await agent.stop(), 0);
  const lines = agent.stderr().split('\n').filter((line) => line !== '');
  const refused = lines.filter((line) => line.includes('missing or wrong token'));
  const summaries = refused.map((line) => /\(… repeated (\d+) more times in the last 10 s\)$/.exec(line)).filter((match) => match !== null);
  const printed = refused.length - summaries.length;
  const held = summaries.reduce((sum, match) => sum + Number(match[1]), 0);
  // Every refusal is accounted for: printed, or counted in a summary.
  assert.equal(printed + held, total, refused.join('\n'));
  // Five lines and a summary per 10 s window; the burst takes one or two windows even on a loaded machine.
  assert.ok(refused.length <= 18, `${refused.length} lines:\n${refused.join('\n')}`);
  assert.ok(lines.length <= 30, `${lines.length} lines in all`);
  t.diagnostic(`${lines.length} log lines in all for ${total} refused upgrades (${refused.length} about them)`);
});

test('paths and query strings a peer sends are cut and escaped in log lines (websocket and http inputs)', async (t) => {
  const running = await startAgent([
    '-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'path=/ingest',
    '-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0',
    '-o', 'null', '-m', '*',
  ]);
  t.after(() => running.stop());
  const wsPort = running.agent.input('websocket.0')?.listeningPort?.() as number;
  const httpPort = running.agent.input('http.0')?.listeningPort?.() as number;
  const longPath = `/${'p'.repeat(5000)}\u00e9"quote`;
  const socket = net.connect(wsPort, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`GET ${encodeURI(longPath)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await running.waitForLog('(HTTP 404)');
  socket.destroy();
  const response = await fetch(`http://127.0.0.1:${httpPort}/${'q'.repeat(5000)}?x="\\`, { method: 'GET' });
  assert.equal(response.status, 400);
  await running.waitForLog('invalid HTTP method');
  const refused = running.lines.find((line) => line.includes('(HTTP 404)')) ?? '';
  assert.match(refused, /refused client 127\.0\.0\.1:\d+: path "\/p{199}"… \(5015 characters\) is not \/ingest \(HTTP 404\)\n$/);
  const method = running.lines.find((line) => line.includes('invalid HTTP method')) ?? '';
  assert.match(method, /request to "\/q{199}"… \(50\d\d characters\) from [^ ]+ refused: invalid HTTP method "GET"\n$/);
  for (const line of [refused, method]) assert.ok(line.length < 500, line);
});
