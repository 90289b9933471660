/**
 * Bad input at the websocket input: each case gets the close code or HTTP status it deserves and a
 * log line, is counted, never takes the process down, and leaves the other connections working.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fetch } from 'undici';
import { WebSocket } from 'ws';
import { waitFor } from '../helpers/wait.js';
import { TEST_CERT_PEM, TEST_KEY_PEM } from '../websocket/tls-fixture.js';
import { openClient, startInput, type InputHarness } from './websocket-input-support.js';

/** A healthy neighbour: sends one record and waits for its pong, which proves it was taken in. */
async function neighbourStillWorks(input: InputHarness, client: Awaited<ReturnType<typeof openClient>>, n: number): Promise<void> {
  await client.send(`{"neighbour":${n}}`);
  await client.ping(`n${n}`);
  await waitFor(() => input.events().some((event) => (event.body as Record<string, unknown>)['neighbour'] === n), `neighbour record ${n}`);
}

const cases: Array<{ name: string; props?: string[]; send: string | Buffer; text?: boolean; code: number; log: RegExp }> = [
  { name: 'a message over max_message_size', props: ['max_message_size=1K'], send: `{"pad":"${'x'.repeat(2000)}"}`, code: 1009, log: /a message exceeds max_message_size \(1000 bytes\), closing with 1009/ },
  { name: 'invalid UTF-8 in a JSON text frame', send: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), text: true, code: 1007, log: /with 1007: invalid UTF-8 in a JSON payload/ },
  { name: 'broken JSON', send: '{"a":1}{"b":', code: 1007, log: /with 1007: invalid JSON: the message ends inside a value/ },
  { name: 'JSON that is not a record', send: ' "just a string"', code: 1007, log: /with 1007: invalid record: a JSON string is not a record/ },
  { name: 'an array element that is not an object', send: '[{"a":1},2]', code: 1007, log: /with 1007: invalid record: element 1 of a JSON array is not an object/ },
  { name: 'msgpack garbage after an array marker', send: Buffer.from([0x92, 0xc1, 0x00, 0x01]), code: 1007, log: /with 1007: invalid msgpack events: malformed msgpack chunk/ },
  { name: 'a truncated msgpack event', send: Buffer.from([0x92, 0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 0, 0x80, 0x81, 0xa1]), code: 1007, log: /with 1007: invalid msgpack events/ },
  { name: 'neither msgpack nor JSON', send: Buffer.from([0x81, 0xa1, 0x61, 0x01]), code: 1007, log: /with 1007: the payload is neither msgpack events nor JSON \(first byte 0x81\)/ },
  { name: 'a msgpack payload under format json', props: ['format=json'], send: Buffer.from([0x92, 0x01, 0x80]), code: 1007, log: /with 1007: invalid UTF-8 in a JSON payload|with 1007: invalid JSON/ },
];

for (const bad of cases) {
  test(`${bad.name}: closed with ${bad.code}, logged, counted; the other connection carries on`, async (t) => {
    const input = await startInput(t, bad.props ?? []);
    const neighbour = await openClient(input.url());
    const offender = await openClient(input.url());
    t.after(() => {
      neighbour.close();
      offender.close();
    });
    await neighbourStillWorks(input, neighbour, 1);
    // A good record first, on the same connection: it is kept; the bad message is refused whole.
    await offender.send('{"good":1}');
    await offender.send(bad.send, { text: bad.text === true });
    const pong = offender.ping('after').then(
      () => 'pong',
      () => 'no pong',
    );
    assert.equal(await offender.waitForClose(), bad.code);
    assert.equal(await pong, 'no pong', 'a refused message gets no delivery confirmation');
    await waitFor(() => bad.log.test(input.logs()), `the log line ${String(bad.log)}\n${input.logs()}`);
    assert.match(input.logs(), /\[ warn\] \[input:websocket:websocket\.0\]/);
    assert.equal(input.metric('wsbit_input_rejected_records_total'), 1);
    await neighbourStillWorks(input, neighbour, 2);
    const bodies = input.events().map((event) => event.body);
    assert.deepEqual(bodies, [{ neighbour: 1 }, { good: 1 }, { neighbour: 2 }]);
  });
}

test('a wrong or missing token gets HTTP 401 before the upgrade; Bearer and ?token= work', async (t) => {
  const token = 's3cret-token';
  const input = await startInput(t, [`token=${token}`]);
  await assert.rejects(openClient(input.url()), /refused with HTTP 401/);
  await assert.rejects(openClient(input.url(), { Authorization: 'Bearer wrong' }), /refused with HTTP 401/);
  const byHeader = await openClient(input.url(), { Authorization: `Bearer ${token}` });
  const byQuery = await openClient(input.url(`/?token=${token}`));
  byHeader.close();
  byQuery.close();
  assert.equal(input.metric('wsbit_input_refused_connections_total'), 2);
  assert.match(input.logs(), /refused client 127\.0\.0\.1:\d+: missing or wrong token \(HTTP 401\)/);
  assert.doesNotMatch(input.logs(), new RegExp(token));
});

