/**
 * The websocket input with clients we did not write: the `ws` package sending every format, and the
 * bytes a real Fluent Bit agent writes (msgpack in a TEXT frame, mask 12 34 56 78, no close frame).
 * Also: dates, tags, and the promise behind every pong.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { EventTime, extensionCodec } from '../../src/codec/msgpack.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { readEvents } from '../../src/codec/event.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { fluentBitFixture, openClient, startInput } from './websocket-input-support.js';

const mp = (value: unknown): Buffer => Buffer.from(encode(value, { extensionCodec, useBigInt64: true }));

/** The body bytes of every captured event. */
function bodies(bytes: Buffer): Buffer[] {
  return readEvents(bytes).map((event) => bytes.subarray(event.bodyStart, event.bodyEnd));
}

test('ws client: json, json_lines, json_stream and msgpack messages all decode under format auto', async (t) => {
  const input = await startInput(t);
  const client = await openClient(input.url());
  t.after(() => client.close());
  await client.send('[{"date":1700000000.25,"f":"json","n":1},{"date":1700000001.5,"f":"json","n":2}]');
  await client.send('{"date":1700000002.0,"f":"json_lines","n":3}\n{"date":1700000003,"f":"json_lines","n":4}\n');
  await client.send('{"date":"2023-11-14T22:13:24.5Z","f":"json_stream","n":5}{"f":"json_stream","n":6}');
  // msgpack as the websocket output sends it (binary frame), V2 events, and a V1 event as older Fluent Bits wrote.
  await client.send(Buffer.concat([mp([[new EventTime(1700000007, 7), { f: 'msgpack', n: 7 }], { f: 'msgpack', n: 7 }]), mp([1700000008, { f: 'msgpack_v1', n: 8 }])]));
  await client.ping('done');
  await waitFor(() => input.events().length === 8, 'eight records');
  const events = input.events();
  assert.deepEqual(events.map((e) => e.body), [
    { f: 'json', n: 1 }, { f: 'json', n: 2 }, { f: 'json_lines', n: 3 }, { f: 'json_lines', n: 4 },
    { f: 'json_stream', n: 5 }, { f: 'json_stream', n: 6 }, { f: 'msgpack', n: 7 }, { f: 'msgpack_v1', n: 8 },
  ]);
  assert.deepEqual(events.slice(0, 5).map((e) => [e.sec, e.nsec]), [[1700000000, 250_000_000], [1700000001, 500_000_000], [1700000002, 0], [1700000003, 0], [1700000004, 500_000_000]]);
  // No date key: the reception time.
  assert.ok(Math.abs((events[5]?.sec ?? 0) - Date.now() / 1000) < 10);
  assert.deepEqual([events[6]?.sec, events[6]?.nsec, events[6]?.metadata], [1700000007, 7, { f: 'msgpack', n: 7 }]);
  assert.deepEqual([events[7]?.sec, events[7]?.nsec], [1700000008, 0]);
  assert.ok(events.every((e) => e.tag === 'websocket.0'));
  assert.equal(input.metric('wsbit_input_messages_total'), 4);
  assert.equal(input.metric('fluentbit_input_records_total'), 8);
  assert.equal(input.metric('wsbit_input_rejected_records_total'), 0);
});

test('ws client: exact numbers and unicode survive JSON (compared as msgpack bytes)', async (t) => {
  const input = await startInput(t, ['format=json']);
  const client = await openClient(input.url());
  t.after(() => client.close());
  const record = '{"big":18446744073709551615,"neg":-9223372036854775808,"whole_float":3.0,"float":0.1,"unicode":"h\\u00e9llo \\u2603 \\ud83d\\ude00","raw":"héllo ☃ 😀"}';
  await client.send(`{"date":1700000000.123457,${record.slice(1)}`);
  await client.ping('1');
  await waitFor(() => input.events().length === 1, 'the record');
  assert.deepEqual(bodies(input.bytes()), [jsonTextToMsgpack(record)]);
  const [event] = input.events();
  assert.deepEqual([event?.sec, event?.nsec], [1700000000, 123457000]);
});

