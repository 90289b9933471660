/**
 * permessage-deflate (RFC 7692) at the websocket input, against real clients: ws and faye's
 * websocket-driver with its permessage-deflate (two implementations that compress what they send,
 * sharing no code) and undici's WebSocket (which offers the extension but sends uncompressed). Records
 * arrive intact and in order, the wire carries fewer bytes than the messages, `compress off` declines
 * the offer, `compress.max_connections` bounds the compressing clients, and a small message that
 * inflates past max_message_size is refused with 1009 before anything of it is ingested.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { WebSocket as UndiciWebSocket } from 'undici';
import { waitFor } from '../helpers/wait.js';
import { openClient, startInput, type InputHarness } from './websocket-input-support.js';

/** A container log record, as a Kubernetes node's agent ships it. */
function containerRecord(n: number): Record<string, unknown> {
  return {
    log: `2026-12-05T12:00:${String(n % 60).padStart(2, '0')}.${String(n % 1000).padStart(3, '0')}Z INFO [http] GET /api/v1/items/${n * 7} 200 ${n % 97}ms`,
    stream: n % 5 === 0 ? 'stderr' : 'stdout',
    kubernetes: { pod_name: 'api-7d9f8c6b5-xk2lp', namespace_name: 'production', container_name: 'api', labels: { app: 'api', tier: 'backend' } },
    seq: n,
  };
}

/** `messages` json_lines messages of `perMessage` records each, and the records in order. */
function jsonLinesBatches(messages: number, perMessage: number): { payloads: string[]; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const payloads: string[] = [];
  for (let m = 0; m < messages; m++) {
    let text = '';
    for (let i = 0; i < perMessage; i++) {
      const record = containerRecord(m * perMessage + i);
      records.push(record);
      text += `${JSON.stringify(record)}\n`;
    }
    payloads.push(text);
  }
  return { payloads, records };
}

function bodies(input: InputHarness): unknown[] {
  return input.events().map((event) => event.body);
}

/** The records, once the capture output has been flushed as many as expected. */
async function captured(input: InputHarness, count: number): Promise<unknown[]> {
  await waitFor(() => input.events().length >= count, `${count} records (have ${input.events().length})`);
  return bodies(input);
}

function wireAndMessages(input: InputHarness): { wire: number; messages: number } {
  return { wire: input.metric('wsbit_input_wire_bytes_total'), messages: input.metric('wsbit_input_message_bytes_total') };
}

test('a ws client with perMessageDeflate: records intact and in order, the wire carries a fraction of the bytes', async (t) => {
  const input = await startInput(t, ['format=json_lines']);
  const client = await openClient(input.url(), {}, { threshold: 0 });
  t.after(() => client.close());
  assert.equal(client.ws.extensions, 'permessage-deflate', 'the input accepted the offer');
  assert.equal(input.metric('wsbit_input_compressed_connected'), 1);
  const { payloads, records } = jsonLinesBatches(40, 50);
  for (const payload of payloads) await client.send(payload);
  await client.ping('done');
  assert.deepEqual(await captured(input, records.length), records);
  const sentBytes = payloads.reduce((sum, payload) => sum + Buffer.byteLength(payload), 0);
  const { wire, messages } = wireAndMessages(input);
  assert.equal(messages, sentBytes, 'message bytes are counted after inflating');
  assert.ok(wire > 0 && wire < sentBytes * 0.2, `wire ${wire} bytes for ${sentBytes} bytes of messages`);
  t.diagnostic(`${records.length} records: ${sentBytes} bytes of json_lines in ${wire} bytes on the wire`);
  client.ws.close(1000);
  await client.waitForClose();
  await waitFor(() => input.metric('wsbit_input_compressed_connected') === 0, 'the compressed connection to be released');
});

test("undici's WebSocket offers permessage-deflate and is accepted; it sends uncompressed, and the records arrive", async (t) => {
  const input = await startInput(t, ['format=json_lines']);
  const ws = new UndiciWebSocket(input.url());
  t.after(() => ws.close());
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('undici could not connect')));
  });
  assert.equal(ws.extensions, 'permessage-deflate');
  assert.equal(input.metric('wsbit_input_compressed_connected'), 1);
  const { payloads, records } = jsonLinesBatches(10, 20);
  for (const payload of payloads) ws.send(payload);
  assert.deepEqual(await captured(input, records.length), records);
  const { wire, messages } = wireAndMessages(input);
  // undici never sets RSV1 on what it sends: the frames are the messages plus headers and masks.
  assert.ok(wire >= messages, `wire ${wire} bytes for ${messages} bytes of messages`);
});

