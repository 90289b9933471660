/**
 * DNS rebinding: a page on evil.example, re-pointed to 127.0.0.1, sends `Host: evil.example:PORT` and a
 * matching `Origin`. The websocket_server output, the websocket input and the monitoring server must
 * refuse it (403) for the page, /status, the endpoints and the upgrade alike, and serve loopback names,
 * the listen address and allowed_hosts. The clients are raw sockets writing exactly those headers.
 */
import { after, afterEach, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { startServer, stopAllServers } from './websocket-server-support.js';
import { startInput } from './websocket-input-support.js';

/** Sends one raw HTTP/1.1 request and resolves with the status code of the answer. */
function rawStatus(port: number, target: string, headers: Record<string, string>, upgrade = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no status line from port ${port} within 10 s; got ${JSON.stringify(received)}`));
    }, 10_000);
    socket.on('connect', () => {
      const lines = [`GET ${target} HTTP/1.1`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
      if (upgrade) {
        lines.push('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
      } else {
        lines.push('Connection: close');
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match !== null && received.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** What a rebinding page sends: its own name in Host and its own origin in Origin. */
function rebinding(port: number): Record<string, string> {
  return { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` };
}

/** Host (and the page's matching Origin) for names of this server that must pass. */
function named(host: string): Record<string, string> {
  return { Host: host, Origin: `http://${host}` };
}

describe('websocket_server refuses rebinding Host values', () => {
  afterEach(() => stopAllServers());

  it('403 for the page, /status and the upgrade; loopback names and allowed_hosts pass', async () => {
    const server = await startServer({ allowed_hosts: 'dash.example' });
    const { port } = server;
    assert.equal(await rawStatus(port, '/', rebinding(port)), 403);
    assert.equal(await rawStatus(port, '/status', rebinding(port)), 403);
    assert.equal(await rawStatus(port, '/', rebinding(port), true), 403);
    assert.equal(server.output.clientCount(), 0);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `dash.example:${port}`]) {
      assert.equal(await rawStatus(port, '/', named(host)), 200, host);
      assert.equal(await rawStatus(port, '/status', named(host)), 200, host);
      assert.equal(await rawStatus(port, '/', named(host), true), 101, host);
    }
    const refusals = server.logLines.filter((line) => line.includes('"evil.example:') && line.includes('allowed_hosts'));
    assert.equal(refusals.length, 3, server.logLines.join(''));
    assert.equal(server.metrics.get('wsbit_output_broadcast_rejected_clients_total', 'websocket_server.0'), 3);
  });

  it('with a token the token is the guard: any Host with the right token is served', async () => {
    const server = await startServer({ token: 's3cret' });
    const { port } = server;
    assert.equal(await rawStatus(port, '/status', { ...rebinding(port), Authorization: 'Bearer s3cret' }), 200);
    assert.equal(await rawStatus(port, '/status', rebinding(port)), 401);
    assert.equal(await rawStatus(port, '/?token=s3cret', { Host: `collector.example:${port}` }, true), 101);
  });
});

test('the websocket input refuses a rebinding upgrade (403) and takes loopback names and allowed_hosts', async (t) => {
  const input = await startInput(t, ['allowed_hosts=agents.example']);
  const { port } = input;
  assert.equal(await rawStatus(port, '/', rebinding(port), true), 403);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `agents.example:${port}`]) {
    assert.equal(await rawStatus(port, '/', named(host), true), 101, host);
  }
  assert.equal(input.metric('wsbit_input_refused_connections_total'), 1);
  assert.match(input.logs(), /Host "evil\.example:\d+" is not a name of this server \(see allowed_hosts\) \(HTTP 403\)/);
});

describe('the monitoring server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-rebinding-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses rebinding Host values on every endpoint (403) and serves loopback names and http_allowed_hosts', async (t) => {
    const file = path.join(dir, 'wsbit.conf');
    writeFileSync(
      file,
      [
        '[SERVICE]',
        '    Flush 0.1',
        '    HTTP_Server On',
        '    HTTP_Listen 127.0.0.1',
        '    HTTP_Port 0',
        '    Health_Check On',
        '    HTTP_Allowed_Hosts metrics.example, other.example',
        '[INPUT]',
        '    Name dummy',
        '[OUTPUT]',
        '    Name null',
        '    Match *',
        '',
      ].join('\n'),
    );
    const agent = spawnAgent(['-c', file]);
    t.after(() => agent.stop());
    await agent.waitForOutput(/\[http_server\] listen iface=\S+ tcp_port=\d+/);
    const port = Number(/tcp_port=(\d+)/.exec(agent.stderr())?.[1]);
    const endpoints = ['/', '/api/v1/uptime', '/api/v1/metrics', '/api/v1/metrics/prometheus', '/api/v2/metrics/prometheus', '/api/v1/health', '/api/v2/reload'];
    for (const endpoint of endpoints) assert.equal(await rawStatus(port, endpoint, rebinding(port)), 403, endpoint);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `metrics.example:${port}`, 'other.example']) {
      assert.equal(await rawStatus(port, '/api/v1/metrics/prometheus', named(host)), 200, host);
    }
    await agent.waitForOutput(/refused request from 127\.0\.0\.1:\d+: Host "evil\.example:\d+" is not a name of this server \(see http_allowed_hosts\) \(HTTP 403\)/);
  });
});