test('max_connections: one more client gets HTTP 503 with Retry-After; a slot frees when a client leaves', async (t) => {
  const input = await startInput(t, ['max_connections=2']);
  const first = await openClient(input.url());
  const second = await openClient(input.url());
  t.after(() => second.close());
  const status = await new Promise<{ status: number; retryAfter: unknown }>((resolve) => {
    const ws = new WebSocket(input.url());
    ws.on('unexpected-response', (_request, response) => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] }));
    ws.on('error', () => undefined);
  });
  assert.deepEqual(status, { status: 503, retryAfter: '5' });
  assert.match(input.logs(), /max_connections \(2\) reached \(HTTP 503\)/);
  first.ws.close();
  await first.waitForClose();
  await waitFor(() => input.metric('wsbit_input_connected') === 1, 'the slot to free');
  const third = await openClient(input.url());
  third.close();
});

test('a web page from another origin is refused (403); clients without Origin and allowed_origins are accepted', async (t) => {
  const input = await startInput(t, ['allowed_origins=https://dash.example']);
  await assert.rejects(openClient(input.url(), { Origin: 'https://evil.example' }), /refused with HTTP 403/);
  const allowed = await openClient(input.url(), { Origin: 'https://dash.example' });
  allowed.close();
});

test('protocol errors (an unmasked client frame) close with 1002 and are counted; plain HTTP gets 426', async (t) => {
  const input = await startInput(t);
  const socket = netConnect({ host: '127.0.0.1', port: input.port });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let received = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => (received = Buffer.concat([received, data])));
  await waitFor(() => received.includes('\r\n\r\n'), 'the 101');
  const afterHandshake = received.length;
  socket.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d])); // text "{}" without a mask
  await waitFor(() => received.length > afterHandshake + 2, 'the close frame');
  const close = received.subarray(afterHandshake);
  assert.equal(close[0], 0x88);
  assert.equal(close.readUInt16BE(2), 1002);
  await waitFor(() => input.metric('wsbit_input_rejected_records_total') === 1, 'the rejection to be counted');
  assert.match(input.logs(), /protocol error, closing: Invalid WebSocket frame: MASK must be set/);
  socket.destroy();
  const response = await fetch(`http://127.0.0.1:${input.port}/`);
  assert.equal(response.status, 426);
});

test('tls: wss with the configured certificate; a plain ws client cannot talk to it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-wssin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'server.crt.pem');
  const key = path.join(dir, 'server.key.pem');
  writeFileSync(cert, TEST_CERT_PEM);
  writeFileSync(key, TEST_KEY_PEM);
  const input = await startInput(t, ['tls=on', `tls.crt_file=${cert}`, `tls.key_file=${key}`]);
  assert.match(input.logs(), /listening on 127\.0\.0\.1:\d+, wss:\/\/127\.0\.0\.1:\d+\//);
  const secure = new WebSocket(`wss://127.0.0.1:${input.port}/`, { ca: [readFileSync(cert)] });
  await new Promise<void>((resolve, reject) => secure.once('open', resolve).once('error', reject));
  secure.send('{"over":"tls"}');
  await new Promise<void>((resolve) => {
    secure.once('pong', () => resolve());
    secure.ping('1');
  });
  secure.terminate();
  await waitFor(() => input.events().length === 1, 'the record');
  assert.deepEqual(input.events().map((e) => e.body), [{ over: 'tls' }]);
  await assert.rejects(openClient(input.url()));
});

test('config errors: tls without files, a bad strptime time_format', async () => {
  const { buildPipeline } = await import('../../src/app/builder.js');
  const { loadPlugins } = await import('../../src/app/loader.js');
  const { parseCommandLine } = await import('../../src/cli/args.js');
  const { defaultRegistry } = await import('../../src/plugins/registry.js');
  const { Agent } = await import('../../src/pipeline/agent.js');
  const { LogRoot } = await import('../../src/base/logger.js');
  const create = async (props: string[]): Promise<unknown> => {
    const line = parseCommandLine(['-i', 'websocket', ...props.flatMap((p) => ['-p', p]), '-o', 'null', '-m', '*']);
    const registry = defaultRegistry();
    return new Agent(await loadPlugins(buildPipeline({ serviceEntries: line.serviceEntries, sections: line.sections }, registry), registry), {
      logRoot: new LogRoot({ level: 'off', sink: { write: () => undefined } }),
    });
  };
  await assert.rejects(create(['tls=on']), /tls on needs tls\.crt_file and tls\.key_file/);
  await assert.rejects(create(['time_format=%Q']), /invalid value '%Q' for 'time_format'/);
  await assert.rejects(create(['format=xml']), /format/);
});
