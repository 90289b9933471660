/**
 * Permanent refusals of the websocket output's upgrade (issue 22, point 4): a `ws` server whose
 * verifyClient answers 401, 403 or 404, and a TLS server whose certificate the client does not trust.
 * Each is an error that names the keys to change, is repeated in summarised form while it lasts, and
 * makes /api/v1/health unhealthy until a handshake succeeds; alone and on a node of an upstream.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocketServer, type VerifyClientCallbackAsync } from 'ws';
import { HealthCheck } from '../../src/monitoring/health.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { upstreamFile } from '../upstream/support.js';
import { TEST_CERT_PEM, TEST_KEY_PEM } from '../websocket/tls-fixture.js';
import { decodeRecords, startTestAgent, type RunningTestAgent } from './websocket-output-support.js';

/**
 * A server that serves WebSocket at `path` only (404 elsewhere) and, while `token` is set, wants
 * `Authorization: Bearer <token>`: 401 without the header, 403 with another token.
 */
class GatePeer {
  path = '/ingest';
  token: string | null = 'good';
  /** The status of every refused upgrade, in order. */
  readonly refusals: number[] = [];
  readonly seqs: unknown[] = [];
  handshakes = 0;
  port = 0;
  private readonly wss: WebSocketServer;

  constructor(server?: HttpsServer) {
    const verifyClient: VerifyClientCallbackAsync = ({ req }, answer) => {
      const status = this.judge(req.url ?? '', req.headers.authorization);
      if (status === 0) return answer(true);
      this.refusals.push(status);
      answer(false, status);
    };
    this.wss = server === undefined ? new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient }) : new WebSocketServer({ server, verifyClient });
    this.wss.on('connection', (ws) => {
      this.handshakes++;
      ws.on('message', (data: Buffer) => this.seqs.push(...decodeRecords('json_lines', data).map((record) => record['seq'])));
    });
  }

  async listen(): Promise<this> {
    const address = this.wss.address();
    if (typeof address === 'object' && address !== null && address.port !== 0) {
      this.port = address.port;
      return this;
    }
    await once(this.wss, 'listening');
    this.port = (this.wss.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private judge(url: string, authorization: string | undefined): number {
    if (url !== this.path) return 404;
    if (this.token === null) return 0;
    if (authorization === undefined) return 401;
    return authorization === `Bearer ${this.token}` ? 0 : 403;
  }
}

const send = (port: number, from: number, count: number): void => {
  netConnect({ host: '127.0.0.1', port }).end(Array.from({ length: count }, (_, i) => `{"seq":${from + i}}\n`).join(''));
};

const agentArgs = (target: string, extra: string[] = []): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', target, '-p', 'format=json_lines', ...extra, '-m', '*', '-f', '0.1',
];

/** The health check as the service runs it, over this agent's metrics; thresholds high so only a refusal can trip it. */
const healthOf = (agent: RunningTestAgent): HealthCheck => new HealthCheck(agent.agent.metrics, { errorsCount: 1000, retryFailureCount: 1000, periodSeconds: 60 });

/** The link's own error lines about a refusal: the first one and the reminders. */
const refusalLines = /\[error\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/ingest (?:refused|still refuses) the connection/;

test('401: an error naming the header key, reminders in summarised form while it lasts, unhealthy until a handshake succeeds', async (t) => {
  const peer = await new GatePeer().listen();
  t.after(() => peer.close());
  const agent = await startTestAgent(agentArgs(`websocket://127.0.0.1:${peer.port}/ingest`), { level: 'info', service: { grace: '1' } });
  t.after(() => agent.stop());
  const health = healthOf(agent);
  assert.equal(health.isHealthy, true);
  send(agent.tcpPort(), 1, 10);

  await agent.waitForLog(/refused the connection: HTTP 401/);
  const first = agent.lines.find((line) => /refused the connection: HTTP 401/.test(line)) ?? '';
  assert.match(first, /^\[[^\]]+\] \[error\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/ingest refused the connection: HTTP 401 Unauthorized; no Authorization header was sent: set the token or credentials the server expects with the header key, e\.g\. 'header Authorization Bearer <token>'\. Records wait/);
  assert.match(first, /\/api\/v1\/health reports unhealthy until a handshake succeeds/);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 1);
  assert.equal(health.isHealthy, false, 'unhealthy at once, not at the end of a period');

  // Several reconnect attempts later: a reminder with the count, and fewer error lines than attempts.
  await agent.waitForLog(/still refuses the connection: HTTP 401 Unauthorized, \d+ attempts since \d{4}\/\d\d\/\d\d [\d:.]+; no Authorization header was sent/, 15_000);
  const attempts = peer.refusals.length;
  const errors = agent.countLines(refusalLines);
  t.diagnostic(`${attempts} refused attempts, ${errors} error lines`);
  assert.ok(attempts >= 4, `several attempts at the reconnect backoff (${attempts})`);
  assert.ok(errors >= 2 && errors < attempts, `repeated, but summarised: ${errors} error lines for ${attempts} attempts`);
  assert.equal(agent.countLines(/\[ warn\] \[output:websocket:websocket\.0\] connecting to .* failed/), 0, 'not told as an outage warning');
  assert.ok(peer.refusals.every((status) => status === 401));
  assert.equal(health.isHealthy, false);

  // The server stops asking for a token: the next attempt succeeds, the records go, health is green again.
  peer.token = null;
  await agent.waitFor(() => peer.seqs.length === 10, 'the 10 records once the server accepts', 10_000);
  await agent.waitForLog(/\[ info\] \[output:websocket:websocket\.0\] handshake with .* succeeded, connection up again .*; the server accepts the upgrade again after refusing it \d+ times \(HTTP 401 Unauthorized\)/);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 0);
  assert.equal(health.isHealthy, true);
});