test('a recorded Fluent Bit agent: msgpack in a masked TEXT frame after its own handshake, then FIN without a close frame', async (t) => {
  const input = await startInput(t);
  const payload = fluentBitFixture('msgpack.two_records.bin');
  const socket: Socket = netConnect({ host: '127.0.0.1', port: input.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  // Fluent Bit's exact upgrade request (constant key, Content-Length: 0, two Connection headers).
  socket.write(fluentBitFixture('handshake_request.bin'));
  const response = await new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      if (text.includes('\r\n\r\n')) resolve(text);
    });
  });
  assert.match(response, /^HTTP\/1\.1 101 /);
  assert.match(response, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  // flb_ws_sendDataFrameHeader: 0x81 (FIN + TEXT, even for msgpack), MASK | 126, 16-bit length, key 12 34 56 78;
  // the header and the payload (masked in place) go in two writes.
  const key = [0x12, 0x34, 0x56, 0x78];
  assert.ok(payload.length >= 126 && payload.length < 65536);
  const header = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff, ...key]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] as number)));
  socket.write(header);
  await sleep(20);
  socket.write(masked);
  socket.end();
  await waitFor(() => input.events().length === 2, 'the two records');
  // V2 events are passed through as they are: the engine holds Fluent Bit's bytes.
  assert.deepEqual(input.bytes(), payload);
  const [first] = input.events();
  assert.deepEqual([first?.sec, first?.nsec], [1700000000, 123456789]);
  assert.equal((first?.body as Record<string, unknown>)['big'], 18446744073709551615n);
  await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
  assert.equal(input.metric('wsbit_input_rejected_records_total'), 0);
});

test('format json refuses the Fluent Bit msgpack text frame with 1007, as a strict server would, and says why', async (t) => {
  const input = await startInput(t, ['format=json']);
  const client = await openClient(input.url());
  await client.send(fluentBitFixture('msgpack.two_records.bin'), { text: true });
  assert.equal(await client.waitForClose(), 1007);
  await waitFor(() => /rejected, closing the connection with 1007: invalid UTF-8 in a JSON payload/.test(input.logs()), 'the log line');
  assert.equal(input.events().length, 0);
});

test('the pong for a ping is sent only once every earlier message is in the engine and in the filesystem buffer', async (t) => {
  const storage = mkdtempSync(path.join(tmpdir(), 'wsbit-wsin-'));
  t.after(() => rmSync(storage, { recursive: true, force: true }));
  const input = await startInput(t, [], { 'storage.path': storage }, ['storage.type=filesystem']);
  // Records handed to the engine so far, counted where the agent appends them.
  const { engine } = input.running.agent;
  const append = engine.append.bind(engine);
  let appended = 0;
  engine.append = (instance, tag, events, records) => {
    const stored = append(instance, tag, events, records);
    appended += records;
    return stored;
  };
  // Checked on the server side at the moment ws is asked to send each pong.
  const checks: string[] = [];
  const pong = WebSocket.prototype.pong;
  t.after(() => {
    WebSocket.prototype.pong = pong;
  });
  const onDisk = (): string => {
    let text = '';
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else text += readFileSync(file).toString('latin1');
      }
    };
    walk(storage);
    return text;
  };
  WebSocket.prototype.pong = function (this: WebSocket, data?: unknown, ...rest: unknown[]) {
    if ((this as unknown as { _isServer: boolean })._isServer) {
      const upTo = Number(String(data));
      const disk = onDisk();
      const missing = Array.from({ length: upTo }, (_, i) => `marker-${i + 1}-`).filter((marker) => !disk.includes(marker));
      checks.push(`ping ${upTo}: appended ${appended}, missing on disk ${missing.length}`);
    }
    return (pong as (...args: unknown[]) => void).call(this, data, ...rest);
  } as typeof WebSocket.prototype.pong;

  const client = await openClient(input.url());
  t.after(() => client.close());
  const rounds = 40;
  client.ws.setMaxListeners(rounds + 10);
  const sends: Array<Promise<unknown>> = [];
  for (let i = 1; i <= rounds; i++) {
    // Three records per message, then a ping carrying the message number; nothing is awaited in between.
    sends.push(client.send(`{"m":"marker-${i}-a"}\n{"m":"marker-${i}-b"}\n{"m":"marker-${i}-c"}\n`));
    sends.push(client.ping(String(i)));
  }
  await Promise.all(sends);
  assert.equal(checks.length, rounds);
  checks.forEach((check, index) => assert.equal(check, `ping ${index + 1}: appended ${(index + 1) * 3}, missing on disk 0`));
});

