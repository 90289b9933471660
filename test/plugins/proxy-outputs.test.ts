/**
 * The websocket, http and forward outputs through an HTTP proxy (test/helpers/connect-proxy.ts): the
 * `proxy` key, Basic auth, a 407, the environment variables with NO_PROXY, and an upstream's nodes.
 * In each, the records the servers receive are the records sent, and the proxy carried them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { tempDir as privateTempDir } from '../helpers/temp.js';
import { captureServer, numbersIn, sendNumbered, tempDir, upstreamFile } from '../upstream/support.js';
import { writeTestPki } from '../websocket/tls-ca-fixture.js';
import { decodeRecords, startCountingServer, startTestAgent, TcpFeeder } from './websocket-output-support.js';

type Cleanup = { after(fn: () => unknown): void };

async function proxyFor(t: Cleanup, options: Parameters<typeof startConnectProxy>[0] = {}): Promise<ConnectProxy> {
  const proxy = await startConnectProxy(options);
  t.after(() => proxy.close());
  return proxy;
}

const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'] as const;

/** Sets the proxy variables of this test process for one test (the outputs read them when they are created). */
function withEnvironment(t: Cleanup, values: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>): void {
  const saved = PROXY_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const name of PROXY_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

const wsArgs = (target: string, ...props: string[]): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
  '-o', target, '-p', 'format=json_lines', ...props.flatMap((p) => ['-p', p]), '-m', '*', '-f', '0.05',
];

test('websocket output with proxy: every record arrives through one tunnel, and the start-up line names the proxy', async (t) => {
  withEnvironment(t, {});
  const server = await startCountingServer('json_lines');
  t.after(() => server.close());
  const proxy = await proxyFor(t);
  const agent = await startTestAgent(wsArgs(`websocket://127.0.0.1:${server.port}/`, `proxy=${proxy.url}`));
  t.after(() => agent.stop());
  const sent = 500;
  await new TcpFeeder(agent.tcpPort(), { count: sent, perSecond: 2000 }).done;
  await agent.waitFor(() => server.unique === sent, `${sent} records at the server`, 30_000);
  assert.equal(server.records, sent, 'each record once');
  assert.equal(proxy.tunnels, 1);
  assert.deepEqual(proxy.requests.map((request) => request.target), [`127.0.0.1:${server.port}`]);
  assert.ok(proxy.bytesToTargets > sent * 60, `the proxy carried the records (${proxy.bytesToTargets} bytes)`);
  assert.match(agent.logs(), new RegExp(`target ws://127\\.0\\.0\\.1:${server.port}/ through proxy ${proxy.url.replace(/\./g, '\\.')},`));
});

test('websocket output, TLS through the proxy to a wss server: verified for the target, every record delivered', async (t) => {
  withEnvironment(t, {});
  const dir = privateTempDir('wsbit-proxy-wss-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = writeTestPki(dir);
  const https = createHttpsServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) });
  const wss = new WebSocketServer({ server: https });
  const seqs: unknown[] = [];
  wss.on('connection', (ws) => ws.on('message', (data: Buffer) => seqs.push(...decodeRecords('json_lines', data).map((record) => record['seq']))));
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
  });
  const port = (https.address() as AddressInfo).port;
  // HTTPS_PROXY, not the key: a TLS target takes it from the environment.
  const proxy = await proxyFor(t);
  withEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:9' });
  const agent = await startTestAgent(wsArgs(`websocket://localhost:${port}/`, 'tls=on', `tls.ca_file=${pki.ca}`));
  t.after(() => agent.stop());
  await new TcpFeeder(agent.tcpPort(), { count: 200, perSecond: 2000 }).done;
  await agent.waitFor(() => seqs.length === 200, '200 records over wss', 30_000);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  assert.deepEqual(proxy.requests.map((request) => request.target), [`localhost:${port}`]);
  assert.match(agent.logs(), /through proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\)/);
});

