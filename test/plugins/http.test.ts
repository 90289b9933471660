import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { connect as netConnect, type Socket } from 'node:net';
import { fetch } from 'undici';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { tagFromPath } from '../../src/plugins/inputs/http/ingest.js';

const httpArgs = (...props: string[]): string[] => [
  '-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...props.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05',
];

async function httpAgent(t: { after(fn: () => unknown): void }, ...props: string[]): Promise<{ running: InProcessAgent; url: (path: string) => string }> {
  return httpAgentWith(t, httpArgs(...props));
}

async function httpAgentWith(t: { after(fn: () => unknown): void }, argv: string[]): Promise<{ running: InProcessAgent; url: (path: string) => string }> {
  const running = await startAgent(argv);
  t.after(() => running.stop());
  const port = running.agent.input('http.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  return { running, url: (path) => `http://127.0.0.1:${port as number}${path}` };
}

function tagged(running: InProcessAgent): Array<DecodedEvent & { tag: string }> {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ ...event, tag: chunk.tag })));
}

const json = { 'Content-Type': 'application/json' };
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

test('POST a JSON object: 201, the tag comes from the path, numbers stay exact', async (t) => {
  const { running, url } = await httpAgent(t);
  const response = await fetch(url('/app/access/log'), { method: 'POST', headers: json, body: '{"big":18446744073709551615,"f":3.0,"s":"é"}' });
  assert.equal(response.status, 201);
  assert.equal(await response.text(), '');
  await waitFor(() => tagged(running).length === 1, 'one record');
  const [event] = tagged(running);
  assert.equal(event?.tag, 'app.access.log');
  assert.deepEqual(event?.body, { big: 18446744073709551615n, f: 3, s: 'é' });
  assert.ok(Math.abs((event?.sec ?? 0) - Date.now() / 1000) < 5, 'stamped on reception');
});

test('POST a JSON array of objects: one record each, in order; / uses the input tag', async (t) => {
  const { running, url } = await httpAgent(t);
  const response = await fetch(url('/'), { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: '[{"n":1},{"n":2},{"n":3}]' });
  assert.equal(response.status, 201);
  await waitFor(() => tagged(running).length === 3, 'three records');
  assert.deepEqual(tagged(running).map((e) => [e.tag, e.body]), [['http.0', { n: 1 }], ['http.0', { n: 2 }], ['http.0', { n: 3 }]]);
});

test('POST a form: each field a string record field', async (t) => {
  const { running, url } = await httpAgent(t);
  const response = await fetch(url('/form'), { method: 'POST', headers: form, body: 'user=alice&msg=hello+world%21&empty=&novalue' });
  assert.equal(response.status, 201);
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual(tagged(running)[0]?.body, { user: 'alice', msg: 'hello world!', empty: '' });
});

test("Fluentd's form: curl -d 'json={...}' http://host/foo/bar makes the record, tagged foo.bar", async (t) => {
  const { running, url } = await httpAgent(t);
  // What curl -X POST -d 'json={"action":"login","user":6}' sends.
  const response = await fetch(url('/foo/bar'), { method: 'POST', headers: form, body: 'json={"action":"login","user":6}' });
  assert.equal(response.status, 201);
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual(tagged(running).map((e) => [e.tag, e.body]), [['foo.bar', { action: 'login', user: 6 }]]);
});

