import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { contentType, requestHeaders, resultForStatus } from '../../src/plugins/outputs/http/request.js';
import { quoteUntrusted } from '../../src/base/logger.js';
import { captureServer, numbersIn, sendNumbered, type CaptureServer } from '../upstream/support.js';
import { repoRoot } from '../helpers/paths.js';

const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

interface FixtureRequest {
  method: string;
  url: string;
  headers: string[];
  bodyBase64: string;
}

const fixture = (name: string): FixtureRequest => {
  const requests = JSON.parse(fs.readFileSync(path.join(fixturesDir, 'http-output', `fluent-bit-${name}.json`), 'utf8')) as FixtureRequest[];
  return requests[0] as FixtureRequest;
};

/** Header pairs without those the HTTP client owns (Host, Content-Length, Connection), whose place differs between clients. */
function ownHeaders(raw: readonly string[]): string[] {
  const pairs: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'host' || name === 'content-length' || name === 'connection') continue;
    pairs.push(`${name}: ${raw[i + 1] as string}`);
  }
  return pairs;
}

function unzipIfNeeded(body: Buffer, headers: readonly string[]): Buffer {
  const gzip = headers.some((value, i) => i % 2 === 0 && value.toLowerCase() === 'content-encoding' && headers[i + 1] === 'gzip');
  return gzip ? zlib.gunzipSync(body) : body;
}

/** The event time of Fluent Bit's first record, so wsbit's dummy can produce the same one. */
function fixtureTime(name: string, body: Buffer): { sec: number; nsec: number } {
  if (name === 'msgpack') {
    const [event] = decodeEvents(body);
    assert.ok(event !== undefined);
    return { sec: event.sec, nsec: event.nsec };
  }
  const first = JSON.parse(body.toString('utf8').trim().split('\n')[0]?.replace(/^\[/, '').replace(/\]$/, '') ?? '{}') as Record<string, number>;
  const seconds = name === 'gelf' ? (first['timestamp'] as number) : (first['date'] as number);
  const sec = Math.floor(seconds);
  return { sec, nsec: Math.round((seconds - sec) * 1e6) * 1000 };
}

async function agentFor(t: { after(fn: () => unknown): void }, argv: string[], service: Record<string, string> = {}): Promise<InProcessAgent> {
  const running = await startAgent(argv, undefined, service);
  t.after(() => running.stop());
  return running;
}

const cases: Array<{ name: string; args: string[]; record?: string }> = [
  { name: 'json', args: ['format=json'] },
  { name: 'json_lines', args: ['format=json_lines'] },
  { name: 'json_stream', args: ['format=json_stream'] },
  { name: 'msgpack', args: ['format=msgpack'] },
  { name: 'gelf', args: ['format=gelf', 'gelf_short_message_key=message'] },
  { name: 'gzip_auth', args: ['format=json_lines', 'compress=gzip', 'http_user=alice', 'http_passwd=s3cret', 'header=X-Tenant one', 'uri=/ingest/logs'] },
  { name: 'put_header_tag', args: ['format=json_lines', 'http_method=PUT', 'header_tag=X-Fluent-Tag'] },
  // A request per record: its body and headers are the record's (make.sh in the fixtures).
  {
    name: 'body_key',
    args: ['body_key=$payload', 'headers_key=$hdrs', 'header_tag=X-Fluent-Tag', 'header=X-Static s'],
    record: '{"payload":"raw text body","hdrs":{"X-A":"1","Content-Type":"text/plain"},"n":1}',
  },
];

for (const { name, args, record = '{"message":"hello","n":1}' } of cases) {
  test(`${name}: method, path, headers and body are Fluent Bit 5.1.1's`, async (t) => {
    const expected = fixture(name);
    const expectedBody = unzipIfNeeded(Buffer.from(expected.bodyBase64, 'base64'), expected.headers);
    // body_key sends the record's text, without its time.
    const { sec, nsec } = name === 'body_key' ? { sec: 1700000000, nsec: 0 } : fixtureTime(name, expectedBody);
    const server = await captureServer();
    t.after(() => server.close());
    await agentFor(t, [
      '-i', 'dummy', '-p', 'samples=1', '-p', `dummy=${record}`, '-p', `start_time_sec=${sec}`, '-p', `start_time_nsec=${nsec}`, '-p', 'fixed_timestamp=on',
      '-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${server.port}`, ...args.flatMap((arg) => ['-p', arg]), '-m', '*', '-f', '0.05',
    ]);
    await waitForRequests(server, 1);
    const request = server.requests[0] as (typeof server.requests)[number];
    assert.equal(request.method, expected.method);
    assert.equal(request.url, expected.url);
    assert.deepEqual(ownHeaders(request.rawHeaders), ownHeaders(expected.headers));
    assert.equal(request.headers.host, `127.0.0.1:${server.port}`);
    assert.equal(Number(request.headers['content-length']), request.raw.length);
    assert.equal(request.body.toString('latin1'), expectedBody.toString('latin1'));
  });
}

async function waitForRequests(server: CaptureServer, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.requests.length < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} requests; got ${server.requests.length}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const tcpToHttp = (port: number, ...props: string[]): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app.log',
  '-o', 'http', '-p', 'host=127.0.0.1', '-p', `port=${port}`, ...props.flatMap((p) => ['-p', p]), '-m', '*', '-f', '0.05',
];
// Retries after 2 to 3 s instead of Fluent Bit's 6 s or more.
const quickRetries = { 'scheduler.base': '1', 'scheduler.cap': '1' };