test('time_key, time_keep, time_format and tag_key', async (t) => {
  await t.test('epoch_ms, iso8601 with an offset, java_sql_timestamp; an unreadable date keeps its key and gets the reception time', async (t) => {
    const input = await startInput(t);
    const client = await openClient(input.url());
    t.after(() => client.close());
    await client.send(
      '{"date":1700000000123,"n":1}{"date":"2023-11-15T00:13:20.5+02:00","n":2}{"date":"2023-11-14 22:13:20.123456","n":3}{"date":"yesterday","n":4}{"date":-5,"n":5}',
    );
    await client.ping('1');
    await waitFor(() => input.events().length === 5, 'five records');
    const events = input.events();
    assert.deepEqual(events.slice(0, 3).map((e) => [e.sec, e.nsec, e.body]), [
      [1700000000, 123_000_000, { n: 1 }],
      [1700000000, 500_000_000, { n: 2 }],
      [1700000000, 123_456_000, { n: 3 }],
    ]);
    assert.deepEqual(events.slice(3).map((e) => e.body), [{ date: 'yesterday', n: 4 }, { date: -5, n: 5 }]);
    assert.ok(events.slice(3).every((e) => Math.abs(e.sec - Date.now() / 1000) < 10));
    assert.equal((input.logs().match(/records have a 'date' key that is not a time/g) ?? []).length, 1);
  });

  await t.test('time_key ts, time_keep on, time_format strptime, tag_key splits one message into tagged runs', async (t) => {
    const input = await startInput(t, ['time_key=ts', 'time_keep=on', 'time_format=%d/%b/%Y:%H:%M:%S %z', 'tag_key=svc']);
    const client = await openClient(input.url());
    t.after(() => client.close());
    await client.send('[{"ts":"14/Nov/2023:22:13:20 +0000","svc":"web","n":1},{"ts":"14/Nov/2023:23:13:21 +0100","svc":"web","n":2},{"svc":"db","n":3},{"svc":7,"n":4}]');
    await client.send(mp([[new EventTime(1700000000, 0), {}], { svc: 'db', n: 5 }]));
    await client.ping('1');
    await waitFor(() => input.events().length === 5, 'five records');
    // Chunks are per tag, so the capture sees them grouped by tag; order by n to compare.
    const events = input.events().sort((a, b) => (a.body as { n: number }).n - (b.body as { n: number }).n);
    assert.deepEqual(events.map((e) => [e.tag, (e.body as { n: number }).n]), [['web', 1], ['web', 2], ['db', 3], ['websocket.0', 4], ['db', 5]]);
    assert.deepEqual(events.slice(0, 2).map((e) => [e.sec, e.nsec]), [[1700000000, 0], [1700000001, 0]]);
    assert.deepEqual(events[0]?.body, { ts: '14/Nov/2023:22:13:20 +0000', svc: 'web', n: 1 });
  });

  await t.test('time_key off: every JSON record gets the reception time and keeps its date key', async (t) => {
    const input = await startInput(t, ['time_key=off']);
    const client = await openClient(input.url());
    t.after(() => client.close());
    await client.send('{"date":1700000000.5,"n":1}');
    await client.ping('1');
    await waitFor(() => input.events().length === 1, 'the record');
    const [event] = input.events();
    assert.deepEqual(event?.body, { date: 1700000000.5, n: 1 });
    assert.ok(Math.abs((event?.sec ?? 0) - Date.now() / 1000) < 10);
  });
});

test('path, pause and resume: an upgrade on another path is refused, and a paused input reads nothing until resumed', async (t) => {
  const input = await startInput(t, ['path=/ingest']);
  await assert.rejects(openClient(input.url('/other')), /refused with HTTP 404/);
  const client = await openClient(input.url('/ingest?x=1'));
  t.after(() => client.close());
  const plugin = input.running.agent.input('websocket.0');
  plugin?.pause();
  await client.send('{"n":1}');
  const pong = client.ping('1', 10_000);
  await sleep(300);
  assert.equal(input.events().length, 0);
  assert.deepEqual(client.pongs, []);
  plugin?.resume();
  await pong;
  await waitFor(() => input.events().length === 1, 'the record after resume');
});