test('403: the Authorization header sent is named as refused', async (t) => {
  const peer = await new GatePeer().listen();
  t.after(() => peer.close());
  const agent = await startTestAgent(agentArgs(`websocket://127.0.0.1:${peer.port}/ingest`, ['-p', 'header=Authorization Bearer stale']), { level: 'info', service: { grace: '1' } });
  t.after(() => agent.stop());
  send(agent.tcpPort(), 1, 3);
  await agent.waitForLog(/\[error\] .*refused the connection: HTTP 403 Forbidden; the Authorization header sent \(header key\) is not allowed here: set the token or credentials the server expects with the header key/);
  assert.equal(healthOf(agent).isHealthy, false);
  // The right token: accepted at the next attempt.
  peer.token = 'stale';
  await agent.waitFor(() => peer.seqs.length === 3, 'the records');
  assert.equal(healthOf(agent).isHealthy, true);
});

test('404: the uri key and the path used are named', async (t) => {
  const peer = await new GatePeer().listen();
  t.after(() => peer.close());
  const agent = await startTestAgent(agentArgs(`websocket://127.0.0.1:${peer.port}/logs`), { level: 'info', service: { grace: '1' } });
  t.after(() => agent.stop());
  send(agent.tcpPort(), 1, 3);
  await agent.waitForLog(/\[error\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/logs refused the connection: HTTP 404 Not Found; no WebSocket endpoint at path "\/logs": set the uri key \(or the path of the websocket:\/\/ URL\) to the path the server serves/);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 1);
  // A refused chunk is not lost at shutdown without a word: the line says why.
  const { undeliveredRecords } = await agent.stop();
  assert.equal(undeliveredRecords, 3);
  assert.match(agent.logs(), /\[error\] \[engine\] 3 records \(1 chunk\) were not delivered within Grace=\d+s and are lost: output websocket\.0: connecting to ws:\/\/127\.0\.0\.1:\d+\/logs failed: server rejected the WebSocket upgrade: HTTP 404 Not Found/);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 0, 'a stopped output no longer holds health down');
});

test('a 500 answer is no refusal: retrying may help, so it stays an outage warning', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (_info, answer) => answer(false, 503) });
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const agent = await startTestAgent(agentArgs(`websocket://127.0.0.1:${port}/`), { level: 'info', service: { grace: '1' } });
  t.after(() => agent.stop());
  send(agent.tcpPort(), 1, 1);
  await agent.waitForLog(/\[ warn\] \[output:websocket:websocket\.0\] connecting to .* failed: server rejected the WebSocket upgrade: HTTP 503/);
  assert.equal(agent.countLines(/\[error\]/), 0);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0'), 0);
});

test('TLS: an untrusted certificate names tls.ca_file, a name mismatch names tls.vhost', async (t) => {
  const dir = tempDir('wsbit-refusals-');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, TEST_CERT_PEM);
  const https = createHttpsServer({ cert: TEST_CERT_PEM, key: TEST_KEY_PEM });
  const peer = new GatePeer(https);
  peer.token = null;
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  peer.port = (https.address() as AddressInfo).port;
  t.after(async () => {
    await peer.close();
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
  });

  const untrusted = await startTestAgent(agentArgs(`websocket://127.0.0.1:${peer.port}/ingest`, ['-p', 'tls=on']), { level: 'info', service: { grace: '1' } });
  t.after(() => untrusted.stop());
  send(untrusted.tcpPort(), 1, 1);
  await untrusted.waitForLog(/\[error\] \[output:websocket:websocket\.0\] wss:\/\/127\.0\.0\.1:\d+\/ingest refused the connection: TLS verification failed: self[- ]signed certificate; the server's certificate is not signed by a CA wsbit trusts: set tls\.ca_file \(or tls\.ca_path\) to the CA that signed it, or tls\.verify off/);
  assert.equal(healthOf(untrusted).isHealthy, false);
  await untrusted.stop();

  const otherName = await startTestAgent(agentArgs(`websocket://127.0.0.1:${peer.port}/ingest`, ['-p', 'tls=on', '-p', `tls.ca_file=${caFile}`, '-p', 'tls.vhost=example.com']), { level: 'info', service: { grace: '1' } });
  t.after(() => otherName.stop());
  send(otherName.tcpPort(), 1, 1);
  await otherName.waitForLog(/\[error\] .*refused the connection: TLS verification failed: .*example\.com.*; the certificate does not carry the name wsbit checks \(example\.com\): set host or tls\.vhost to a name in the certificate, or tls\.verify_hostname off/);
  assert.equal(peer.handshakes, 0);
});