test('websocket output, the proxy answers 407: the error names the proxy and its status, nothing is lost, and the output keeps retrying', async (t) => {
  withEnvironment(t, {});
  const server = await startCountingServer('json_lines');
  t.after(() => server.close());
  const proxy = await proxyFor(t, { credentials: { user: 'agent', password: 'right' } });
  const wrong = proxy.url.replace('http://', 'http://agent:wrong@');
  const agent = await startTestAgent(wsArgs(`websocket://127.0.0.1:${server.port}/`, `proxy=${wrong}`));
  t.after(() => agent.stop());
  await new TcpFeeder(agent.tcpPort(), { count: 20, perSecond: 1000 }).done;
  await agent.waitForLog(`proxy ${proxy.url} refused the tunnel: HTTP 407 Proxy Authentication Required`, 20_000);
  await agent.waitFor(() => proxy.connections >= 2, 'a second attempt through the proxy', 20_000);
  assert.equal(server.handshakes, 0, 'nothing reached the server');
  assert.doesNotMatch(agent.logs(), /wrong/, 'no credentials in the log');
  // No retry fixes a 407: it is logged as an error that says what to change, and the output counts as refused.
  assert.match(
    agent.logs(),
    new RegExp(`\\[error\\] \\[output:websocket:websocket\\.0\\] proxy ${proxy.url.replace(/\./g, '\\.')} refused the connection to ws://127\\.0\\.0\\.1:${server.port}/: HTTP 407 Proxy Authentication Required; the proxy wants credentials`),
  );
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 1);
  assert.equal(agent.agent.metrics.get('fluentbit_output_dropped_records_total', 'websocket.0'), 0);
});

test("websocket output over an upstream: every node goes through the output's proxy, records sent = records received", async (t) => {
  withEnvironment(t, {});
  const dir = tempDir();
  t.after(dir.cleanup);
  const servers = [await startCountingServer('json_lines'), await startCountingServer('json_lines')];
  t.after(async () => {
    for (const server of servers) await server.close();
  });
  const proxy = await proxyFor(t);
  const file = dir.write('nodes.conf', upstreamFile('two', servers.map((server) => server.port)));
  const agent = await startTestAgent(wsArgs('websocket', `upstream=${file}`, `proxy=${proxy.url}`));
  t.after(() => agent.stop());
  const sent = 400;
  await new TcpFeeder(agent.tcpPort(), { count: sent, perSecond: 2000 }).done;
  await agent.waitFor(() => servers[0]!.unique + servers[1]!.unique === sent, `${sent} records at the nodes`, 30_000);
  assert.equal(servers[0]!.records + servers[1]!.records, sent);
  assert.ok(servers.every((server) => server.unique > 0), 'both nodes took a share');
  assert.deepEqual(new Set(proxy.requests.map((request) => request.target)), new Set(servers.map((server) => `127.0.0.1:${server.port}`)));
});

const httpArgs = (port: number, ...props: string[]): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app.log',
  '-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${port}`, '-p', 'format=json_lines', ...props.flatMap((p) => ['-p', p]), '-m', '*', '-f', '0.05',
];

async function httpAgent(t: Cleanup, port: number, ...props: string[]): Promise<InProcessAgent> {
  const running = await startAgent(httpArgs(port, ...props), undefined, { 'scheduler.base': '1', 'scheduler.cap': '1' });
  t.after(() => running.stop());
  return running;
}

test('http output with proxy and Basic auth: every record delivered through the tunnel', async (t) => {
  withEnvironment(t, {});
  const server = await captureServer();
  t.after(() => server.close());
  const proxy = await proxyFor(t, { credentials: { user: 'agent', password: 's3cret' } });
  const running = await httpAgent(t, server.port, `proxy=${proxy.url.replace('http://', 'http://agent:s3cret@')}`);
  await sendNumbered(running.tcpPort(), 0, 300);
  await running.waitFor(() => numbersIn(server.accepted.map((r) => r.body)).length >= 300, '300 records accepted', 30_000);
  assert.deepEqual(numbersIn(server.accepted.map((r) => r.body)).sort((a, b) => a - b), [...Array(300).keys()]);
  assert.ok(proxy.tunnels >= 1);
  assert.ok(proxy.requests.every((request) => request.target === `127.0.0.1:${server.port}`));
  assert.equal(proxy.requests[0]?.authorization, `Basic ${Buffer.from('agent:s3cret').toString('base64')}`);
  // The requests travelled inside the tunnel, so the server saw its own Host, and no proxy header.
  assert.equal(server.requests[0]?.headers.host, `127.0.0.1:${server.port}`);
  assert.equal(server.requests[0]?.headers['proxy-authorization'], undefined);
  assert.ok(proxy.bytesToTargets > 300 * 8);
});