test('503 and 429 are retried and the records delivered later, each once', async (t) => {
  const server = await captureServer((_request, index) => (index === 0 ? { status: 503, body: 'busy' } : index === 1 ? { status: 429 } : { status: 200 }));
  t.after(() => server.close());
  const running = await agentFor(t, tcpToHttp(server.port, 'format=json_lines', 'retry_limit=5'), quickRetries);
  await sendNumbered(running.tcpPort(), 0, 20);
  await running.waitFor(() => numbersIn(server.accepted.map((r) => r.body)).length >= 20, '20 records accepted', 30_000);
  assert.deepEqual(numbersIn(server.accepted.map((r) => r.body)).sort((a, b) => a - b), [...Array(20).keys()]);
  assert.ok(server.requests.length >= 3, 'the refused requests were sent again');
  assert.match(running.logs(), /HTTP 503, response: "busy"/);
  assert.equal(running.agent.metrics.get('fluentbit_output_dropped_records_total', 'http.0'), 0);
  assert.ok(running.agent.metrics.get('fluentbit_output_retries_total', 'http.0') >= 1);
});

test('400 is an error: logged with the response body cut short, the records dropped and counted', async (t) => {
  const longBody = `bad request: ${'x'.repeat(5000)}`;
  const server = await captureServer(() => ({ status: 400, body: longBody }));
  t.after(() => server.close());
  const running = await agentFor(t, tcpToHttp(server.port, 'format=json', 'retry_limit=5'), quickRetries);
  await sendNumbered(running.tcpPort(), 0, 3);
  await running.waitForLog(/refused: .* answered HTTP 400/, 20_000);
  await running.waitFor(() => running.agent.metrics.get('fluentbit_output_dropped_records_total', 'http.0') === 3, '3 records counted as dropped', 20_000);
  const line = running.lines.find((text) => text.includes('HTTP 400')) ?? '';
  assert.match(line, /response: "bad request: x+"… \(5013 bytes\)/);
  assert.ok(line.length < 1300, `the line is cut short (${line.length} characters)`);
  assert.equal(server.requests.length, 1, 'a 400 is not retried');
});

test('a network error is retried: the server comes up after the first attempt', async (t) => {
  const first = await captureServer();
  const port = first.port;
  await first.close();
  const running = await agentFor(t, tcpToHttp(port, 'format=json_lines', 'retry_limit=no_limits'), quickRetries);
  await sendNumbered(running.tcpPort(), 0, 5);
  await running.waitForLog(/is down: .*ECONNREFUSED/, 20_000);
  const server = await captureServer(() => ({ status: 200 }), port);
  t.after(() => server.close());
  await running.waitFor(() => numbersIn(server.accepted.map((r) => r.body)).length === 5, 'the 5 records', 30_000);
  assert.deepEqual(numbersIn(server.accepted.map((r) => r.body)).sort((a, b) => a - b), [0, 1, 2, 3, 4]);
});

test("into wsbit's own http input: every record arrives once, tagged by the path", async (t) => {
  const receiver = await agentFor(t, ['-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.05']);
  const port = receiver.agent.input('http.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  const sender = await agentFor(t, tcpToHttp(port as number, 'format=json', 'uri=/agent/logs', 'json_date_key=sent_at'));
  await sendNumbered(sender.tcpPort(), 0, 500);
  await receiver.waitFor(() => receiver.events().length >= 500, '500 records', 30_000);
  const events = receiver.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ tag: chunk.tag, body: event.body as Record<string, unknown> })));
  assert.equal(events.length, 500);
  assert.deepEqual(new Set(events.map((event) => event.tag)), new Set(['agent.logs']));
  assert.deepEqual(events.map((event) => Number(event.body['n'])).sort((a, b) => a - b), [...Array(500).keys()]);
  assert.ok(events.every((event) => typeof event.body['sent_at'] === 'number'), 'json_date_key names the date field');
  assert.ok(sender.agent.metrics.get('wsbit_output_http_requests_total', 'http.0') >= 1);
});

test('request headers: defaults, basic auth, repeats kept or replaced', () => {
  const headers = [{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }, { name: 'Content-Type', value: 'text/plain' }];
  assert.deepEqual(requestHeaders({ format: 'json_lines', gzip: true, user: 'u', password: null, headers, allowDuplicates: true }), [
    'Content-Type', 'application/x-ndjson', 'Content-Encoding', 'gzip', 'Authorization', `Basic ${Buffer.from('u:').toString('base64')}`,
    'User-Agent', 'Fluent-Bit', 'X-A', '1', 'x-a', '2', 'Content-Type', 'text/plain',
  ]);
  assert.deepEqual(requestHeaders({ format: 'msgpack', gzip: false, user: null, password: null, headers, allowDuplicates: false }), [
    'User-Agent', 'Fluent-Bit', 'x-a', '2', 'Content-Type', 'text/plain',
  ]);
  assert.deepEqual(['json', 'json_lines', 'json_stream', 'msgpack', 'gelf'].map((format) => contentType(format as 'json')), [
    'application/json', 'application/x-ndjson', 'application/json', 'application/msgpack', 'application/json',
  ]);
});

test('status classes and log bodies', () => {
  assert.deepEqual([200, 201, 204, 299, 301, 400, 401, 404, 413, 429, 500, 502, 503].map(resultForStatus), [
    'ok', 'ok', 'ok', 'ok', 'error', 'error', 'error', 'error', 'error', 'retry', 'retry', 'retry', 'retry',
  ]);
  // A response body is logged as any peer value is; only its start was kept, so the total comes apart.
  assert.equal(quoteUntrusted(Buffer.from('a\nb\u0001'), 100, 4), '"a\\nb\\u0001"');
  assert.equal(quoteUntrusted(Buffer.from('abc'), 3, 6), '"abc"… (6 bytes)');
});