test('bad input gets 400 with a clear text, nothing is ingested, and each refusal is logged and counted', async (t) => {
  const { running, url } = await httpAgent(t);
  const cases: Array<{ init: { method: string; headers?: Record<string, string>; body?: string }; path?: string; text: RegExp }> = [
    { init: { method: 'POST', headers: json, body: '{"a":' }, text: /^error: invalid JSON/ },
    { init: { method: 'POST', headers: json, body: '{"a":1} trailing' }, text: /^error: invalid JSON: unexpected character/ },
    { init: { method: 'POST', headers: json, body: '[{"ok":1}, "not an object"]' }, text: /^error: element 1 of the JSON array is not an object/ },
    { init: { method: 'POST', headers: json, body: '"just a string"' }, text: /^error: a JSON string is not a record/ },
    { init: { method: 'POST', headers: json, body: '' }, text: /^error: no payload found/ },
    { init: { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' }, text: /^error: invalid 'Content-Type' text\/plain/ },
    { init: { method: 'POST', body: new Blob(['{"a":1}']) as unknown as string }, text: /^error: header 'Content-Type' is not set/ },
    { init: { method: 'GET' }, text: /^error: invalid HTTP method/ },
    { init: { method: 'POST', headers: { ...json, 'Content-Encoding': 'br' }, body: '{}' }, text: /^error: unsupported Content-Encoding 'br'/ },
    { init: { method: 'POST', headers: json, body: '{"a":1}' }, path: '/x?time=yesterday', text: /^error: invalid time parameter 'yesterday'/ },
  ];
  for (const { init, path, text } of cases) {
    const response = await fetch(url(path ?? '/bad'), init);
    assert.equal(response.status, 400, `${JSON.stringify(init)}`);
    assert.match(await response.text(), text);
  }
  await sleep(100);
  assert.equal(tagged(running).length, 0);
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'http.0'), cases.length);
  assert.ok(running.lines.some((line) => /\[ warn\] \[input:http:http\.0\] request to "\/bad" from .* refused: error: invalid JSON/.test(line)), running.lines.join(''));
});

test('buffer_max_size: a larger body gets 413, by Content-Length or while streaming; the server keeps serving', async (t) => {
  const { running, url } = await httpAgent(t, 'buffer_max_size=1K');
  const big = JSON.stringify({ blob: 'x'.repeat(2000) });
  const declared = await fetch(url('/big'), { method: 'POST', headers: json, body: big });
  assert.equal(declared.status, 413);
  assert.match(await declared.text(), /payload too large/);
  // A stream has no Content-Length, so the limit is counted as the body arrives.
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(`${'y'.repeat(600)}`));
      controller.close();
    },
  });
  const streamed = await fetch(url('/big'), { method: 'POST', headers: json, body: stream, duplex: 'half' });
  assert.equal(streamed.status, 413);
  const gzipBomb = zlib.gzipSync(Buffer.from(JSON.stringify({ z: '0'.repeat(100_000) })));
  const bomb = await fetch(url('/big'), { method: 'POST', headers: { ...json, 'Content-Encoding': 'gzip' }, body: gzipBomb });
  assert.equal(bomb.status, 413);
  const small = await fetch(url('/small'), { method: 'POST', headers: json, body: '{"ok":true}' });
  assert.equal(small.status, 201);
  await waitFor(() => tagged(running).length === 1, 'the small record');
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'http.0'), 3);
});

test('tag_key picks the tag from each record; add_remote_addr adds X-Forwarded-For or the peer address', async (t) => {
  const { running, url } = await httpAgent(t, 'tag_key=service', 'add_remote_addr=on');
  const body = '[{"service":"auth","n":1},{"service":"web/front","n":2},{"n":3},{"service":5,"n":4}]';
  assert.equal((await fetch(url('/default'), { method: 'POST', headers: { ...json, 'X-Forwarded-For': '203.0.113.7, 10.0.0.1' }, body })).status, 201);
  assert.equal((await fetch(url('/default'), { method: 'POST', headers: json, body: '{"n":5}' })).status, 201);
  await waitFor(() => tagged(running).length === 5, 'five records');
  assert.deepEqual(tagged(running).map((e) => [e.tag, e.body]), [
    ['auth', { service: 'auth', n: 1, REMOTE_ADDR: '203.0.113.7' }],
    ['web_front', { service: 'web/front', n: 2, REMOTE_ADDR: '203.0.113.7' }],
    ['default', { n: 3, REMOTE_ADDR: '203.0.113.7' }],
    ['default', { service: 5, n: 4, REMOTE_ADDR: '203.0.113.7' }],
    ['default', { n: 5, REMOTE_ADDR: '127.0.0.1' }],
  ]);
});

