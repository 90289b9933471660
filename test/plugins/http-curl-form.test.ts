/**
 * The http input and what `curl -X POST -d BODY` sends: curl labels every -d body
 * application/x-www-form-urlencoded, so a JSON object or array arrives with a form type. Such a body
 * is taken as JSON; fluentd's form fields `json=` and `msgpack=`, and real key=value forms, keep
 * working. The requests below carry exactly curl's headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { encode } from '@msgpack/msgpack';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { decodeEvents } from '../../src/codec/msgpack.js';

async function httpAgent(t: { after(fn: () => unknown): void }): Promise<{ running: InProcessAgent; port: number }> {
  const running = await startAgent(['-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  const port = running.agent.input('http.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  return { running, port: port as number };
}

function tagged(running: InProcessAgent): Array<[string, unknown]> {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event): [string, unknown] => [chunk.tag, event.body]));
}

/** `curl -X POST -d BODY http://127.0.0.1:PORT/PATH`, header for header. */
async function curlPost(port: number, path: string, body: string | Buffer): Promise<{ status: number; text: string }> {
  const response = await request(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'user-agent': 'curl/8.14.1', accept: '*/*', 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.statusCode, text: await response.body.text() };
}

test("curl -X POST -d '{\"action\":\"login\"}' :PORT/foo/bar: the JSON object is the record, tagged foo.bar", async (t) => {
  const { running, port } = await httpAgent(t);
  assert.deepEqual(await curlPost(port, '/foo/bar', '{"action":"login"}'), { status: 201, text: '' });
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual(tagged(running), [['foo.bar', { action: 'login' }]]);
});

test('curl -d with a JSON array (blank lines first): one record per element', async (t) => {
  const { running, port } = await httpAgent(t);
  assert.equal((await curlPost(port, '/app', ' \n[{"n":1},{"n":2}]')).status, 201);
  await waitFor(() => tagged(running).length === 2, 'two records');
  assert.deepEqual(tagged(running), [['app', { n: 1 }], ['app', { n: 2 }]]);
});

test("fluentd's form fields keep working with curl's form type: json= and msgpack=", async (t) => {
  const { running, port } = await httpAgent(t);
  assert.equal((await curlPost(port, '/from/json', 'json={"action":"login","user":6}')).status, 201);
  // What fluentd's docs show for msgpack=: the map's bytes, percent-encoded (curl --data-urlencode).
  const packed = Buffer.from(encode({ action: 'logout', user: 7, name: 'José' }));
  const encoded = [...packed].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  assert.equal((await curlPost(port, '/from/msgpack', `msgpack=${encoded}`)).status, 201);
  const array = [...Buffer.from(encode([{ n: 1 }, { n: 2 }]))].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
  assert.equal((await curlPost(port, '/from/msgpack', `msgpack=${array}`)).status, 201);
  await waitFor(() => tagged(running).length === 4, 'four records');
  assert.deepEqual(tagged(running), [
    ['from.json', { action: 'login', user: 6 }],
    ['from.msgpack', { action: 'logout', user: 7, name: 'José' }],
    ['from.msgpack', { n: 1 }],
    ['from.msgpack', { n: 2 }],
  ]);
});

test('a real form stays a form, also one that starts with { but is no JSON', async (t) => {
  const { running, port } = await httpAgent(t);
  assert.equal((await curlPost(port, '/form', 'user=alice&msg=hello+world%21')).status, 201);
  assert.equal((await curlPost(port, '/form', '{x}=1&y=2')).status, 201);
  await waitFor(() => tagged(running).length === 2, 'two records');
  assert.deepEqual(tagged(running), [
    ['form', { user: 'alice', msg: 'hello world!' }],
    ['form', { '{x}': '1', y: '2' }],
  ]);
});

test('curl -d with broken JSON, a bad msgpack= field, or text: 400 with a reason that says what to send, nothing ingested', async (t) => {
  const { running, port } = await httpAgent(t);
  const broken = await curlPost(port, '/bad', '{"action":');
  assert.equal(broken.status, 400);
  assert.match(broken.text, /^error: invalid JSON: unexpected end of the body/);
  const notAMap = await curlPost(port, '/bad', 'msgpack=%a3abc');
  assert.equal(notAMap.status, 400);
  assert.match(notAMap.text, /^error: the form field 'msgpack' is not a record: send a map or an array of maps/);
  const truncated = await curlPost(port, '/bad', 'msgpack=%82%a1a');
  assert.equal(truncated.status, 400);
  assert.match(truncated.text, /^error: invalid msgpack in the form field 'msgpack'/);
  const text = await curlPost(port, '/bad', 'just some words');
  assert.equal(text.status, 400);
  assert.match(text.text, /^error: no key=value pairs in the form payload \(for JSON, send a JSON object or array, or Content-Type: application\/json\)/);
  assert.deepEqual(tagged(running), []);
});