test('upstream: a node answering 404 is an error of its own naming its [NODE], while the other node delivers', async (t) => {
  const good = await new GatePeer().listen();
  good.token = null;
  const wrongPath = await new GatePeer().listen();
  wrongPath.token = null;
  t.after(() => Promise.all([good.close(), wrongPath.close()]));
  const dir = tempDir('wsbit-refusals-');
  const file = join(dir, 'nodes.conf');
  writeFileSync(file, upstreamFile('two', [wrongPath.port, good.port], (index) => (index === 0 ? ['uri /old'] : [])));
  const agent = await startTestAgent(agentArgs('websocket', ['-p', `upstream=${file}`, '-p', 'uri=/ingest']), { level: 'info', service: { grace: '1' } });
  t.after(() => agent.stop());
  const health = healthOf(agent);
  send(agent.tcpPort(), 1, 20);
  await agent.waitFor(() => good.seqs.length === 20, 'all records through the node that accepts', 15_000);
  await agent.waitForLog(/\[error\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/old refused the connection: HTTP 404 Not Found; no WebSocket endpoint at path "\/old": set the uri key of this \[NODE\] \(or of the output\) to the path the server serves/);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0/node-1'), 1);
  assert.equal(agent.agent.metrics.get('wsbit_output_refused', 'websocket.0/node-2'), 0);
  assert.equal(health.isHealthy, false, 'a node refused for good is a configuration to fix, even while another delivers');
  // The node's server moves to the path it was given: the node comes back and health turns green.
  wrongPath.path = '/old';
  await agent.waitFor(() => agent.agent.metrics.get('wsbit_output_refused', 'websocket.0/node-1') === 0, 'the node to accept the upgrade again', 15_000);
  assert.equal(health.isHealthy, true);
});

/** The http_server's port from its start-up line. */
function httpPort(agent: RunningAgent): number {
  const match = /\[http_server\] listen iface=\S+ tcp_port=(\d+)/.exec(agent.stderr());
  if (match === null) throw new Error(`no http_server line in:\n${agent.stderr()}`);
  return Number(match[1]);
}

async function healthStatus(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
  await response.text();
  return response.status;
}

test('bin/wsbit: /api/v1/health is 500 while the server answers 403 and 200 after the handshake that succeeds', async (t) => {
  const peer = await new GatePeer().listen();
  t.after(() => peer.close());
  const dir = tempDir('wsbit-refusals-');
  const conf = join(dir, 'wsbit.conf');
  // HC_Errors_Count is high: only the refusal can make the agent unhealthy here.
  writeFileSync(conf, ['[SERVICE]', '    HTTP_Server on', '    HTTP_Listen 127.0.0.1', '    HTTP_Port 0', '    Health_Check on', '    HC_Errors_Count 1000', '    HC_Period 1', '    Grace 1', ''].join('\n'));
  const agent = spawnAgent(['-c', conf, ...agentArgs(`websocket://127.0.0.1:${peer.port}/ingest`, ['-p', 'header=Authorization Bearer old'])]);
  t.after(() => agent.stop('SIGKILL'));
  await agent.waitForOutput(/\[http_server\] listen/);
  const monitor = httpPort(agent);
  assert.equal(await healthStatus(monitor), 200);
  await agent.waitForOutput(/listening on 127\.0\.0\.1:\d+/);
  send(Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]), 1, 5);
  await agent.waitForOutput(/\[error\] \[output:websocket:websocket\.0\] .*refused the connection: HTTP 403 Forbidden/);
  assert.equal(await healthStatus(monitor), 500);
  peer.token = 'old';
  let status = 500;
  for (let i = 0; i < 100 && status !== 200; i++) {
    await sleep(100);
    status = await healthStatus(monitor);
  }
  assert.equal(status, 200, `healthy again once the server accepts\n${agent.stderr()}`);
  await agent.waitForOutput(/the server accepts the upgrade again after refusing it \d+ times? \(HTTP 403 Forbidden\)/);
  assert.equal(await agent.stop('SIGTERM'), 0);
});