test('compress off declines the offer: the client sends uncompressed and everything arrives', async (t) => {
  const input = await startInput(t, ['format=json_lines', 'compress=off']);
  const client = await openClient(input.url(), {}, { threshold: 0 });
  t.after(() => client.close());
  assert.equal(client.ws.extensions, '', 'no extension negotiated');
  const { payloads, records } = jsonLinesBatches(10, 20);
  for (const payload of payloads) await client.send(payload);
  await client.ping('done');
  assert.deepEqual(await captured(input, records.length), records);
  const { wire, messages } = wireAndMessages(input);
  assert.ok(wire >= messages, `wire ${wire} bytes for ${messages} bytes of messages`);
  assert.equal(input.metric('wsbit_input_compressed_connected'), 0);
});

test('compress.max_connections: the next client is accepted uncompressed; a freed slot is taken again', async (t) => {
  const input = await startInput(t, ['compress.max_connections=1']);
  const first = await openClient(input.url(), {}, true);
  const second = await openClient(input.url(), {}, true);
  t.after(() => {
    first.close();
    second.close();
  });
  assert.deepEqual([first.ws.extensions, second.ws.extensions], ['permessage-deflate', '']);
  await first.send('{"from":"first"}');
  await first.ping('1');
  await second.send('{"from":"second"}');
  await second.ping('2');
  assert.deepEqual(await captured(input, 2), [{ from: 'first' }, { from: 'second' }]);
  first.ws.close(1000);
  await first.waitForClose();
  await waitFor(() => input.metric('wsbit_input_compressed_connected') === 0, 'the slot to be freed');
  const third = await openClient(input.url(), {}, true);
  t.after(() => third.close());
  assert.equal(third.ws.extensions, 'permessage-deflate');
});

test('a compressed bomb: a few KB on the wire inflating past max_message_size closes with 1009; nothing of it is ingested', async (t) => {
  const input = await startInput(t, ['max_message_size=64K']);
  const client = await openClient(input.url(), {}, { threshold: 0 });
  t.after(() => client.close());
  assert.equal(client.ws.extensions, 'permessage-deflate');
  await client.send('{"good":1}');
  await client.ping('before');
  await captured(input, 1);
  // 4 MB of JSON that deflates to a few KB: small on the wire, 64 times the limit inflated.
  await client.send(`{"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`);
  assert.equal(await client.waitForClose(), 1009);
  await waitFor(() => input.metric('wsbit_input_connected') === 0, 'the connection to go');
  assert.deepEqual(bodies(input), [{ good: 1 }]);
  assert.equal(input.metric('wsbit_input_rejected_records_total'), 1);
  assert.match(input.logs(), /a message exceeds max_message_size \(64000 bytes\), closing with 1009/);
  const { wire } = wireAndMessages(input);
  assert.ok(wire < 64 * 1024, `the bomb took ${wire} bytes on the wire, under the limit: only inflating finds it`);
});

/** faye's client driver, as its README documents it (test/types declares only its server side). */
interface FayeClient {
  readonly io: Duplex;
  readonly headers: Record<string, string>;
  addExtension(extension: unknown): void;
  start(): boolean;
  text(message: string): boolean;
  ping(message: string, onPong: () => void): boolean;
  on(event: 'open' | 'close', listener: () => void): this;
}

test("faye's websocket-driver with permessage-deflate: an independent RFC 7692 peer's compressed records arrive intact", async (t) => {
  const require = createRequire(import.meta.url);
  const websocketDriver = require('websocket-driver') as { client(url: string): FayeClient };
  const deflate = require('permessage-deflate') as unknown;
  const input = await startInput(t, ['format=json_lines']);
  const driver = websocketDriver.client(input.url());
  driver.addExtension(deflate);
  const socket = connect(input.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.pipe(driver.io).pipe(socket);
  await new Promise<void>((resolve, reject) => {
    driver.on('open', () => resolve());
    socket.once('error', reject);
    socket.once('connect', () => driver.start());
  });
  assert.match(driver.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
  const { payloads, records } = jsonLinesBatches(20, 50);
  for (const payload of payloads) driver.text(payload);
  await new Promise<void>((resolve) => driver.ping('done', resolve));
  assert.deepEqual(await captured(input, records.length), records);
  const sentBytes = payloads.reduce((sum, payload) => sum + Buffer.byteLength(payload), 0);
  const { wire, messages } = wireAndMessages(input);
  assert.equal(messages, sentBytes);
  assert.ok(wire > 0 && wire < sentBytes * 0.2, `wire ${wire} bytes for ${sentBytes} bytes of messages`);
});
