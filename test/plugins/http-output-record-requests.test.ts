/**
 * The http output's body_key and headers_key beyond Fluent Bit's recording (http-output.test.ts):
 * records without a body or headers, a retried chunk, and the keys' checks; http.read_idle_timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { captureServer } from '../upstream/support.js';

const lines = [
  '{"body":"one","h":{"X-N":"1"}}',
  '{"h":{"X-N":"no body"}}',
  '{"body":"two","h":"not a map"}',
  '{"body":"three","h":{"X-N":"3","X-Num":3}}',
  '{"body":"four","h":{"X-N":"4"}}',
].join('\n');

test('body_key: a request per record; records without both are left out and counted; a retried chunk resumes after what went out', async (t) => {
  // The second request is answered 503 once: the chunk is retried from that record on.
  const server = await captureServer((_request, index) => (index === 1 ? { status: 503 } : { status: 200 }));
  t.after(() => server.close());
  const running = await startAgent(
    [
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app',
      '-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${server.port}`, '-p', 'body_key=$body', '-p', 'headers_key=$h', '-p', 'http_method=PUT', '-p', 'retry_limit=5', '-m', '*', '-f', '0.05',
    ],
    undefined,
    { 'scheduler.base': '1', 'scheduler.cap': '1' },
  );
  t.after(() => running.stop());
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(running.tcpPort(), '127.0.0.1', () => socket.end(`${lines}\n`));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  await running.waitFor(() => server.accepted.length >= 3, '3 requests accepted', 30_000);
  assert.deepEqual(server.accepted.map((request) => request.body.toString()), ['one', 'three', 'four']);
  assert.deepEqual(server.requests.map((request) => request.body.toString()), ['one', 'three', 'three', 'four']);
  assert.ok(server.requests.every((request) => request.method === 'PUT'));
  // Only string pairs become headers, and no content type of the output's format is added.
  const three = server.accepted[1];
  assert.equal(three?.headers['x-n'], '3');
  assert.equal(three?.headers['x-num'], undefined);
  assert.equal(three?.headers['content-type'], undefined);
  assert.equal(running.agent.metrics.get('wsbit_output_rejected_records_total', 'http.0'), 2);
  assert.match(running.logs(), /record 1 of chunk '[^']+' left out: no string at body_key \$body/);
  assert.match(running.logs(), /record 2 of chunk '[^']+' left out: no map at headers_key \$h/);
});

test('body_key and headers_key come together; http_method is POST or PUT', async () => {
  const alone = spawnAgent(['-i', 'dummy', '-o', 'http', '-p', 'body_key=$b', '-D']);
  assert.equal(await alone.waitForExit(), 1);
  assert.match(alone.stderr(), /http\.0: body_key needs headers_key/);
  const method = spawnAgent(['-i', 'dummy', '-o', 'http', '-p', 'http_method=GET', '-D']);
  assert.equal(await method.waitForExit(), 1);
  assert.match(method.stderr(), /invalid value 'GET' for 'http_method': expected one of POST, PUT/);
});

test('http.read_idle_timeout: a response body that stalls is given up after it, and the 2xx status still counts', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
    // Ten bytes of a hundred, then nothing more.
    response.write('0123456789');
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const running = await startAgent(['-i', 'dummy', '-p', 'samples=1', '-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${port}`, '-p', 'http.read_idle_timeout=1s', '-p', 'log_response_payload=on', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  await running.waitFor(() => (running.agent.metrics.get('fluentbit_output_proc_records_total', 'http.0') ?? 0) === 1, 'the record delivered');
  assert.match(running.logs(), /response body unreadable/);
});
