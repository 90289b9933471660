import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { decode } from '@msgpack/msgpack';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { extensionCodec } from '../../src/codec/msgpack.js';
import { TEST_CERT_PEM, TEST_KEY_PEM } from '../websocket/tls-fixture.js';
import { byteServer, captureServer, numbersIn, sendNumbered, tempDir, upstreamFile } from './support.js';

const quickRetries = { 'scheduler.base': '1', 'scheduler.cap': '1' };

async function sender(t: { after(fn: () => unknown): void }, output: string[]): Promise<InProcessAgent> {
  const running = await startAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app.log', ...output, '-m', '*', '-f', '0.05'], undefined, quickRetries);
  t.after(() => running.stop());
  return running;
}

/** An HTTPS server with the test certificate (CN=localhost, IP 127.0.0.1), collecting bodies. */
async function httpsServer(t: { after(fn: () => unknown): void }): Promise<{ port: number; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  const server = https.createServer({ cert: TEST_CERT_PEM, key: TEST_KEY_PEM }, (request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      bodies.push(Buffer.concat(parts));
      response.writeHead(200);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, bodies };
}

test('http output over TLS: the CA file verifies the server; a name it does not hold is refused and logged', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const ca = dir.write('ca.pem', TEST_CERT_PEM);
  const server = await httpsServer(t);
  const good = await sender(t, ['-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${server.port}`, '-p', 'tls=on', '-p', `tls.ca_file=${ca}`, '-p', 'format=json_lines']);
  await sendNumbered(good.tcpPort(), 0, 10);
  await good.waitFor(() => numbersIn(server.bodies).length === 10, '10 records over TLS', 20_000);

  const wrongName = await sender(t, ['-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${server.port}`, '-p', 'tls=on', '-p', `tls.ca_file=${ca}`, '-p', 'tls.vhost=other.example', '-p', 'retry_limit=no_limits']);
  await sendNumbered(wrongName.tcpPort(), 100, 1);
  await wrongName.waitForLog(/is down: .*(altnames|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID)/, 20_000);
  assert.equal(numbersIn(server.bodies).filter((n) => n >= 100).length, 0);
});

test('forward output over TLS to a TLS server: the message arrives whole', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const ca = dir.write('ca.pem', TEST_CERT_PEM);
  const server = await byteServer({ cert: TEST_CERT_PEM, key: TEST_KEY_PEM });
  t.after(() => server.close());
  const port = server.port;
  const from = await sender(t, ['-o', 'forward', '-p', 'host=127.0.0.1', '-p', `port=${port}`, '-p', 'tls=on', '-p', `tls.ca_file=${ca}`]);
  await sendNumbered(from.tcpPort(), 0, 3);
  await from.waitFor(() => server.bytes().length > 0 && from.agent.metrics.get('wsbit_output_upstream_chunks_total', `forward.0/127.0.0.1:${port}`) >= 1, 'a message', 20_000);
  const [tag, entries] = decode(server.bytes(), { extensionCodec }) as [string, Array<[unknown, { n: number }]>];
  assert.equal(tag, 'app.log');
  assert.deepEqual(entries.map(([, record]) => record.n), [0, 1, 2]);
});

test("http output over an upstream: each node's own uri and headers", async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const servers = [await captureServer(), await captureServer()];
  t.after(() => Promise.all(servers.map((server) => server.close())));
  const file = dir.write(
    'upstream.conf',
    upstreamFile('two', servers.map((server) => server.port), (index) => (index === 0 ? ['uri /first', 'header X-Node one'] : ['header X-Node two'])),
  );
  const from = await sender(t, ['-o', 'http', '-p', `upstream=${file}`, '-p', 'uri=/default', '-p', 'header=X-Common yes', '-p', 'format=json_lines']);
  for (let batch = 0; batch < 6; batch++) {
    await sendNumbered(from.tcpPort(), batch * 10, 10);
    await from.waitFor(() => numbersIn(servers.flatMap((server) => server.accepted.map((r) => r.body))).length === (batch + 1) * 10, `batch ${batch}`, 20_000);
  }
  const [first, second] = servers;
  assert.ok(first && second && first.accepted.length > 0 && second.accepted.length > 0, 'round robin used both nodes');
  assert.ok(first.accepted.every((r) => r.url === '/first' && r.headers['x-node'] === 'one' && r.headers['x-common'] === 'yes'));
  assert.ok(second.accepted.every((r) => r.url === '/default' && r.headers['x-node'] === 'two' && r.headers['x-common'] === 'yes'));
});