test('successful_response_code and success_header shape the success answer; gzip bodies are accepted', async (t) => {
  const { running, url } = await httpAgent(t, 'successful_response_code=204', 'success_header=X-Ingest wsbit');
  const response = await fetch(url('/z'), { method: 'POST', headers: { ...json, 'Content-Encoding': 'gzip' }, body: zlib.gzipSync('{"zipped":true}') });
  assert.equal(response.status, 204);
  assert.equal(response.headers.get('x-ingest'), 'wsbit');
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual(tagged(running)[0]?.body, { zipped: true });
});

test("Fluentd's ?time= sets the record time", async (t) => {
  const { running, url } = await httpAgent(t);
  assert.equal((await fetch(url('/t?time=1700000000.5'), { method: 'POST', headers: json, body: '{"a":1}' })).status, 201);
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual([tagged(running)[0]?.sec, tagged(running)[0]?.nsec], [1_700_000_000, 500_000_000]);
});

test("Fluentd's time= form field sets the record time: json=, msgpack= and a plain form; it wins over ?time=", async (t) => {
  const { running, url } = await httpAgent(t);
  const post = (path: string, body: string): Promise<number> => fetch(url(path), { method: 'POST', headers: form, body }).then((r) => r.status);
  assert.equal(await post('/j', 'json=[{"n":1},{"n":2}]&time=1700000000.25'), 201);
  // {"n":3} as msgpack bytes, percent-encoded; time before the data field.
  assert.equal(await post('/m', 'time=1700000001&msgpack=%81%a1n%03'), 201);
  assert.equal(await post('/f', 'n=4&time=1700000002.5'), 201);
  assert.equal(await post('/q?time=1600000000', 'json={"n":5}&time=1700000003'), 201);
  await waitFor(() => tagged(running).length === 5, 'five records');
  assert.deepEqual(
    tagged(running).map((e) => [e.tag, e.body, e.sec, e.nsec]),
    [
      ['j', { n: 1 }, 1_700_000_000, 250_000_000],
      ['j', { n: 2 }, 1_700_000_000, 250_000_000],
      ['m', { n: 3 }, 1_700_000_001, 0],
      // A plain form keeps every field, as Fluent Bit does, time included.
      ['f', { n: '4', time: '1700000002.5' }, 1_700_000_002, 500_000_000],
      ['q', { n: 5 }, 1_700_000_003, 0],
    ],
  );
});

test('an invalid time= form field is a 400 that names it, and nothing is ingested', async (t) => {
  const { running, url } = await httpAgent(t);
  for (const body of ['json={"n":1}&time=yesterday', 'json={"n":1}&time=-5', 'n=1&time=1e99']) {
    const response = await fetch(url('/bad'), { method: 'POST', headers: form, body });
    assert.equal(response.status, 400, body);
    assert.match(await response.text(), /^error: invalid time form field '.+': expected seconds since the epoch/);
  }
  // Still alive and stamping on reception without the field.
  assert.equal((await fetch(url('/ok'), { method: 'POST', headers: form, body: 'json={"n":2}' })).status, 201);
  await waitFor(() => tagged(running).length === 1, 'the good record');
  assert.deepEqual(tagged(running).map((e) => e.body), [{ n: 2 }]);
  assert.ok(Math.abs((tagged(running)[0]?.sec ?? 0) - Date.now() / 1000) < 5);
});

test('parser: a text body is parsed line by line; a line the parser cannot read refuses the body', async (t) => {
  const { running, url } = await httpAgentWith(t, ['-R', 'conf/parsers.conf', ...httpArgs('parser=apache2')]);
  const lines = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08"',
    '10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "POST /login HTTP/1.1" 302 0',
  ];
  const ok = await fetch(url('/apache'), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: `${lines.join('\r\n')}\n` });
  assert.equal(ok.status, 201);
  await waitFor(() => tagged(running).length === 2, 'two parsed records');
  assert.deepEqual(tagged(running).map((e) => [e.sec, (e.body as Record<string, unknown>)['path'], (e.body as Record<string, unknown>)['code']]), [
    [971211336, '/apache_pb.gif', '200'],
    [971211337, '/login', '302'],
  ]);
  const bad = await fetch(url('/apache'), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: `${lines[0] as string}\nnot an access log line\n` });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /^error: line 2 could not be parsed with parser 'apache2'/);
  await sleep(100);
  assert.equal(tagged(running).length, 2);
});

