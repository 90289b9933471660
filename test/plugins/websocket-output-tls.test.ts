/**
 * The websocket output over TLS, against `ws` on an https server, with the self-signed certificates of
 * test/websocket/tls-fixture.ts: verified by default, a clean failure with the wrong CA, and port 443
 * when `tls on`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { waitFor } from '../helpers/wait.js';
import { OTHER_CA_CERT_PEM, TEST_CERT_PEM, TEST_KEY_PEM } from '../websocket/tls-fixture.js';
import { decodeRecords, startTestAgent, type RunningTestAgent } from './websocket-output-support.js';

let dir = '';
/** The server's self-signed certificate (CN=localhost, SAN IP:127.0.0.1, DNS:localhost) and key. */
let certFile = '';
let keyFile = '';
/** Another self-signed certificate: the wrong CA. */
let otherCaFile = '';

function pemFile(name: string, pem: string): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  return file;
}

before(() => {
  // wsbit reads them from files, as a user's configuration names them.
  dir = mkdtempSync(join(tmpdir(), 'wsbit-wss-'));
  certFile = pemFile('server.crt.pem', TEST_CERT_PEM);
  keyFile = pemFile('server.key.pem', TEST_KEY_PEM);
  otherCaFile = pemFile('other.crt.pem', OTHER_CA_CERT_PEM);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface WssPeer {
  port: number;
  seqs: unknown[];
  handshakes: number;
  tlsFailures: string[];
  close(): Promise<void>;
}

async function wssPeer(): Promise<WssPeer> {
  const https = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
  const wss = new WebSocketServer({ server: https });
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  const peer: WssPeer = {
    port: (https.address() as AddressInfo).port,
    seqs: [],
    handshakes: 0,
    tlsFailures: [],
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    },
  };
  https.on('tlsClientError', (error) => peer.tlsFailures.push(error.message));
  wss.on('connection', (ws) => {
    peer.handshakes++;
    ws.on('message', (data: Buffer) => peer.seqs.push(...decodeRecords('json_lines', data).map((record) => record['seq'])));
  });
  return peer;
}

let peer: WssPeer | undefined;
let agent: RunningTestAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  await peer?.close();
  agent = undefined;
  peer = undefined;
});

const send = (port: number, count: number): void => {
  netConnect({ host: '127.0.0.1', port }).end(Array.from({ length: count }, (_, i) => `{"seq":${i + 1}}\n`).join(''));
};

const tlsAgent = (port: number, extra: string[]): Promise<RunningTestAgent> =>
  startTestAgent(
    ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${port}/`, '-p', 'tls=on', '-p', 'format=json_lines', ...extra, '-f', '0.2'],
    { service: { grace: '1' } },
  );

describe('wss', () => {
  it('verifies the server against tls.ca_file (verification is on by default) and delivers', async () => {
    peer = await wssPeer();
    agent = await tlsAgent(peer.port, ['-p', `tls.ca_file=${certFile}`]);
    send(agent.tcpPort(), 10);
    const running = agent;
    const server = peer;
    await running.waitFor(() => server.seqs.length === 10, '10 records over wss');
    assert.deepEqual(peer.seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.match(agent.logs(), new RegExp(`\\[ info\\] \\[output:websocket:websocket\\.0\\] target wss://127\\.0\\.0\\.1:${peer.port}/, format json_lines`));
    assert.match(agent.logs(), /handshake with wss:\/\/127\.0\.0\.1:\d+\/ succeeded, connection up/);
  });

  it('the wrong CA: a clear error naming tls.ca_file, retries, no data sent, no crash', async () => {
    peer = await wssPeer();
    agent = await tlsAgent(peer.port, ['-p', `tls.ca_file=${otherCaFile}`]);
    send(agent.tcpPort(), 10);
    const running = agent;
    // An untrusted certificate is a refusal no retry changes (issue 22): an error that says what to set.
    const failure = /\[error\] \[output:websocket:websocket\.0\] wss:\/\/127\.0\.0\.1:\d+\/ refused the connection: TLS verification failed: self[- ]signed certificate; .*set tls\.ca_file/;
    await running.waitFor(() => running.agent.metrics.get('wsbit_output_connection_failures_total', 'websocket.0') >= 2, 'two failed attempts', 10_000);
    // The attempts that follow within seconds go to debug level; a summarised reminder comes later.
    assert.equal(running.countLines(failure), 1);
    assert.equal(peer.handshakes, 0);
    assert.deepEqual(peer.seqs, []);
    const { undeliveredRecords } = await agent.stop();
    assert.equal(undeliveredRecords, 10, 'reported as undelivered at shutdown, not silently dropped');
  });

  it('without tls.ca_file the self-signed server is refused too (the system CAs do not know it)', async () => {
    peer = await wssPeer();
    agent = await tlsAgent(peer.port, []);
    send(agent.tcpPort(), 1);
    const running = agent;
    await running.waitForLog(/\[error\] .*wss:\/\/127\.0\.0\.1:\d+\/ refused the connection: TLS verification failed: self[- ]signed certificate/);
    assert.equal(peer.handshakes, 0);
  });

  it('tls.verify off accepts it', async () => {
    peer = await wssPeer();
    agent = await tlsAgent(peer.port, ['-p', 'tls.verify=off']);
    send(agent.tcpPort(), 3);
    const server = peer;
    await waitFor(() => server.seqs.length === 3, '3 records over wss');
  });

  it('a certificate for another name fails hostname verification', async () => {
    peer = await wssPeer();
    agent = await tlsAgent(peer.port, ['-p', `tls.ca_file=${certFile}`, '-p', 'tls.vhost=example.com']);
    send(agent.tcpPort(), 1);
    await agent.waitForLog(/\[error\] .*wss:\/\/127\.0\.0\.1:\d+\/ refused the connection: TLS verification failed: .*example\.com.*set host or tls\.vhost/);
    assert.equal(peer.handshakes, 0);
  });
});

describe('the port default', () => {
  const target = async (extra: string[]): Promise<string> => {
    const running = await startTestAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'websocket', '-p', 'host=127.0.0.1', ...extra]);
    try {
      return /target (\S+),/.exec(running.logs())?.[1] ?? '';
    } finally {
      await running.stop();
    }
  };

  it('is 443 with tls on, 80 without, and an explicit port wins (Fluent Bit keeps 80 with TLS)', async () => {
    assert.equal(await target(['-p', 'tls=on']), 'wss://127.0.0.1:443/');
    assert.equal(await target([]), 'ws://127.0.0.1:80/');
    assert.equal(await target(['-p', 'tls=on', '-p', 'port=8443']), 'wss://127.0.0.1:8443/');
  });
});
