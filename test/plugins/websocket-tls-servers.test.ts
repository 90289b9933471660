/**
 * TLS on both WebSocket servers from the shared server keys (plugins/tls-server.ts): websocket_server
 * serves wss and its live page over https; with tls.verify_client, the websocket_server and the
 * websocket input take only clients whose certificate the test CA signed, and count and summarise
 * the handshakes that fail.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { WebSocket, type ClientOptions } from 'ws';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { CA_CERT_PEM, CLIENT_CERT_PEM, CLIENT_KEY_PEM, ROGUE_CERT_PEM, ROGUE_KEY_PEM, writeTestPki } from '../websocket/tls-ca-fixture.js';
import { startInput } from './websocket-input-support.js';
import { startServer, stopAllServers } from './websocket-server-support.js';

afterEach(() => stopAllServers());

const pki = writeTestPki(tempDir('wsbit-tls-servers-'));
const serverTls = { tls: true, 'tls.crt_file': pki.serverCert, 'tls.key_file': pki.serverKey };
const verifyClient = { ...serverTls, 'tls.ca_file': pki.ca, 'tls.verify_client': true };
const withCert = { ca: CA_CERT_PEM, cert: CLIENT_CERT_PEM, key: CLIENT_KEY_PEM };
const rogueCert = { ca: CA_CERT_PEM, cert: ROGUE_CERT_PEM, key: ROGUE_KEY_PEM };

/** Opens a ws client; resolves with it once open, rejects with the handshake's error. */
function open(url: string, options: ClientOptions): Promise<{ ws: WebSocket; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(data.toString()));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

const failureLines = (lines: string): number => lines.split('\n').filter((line) => /TLS handshake failed/.test(line)).length;

test('websocket_server with tls on: records over wss, the live page over https, a client that does not trust the CA or speaks plain ws refused', async () => {
  const server = await startServer({ ...serverTls });
  assert.match(server.logLines.join(''), /listening on 127\.0\.0\.1:\d+ \(TLS: wss\), live page at https:\/\/127\.0\.0\.1:\d+\//);
  const client = await open(server.url(), { ca: CA_CERT_PEM });
  await waitFor(() => server.output.clientCount() === 1, 'the client');
  await server.flush('app', [{ body: '{"over":"wss"}' }]);
  await waitFor(() => client.messages.length === 1, 'the record');
  assert.match(client.messages[0] ?? '', /"over":"wss"/);
  client.ws.terminate();
  const dispatcher = new Agent({ connect: { ca: CA_CERT_PEM } });
  const page = await fetch(server.httpUrl('/'), { dispatcher });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  await dispatcher.close();
  // A client that does not trust the test CA fails its handshake: counted, not a crash.
  await assert.rejects(open(server.url(), {}), /self-signed|unable to verify|certificate/i);
  await assert.rejects(open(server.url().replace('wss:', 'ws:'), {}));
  await waitFor(() => server.metrics.get('wsbit_tls_handshake_failures_total', 'websocket_server.0') >= 1, 'the failed handshake counted');
});

test('websocket_server tls.verify_client: a client with a certificate the CA signed gets records; none or a rogue one fails the handshake, counted, logged once', async () => {
  const server = await startServer({ ...verifyClient });
  const agent = await open(server.url(), withCert);
  await waitFor(() => server.output.clientCount() === 1, 'the client with a certificate');
  await server.flush('app', [{ body: '{"signed":true}' }]);
  await waitFor(() => agent.messages.length === 1, 'the record');
  assert.match(agent.messages[0] ?? '', /"signed":true/);
  for (let i = 0; i < 3; i++) await assert.rejects(open(server.url(), { ca: CA_CERT_PEM }));
  await assert.rejects(open(server.url(), rogueCert));
  await waitFor(() => server.metrics.get('wsbit_tls_handshake_failures_total', 'websocket_server.0') === 4, 'four failed handshakes counted');
  assert.equal(server.output.clientCount(), 1, 'only the client with a certificate');
  // Four failures, one line: the rest go into the summary.
  assert.equal(failureLines(server.logLines.join('')), 1);
  assert.match(server.logLines.join(''), /TLS handshake failed with 127\.0\.0\.1: peer did not return a certificate/);
  agent.ws.terminate();
});

test('websocket input tls.verify_client: an agent with a signed certificate sends records; without one it is refused and counted', async (t) => {
  const input = await startInput(t, Object.entries(verifyClient).map(([key, value]) => `${key}=${value === true ? 'on' : String(value)}`));
  const agent = await open(`wss://127.0.0.1:${input.port}/`, withCert);
  agent.ws.send('{"from":"agent"}');
  await waitFor(() => input.events().length === 1, 'the record');
  assert.deepEqual(input.events().map((e) => e.body), [{ from: 'agent' }]);
  await assert.rejects(open(`wss://127.0.0.1:${input.port}/`, { ca: CA_CERT_PEM }));
  await assert.rejects(open(`wss://127.0.0.1:${input.port}/`, rogueCert));
  await waitFor(() => input.metric('wsbit_tls_handshake_failures_total') === 2, 'two failed handshakes counted');
  assert.equal(failureLines(input.logs()), 1);
  agent.ws.terminate();
});

test('config errors: verify_client without tls.ca_file or without tls, tls without its files, an unreadable CA file', async () => {
  await assert.rejects(startServer({ ...serverTls, 'tls.verify_client': true }), /tls\.verify_client on needs tls on and tls\.ca_file/);
  await assert.rejects(startServer({ 'tls.ca_file': pki.ca, 'tls.verify_client': true }), /tls\.verify_client on needs tls on/);
  await assert.rejects(startServer({ tls: true }), /tls on needs tls\.crt_file and tls\.key_file/);
  await assert.rejects(startServer({ ...verifyClient, 'tls.ca_file': `${pki.ca}.missing` }), /cannot read tls\.ca_file/);
});