test('an unknown parser name fails start-up, naming the known parsers', async () => {
  await assert.rejects(startAgent(['-R', 'conf/parsers.conf', ...httpArgs('parser=apach')]), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_UNKNOWN_PARSER');
    assert.match(error.message, /http\.0: parser 'apach' is not registered \(known parsers: .*apache, apache2/);
    return true;
  });
});

test('pause holds request bodies unread until resume; nothing is refused', async (t) => {
  const { running, url } = await httpAgent(t);
  const input = running.agent.input('http.0');
  assert.ok(input);
  input.pause();
  let status = 0;
  const pending = fetch(url('/paused'), { method: 'POST', headers: json, body: '{"held":true}' }).then((response) => (status = response.status));
  await sleep(300);
  assert.equal(status, 0, 'no answer while paused');
  assert.equal(tagged(running).length, 0);
  input.resume();
  await pending;
  assert.equal(status, 201);
  await waitFor(() => tagged(running).length === 1, 'the held record');
});

test('tags from paths: Fluentd style, sanitized like Fluent Bit', () => {
  assert.equal(tagFromPath('/foo/bar'), 'foo.bar');
  assert.equal(tagFromPath('/foo/bar/?x=1'), 'foo.bar');
  assert.equal(tagFromPath('/app.log'), 'app.log');
  assert.equal(tagFromPath('/my-app/a%20b'), 'my_app.a_b');
  assert.equal(tagFromPath('/'), null);
  assert.equal(tagFromPath('/?time=1'), null);
});

test('body_idle_timeout: a body that keeps moving is served, a body stalled while the input is paused is not blamed, a stalled one gets 408', async (t) => {
  const { running, url } = await httpAgent(t, 'body_idle_timeout=2s');
  const port = Number(new URL(url('/')).port);
  const input = running.agent.input('http.0');
  assert.ok(input?.pause !== undefined && input.resume !== undefined);
  const open = (): { socket: Socket; answer: () => string } => {
    const socket = netConnect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined);
    t.after(() => socket.destroy());
    socket.write(`POST /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    return { socket, answer: () => answer };
  };
  const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

  // One byte every 200 ms for 2.4 s: longer than the timeout, but never idle for 2 s, so it is served.
  const moving = open();
  for (const piece of '{"slow": 1 }') {
    moving.socket.write(chunk(piece));
    await sleep(200);
  }
  moving.socket.write('0\r\n\r\n');
  await waitFor(() => /^HTTP\/1\.1 201/.test(moving.answer()), 'the moving body to be served');

  // Paused for 4.5 s (the engine holding the input back): the client is not at fault.
  const held = open();
  held.socket.write(chunk('{"held":'));
  await sleep(100);
  input.pause?.();
  await sleep(4500);
  assert.equal(held.answer(), '', 'no answer while the input is paused');
  input.resume?.();
  held.socket.write(chunk('2}'));
  held.socket.write('0\r\n\r\n');
  await waitFor(() => /^HTTP\/1\.1 201/.test(held.answer()), 'the held body to be served after resume');

  // Stalled with the input running: 408 and the connection closed.
  const stalled = open();
  stalled.socket.write(chunk('{"stalled":'));
  let closed = false;
  stalled.socket.on('close', () => (closed = true));
  await waitFor(() => closed, 'the stalled body to be timed out', 10_000);
  assert.match(stalled.answer(), /^HTTP\/1\.1 408 /);
  assert.deepEqual(
    tagged(running).map((event) => event.body),
    [{ slow: 1 }, { held: 2 }],
  );
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'http.0'), 1);
});