test('http output, the proxy answers 403: retried, the log names the proxy, no record dropped', async (t) => {
  withEnvironment(t, {});
  const server = await captureServer();
  t.after(() => server.close());
  const refusing = await proxyFor(t, { answer: 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n' });
  const running = await httpAgent(t, server.port, `proxy=${refusing.url}`, 'retry_limit=no_limits');
  await sendNumbered(running.tcpPort(), 0, 10);
  await running.waitForLog(`proxy ${refusing.url} refused the tunnel: HTTP 403 Forbidden`, 20_000);
  await running.waitFor(() => refusing.connections >= 2, 'a retry through the proxy', 20_000);
  assert.equal(server.requests.length, 0, 'nothing reached the server');
  assert.equal(running.agent.metrics.get('fluentbit_output_dropped_records_total', 'http.0'), 0);
});

test('http output over TLS through the proxy: verified for the target name inside the tunnel, every record delivered', async (t) => {
  withEnvironment(t, {});
  const dir = privateTempDir('wsbit-proxy-https-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = writeTestPki(dir);
  const bodies: Buffer[] = [];
  const servernames: Array<string | false | null> = [];
  const https = createHttpsServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (request, response) => {
    servernames.push((request.socket as TLSSocket).servername);
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      bodies.push(Buffer.concat(parts));
      response.writeHead(201).end();
    });
  });
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  t.after(async () => {
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
  });
  const port = (https.address() as AddressInfo).port;
  const proxy = await proxyFor(t);
  const running = await startAgent(
    ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'http', '-p', 'host=localhost', '-p', `port=${port}`, '-p', 'tls=on', '-p', `tls.ca_file=${pki.ca}`,
      '-p', 'format=json_lines', '-p', `proxy=${proxy.url}`, '-m', '*', '-f', '0.05'],
  );
  t.after(() => running.stop());
  await sendNumbered(running.tcpPort(), 0, 200);
  await running.waitFor(() => numbersIn(bodies).length >= 200, '200 records over https', 30_000);
  assert.deepEqual(numbersIn(bodies).sort((a, b) => a - b), [...Array(200).keys()]);
  assert.ok(proxy.requests.length >= 1 && proxy.requests.every((request) => request.target === `localhost:${port}`));
  assert.ok(servernames.length > 0 && servernames.every((name) => name === 'localhost'));
});

test('http output over an upstream: NO_PROXY sends one node direct, the other goes through HTTP_PROXY; records sent = received', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const servers = [await captureServer(), await captureServer()];
  t.after(async () => {
    for (const server of servers) await server.close();
  });
  const proxy = await proxyFor(t);
  withEnvironment(t, { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost' });
  const file = dir.write(
    'nodes.conf',
    ['[UPSTREAM]', '    name two', '[NODE]', '    name proxied', '    host 127.0.0.1', `    port ${servers[0]!.port}`,
      '[NODE]', '    name direct', '    host localhost', `    port ${servers[1]!.port}`, ''].join('\n'),
  );
  const running = await startAgent(
    ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'http', '-p', `upstream=${file}`, '-p', 'format=json_lines', '-m', '*', '-f', '0.05'],
  );
  t.after(() => running.stop());
  const all = (): number[] => numbersIn(servers.flatMap((server) => server.accepted.map((r) => r.body)));
  // One batch at a time, each delivered before the next: separate chunks, which round robin spreads.
  for (let batch = 0; batch < 10; batch++) {
    await sendNumbered(running.tcpPort(), batch * 30, 30);
    await running.waitFor(() => all().length >= (batch + 1) * 30, `batch ${batch} at the nodes`, 30_000);
  }
  assert.deepEqual(all().sort((a, b) => a - b), [...Array(300).keys()]);
  assert.ok(servers.every((server) => server.accepted.length > 0), 'both nodes took a share');
  assert.deepEqual(new Set(proxy.requests.map((request) => request.target)), new Set([`127.0.0.1:${servers[0]!.port}`]), 'only the node NO_PROXY does not name went through the proxy');
});

