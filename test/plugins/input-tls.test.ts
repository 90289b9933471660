/**
 * TLS on the tcp, forward and http inputs (Fluent Bit's `tls*` keys on servers), with Node's TLS
 * client, @fluent-org/logger over TLS and undici over HTTPS: records arrive, plain clients and clients without the required
 * certificate are refused at the handshake and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import { FluentClient } from '@fluent-org/logger';
import { Agent, request } from 'undici';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { CLIENT_CERT_PEM, CLIENT_KEY_PEM, writeTestPki } from '../websocket/tls-ca-fixture.js';

function bodies(running: InProcessAgent): unknown[] {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => event.body));
}

/** Sends `text` over TLS (or plain TCP with `ca` null) and resolves once the connection is closed; rejects on a TLS error. */
function send(port: number, text: string, options: tls.ConnectionOptions | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = options === null ? net.connect(port, '127.0.0.1', () => socket.end(text)) : tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ...options }, () => socket.end(text));
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

async function tcpOverTls(t: { after(fn: () => unknown): void }, ...props: string[]): Promise<{ running: InProcessAgent; ca: Buffer; dir: string }> {
  const dir = tempDir('wsbit-input-tls-');
  const pki = writeTestPki(dir);
  const running = await startAgent([
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'tls=on', '-p', `tls.crt_file=${pki.serverCert}`, '-p', `tls.key_file=${pki.serverKey}`,
    ...props.flatMap((p) => ['-p', p.replace('CA_FILE', pki.ca)]),
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  return { running, ca: fs.readFileSync(pki.ca), dir };
}

test('tcp with tls on: a TLS client is read; a plain TCP client is refused at the handshake and counted', async (t) => {
  const { running, ca } = await tcpOverTls(t);
  await send(running.tcpPort(), '{"a":1}\n{"a":2}\n', { ca });
  await waitFor(() => bodies(running).length === 2, 'two records');
  assert.deepEqual(bodies(running), [{ a: 1 }, { a: 2 }]);
  await send(running.tcpPort(), '{"plain":true}\n', null);
  await waitFor(() => (running.agent.metrics.get('wsbit_tls_handshake_failures_total', 'tcp.0') ?? 0) >= 1, 'the failed handshake counted');
  assert.deepEqual(bodies(running), [{ a: 1 }, { a: 2 }]);
  assert.match(running.logs(), /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
});

test("tcp with tls.verify_client_cert (Fluent Bit's name): only clients with a certificate from tls.ca_file are read", async (t) => {
  const { running, ca } = await tcpOverTls(t, 'tls.verify_client_cert=on', 'tls.ca_file=CA_FILE');
  // The handshake refuses the client without a certificate (with TLS 1.3 the client may learn it only after its write).
  await send(running.tcpPort(), '{"anonymous":true}\n', { ca }).catch(() => undefined);
  await waitFor(() => (running.agent.metrics.get('wsbit_tls_handshake_failures_total', 'tcp.0') ?? 0) >= 1, 'the refused handshake counted');
  await send(running.tcpPort(), '{"signed":true}\n', { ca, cert: CLIENT_CERT_PEM, key: CLIENT_KEY_PEM });
  await waitFor(() => bodies(running).length === 1, 'the signed client record');
  assert.deepEqual(bodies(running), [{ signed: true }]);
});

test('forward with tls on: @fluent-org/logger over TLS delivers with acks', async (t) => {
  const dir = tempDir('wsbit-input-tls-');
  const pki = writeTestPki(dir);
  const running = await startAgent([
    '-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'tls=on', '-p', `tls.crt_file=${pki.serverCert}`, '-p', `tls.key_file=${pki.serverKey}`,
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  const port = running.agent.input('forward.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  const client = new FluentClient(null, {
    socket: { host: '127.0.0.1', port: port as number, timeout: -1, tls: { ca: fs.readFileSync(pki.ca), servername: 'localhost' } },
    ack: { ackTimeout: 5000 },
  });
  t.after(() => client.shutdown().catch(() => undefined));
  await client.emit('secure.app', { message: 'over tls' });
  await waitFor(() => bodies(running).length === 1, 'the record');
  assert.deepEqual(bodies(running), [{ message: 'over tls' }]);
  assert.equal(running.chunks[0]?.tag, 'secure.app');
});

test('http with tls on: undici posts over HTTPS, with a client certificate when tls.verify_client_cert is on; plain HTTP is refused', async (t) => {
  const dir = tempDir('wsbit-input-tls-');
  const pki = writeTestPki(dir);
  const running = await startAgent([
    '-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'tls=on', '-p', `tls.crt_file=${pki.serverCert}`, '-p', `tls.key_file=${pki.serverKey}`,
    '-p', 'tls.verify_client_cert=on', '-p', `tls.ca_file=${pki.ca}`,
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  const port = running.agent.input('http.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  const ca = fs.readFileSync(pki.ca);
  const signed = new Agent({ connect: { ca, servername: 'localhost', cert: CLIENT_CERT_PEM, key: CLIENT_KEY_PEM } });
  t.after(() => signed.close());
  const answer = await request(`https://127.0.0.1:${port as number}/secure.http`, { method: 'POST', body: '{"over":"https"}', headers: { 'content-type': 'application/json' }, dispatcher: signed });
  await answer.body.text();
  assert.equal(answer.statusCode, 201);
  await waitFor(() => bodies(running).length === 1, 'the record');
  assert.deepEqual(bodies(running), [{ over: 'https' }]);
  assert.equal(running.chunks[0]?.tag, 'secure.http');
  // Without a client certificate, and in plain HTTP, the handshake fails.
  const anonymous = new Agent({ connect: { ca, servername: 'localhost' } });
  t.after(() => anonymous.close());
  await assert.rejects(request(`https://127.0.0.1:${port as number}/x`, { method: 'POST', body: '{}', dispatcher: anonymous }).then((r) => r.body.text()));
  await assert.rejects(request(`http://127.0.0.1:${port as number}/x`, { method: 'POST', body: '{}', headersTimeout: 5000 }).then((r) => r.body.text()));
  await waitFor(() => (running.agent.metrics.get('wsbit_tls_handshake_failures_total', 'http.0') ?? 0) >= 2, 'two refused handshakes counted');
  assert.equal(bodies(running).length, 1);
});

test('tls on needs tls.crt_file and tls.key_file; a bad file stops the start', async () => {
  const missing = spawnAgent(['-i', 'tcp', '-p', 'tls=on', '-p', 'port=0', '-o', 'null']);
  assert.equal(await missing.waitForExit(), 1);
  assert.match(missing.stderr(), /tcp\.0: tls on needs tls\.crt_file and tls\.key_file/);
  const dir = tempDir('wsbit-input-tls-');
  const bad = path.join(dir, 'bad.pem');
  fs.writeFileSync(bad, 'not a certificate');
  const unreadable = spawnAgent(['-i', 'forward', '-p', 'tls=on', '-p', 'port=0', '-p', `tls.crt_file=${bad}`, '-p', `tls.key_file=${bad}`, '-o', 'null']);
  assert.equal(await unreadable.waitForExit(), 1);
  assert.match(unreadable.stderr(), /forward\.0: cannot use tls\.crt_file\/tls\.key_file/);
});