test('environment: HTTP_PROXY takes a loopback target unless NO_PROXY names it; HTTPS_PROXY is for TLS targets only; net.proxy_env_ignore', async (t) => {
  const server = await captureServer();
  t.after(() => server.close());
  const proxy = await proxyFor(t);
  const cases: Array<{ env: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>; props: string[]; proxied: boolean }> = [
    { env: { HTTP_PROXY: proxy.url }, props: [], proxied: true },
    { env: { http_proxy: proxy.url, NO_PROXY: 'example.com' }, props: [], proxied: true },
    { env: { HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.1:9999' }, props: [], proxied: false },
    { env: { HTTP_PROXY: proxy.url, no_proxy: '127.0.0.0/8' }, props: [], proxied: false },
    { env: { HTTP_PROXY: proxy.url, NO_PROXY: '*' }, props: [], proxied: false },
    { env: { HTTPS_PROXY: proxy.url }, props: [], proxied: false },
    { env: { HTTP_PROXY: proxy.url }, props: ['net.proxy_env_ignore=on'], proxied: false },
  ];
  let first = 0;
  for (const { env, props, proxied } of cases) {
    const label = `${JSON.stringify(env)} ${props.join(' ')}`;
    const envScope = { after: (fn: () => unknown) => cleanups.push(fn) };
    const cleanups: Array<() => unknown> = [];
    withEnvironment(envScope, env);
    const tunnelsBefore = proxy.tunnels;
    const acceptedBefore = server.accepted.length;
    const running = await startAgent(httpArgs(server.port, ...props));
    try {
      await sendNumbered(running.tcpPort(), first, 20);
      await running.waitFor(() => numbersIn(server.accepted.slice(acceptedBefore).map((r) => r.body)).length >= 20, `20 records (${label})`, 30_000);
      assert.deepEqual(numbersIn(server.accepted.slice(acceptedBefore).map((r) => r.body)).sort((a, b) => a - b), [...Array(20).keys()].map((n) => n + first), label);
      assert.equal(proxy.tunnels > tunnelsBefore, proxied, label);
    } finally {
      await running.stop();
      for (const cleanup of cleanups) await cleanup();
    }
    first += 20;
  }
});

test('forward output through the proxy, with the shared-key handshake: the server speaks first, in the packet of the 200', async (t) => {
  withEnvironment(t, {});
  const into = await startAgent(['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'shared_key=s3cret', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => into.stop());
  const port = into.agent.input('forward.0')?.listeningPort?.() as number;
  const proxy = await proxyFor(t, { answerWithTargetBytes: true });
  const from = await startAgent(
    ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app.log', '-o', 'forward', '-p', 'host=127.0.0.1', '-p', `port=${port}`,
      '-p', 'shared_key=s3cret', '-p', 'require_ack_response=on', '-p', `proxy=${proxy.url}`, '-m', '*', '-f', '0.05'],
  );
  t.after(() => from.stop());
  await sendNumbered(from.tcpPort(), 0, 300);
  const received = (): number[] => into.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => Number((event.body as { n: unknown }).n)));
  await into.waitFor(() => received().length >= 300, '300 records', 60_000);
  assert.deepEqual(received().sort((a, b) => a - b), [...Array(300).keys()]);
  assert.ok(proxy.tunnels >= 1);
  assert.ok(proxy.requests.every((request) => request.target === `127.0.0.1:${port}`));
  assert.match(from.logs(), new RegExp(`target 127\\.0\\.0\\.1:${port} through proxy`));
  await from.waitFor(() => from.agent.metrics.get('wsbit_output_upstream_records_total', `forward.0/127.0.0.1:${port}`) === 300, 'the sender to count 300 delivered', 20_000);
});
