/**
 * permessage-deflate (RFC 7692) at websocket_server, against real clients: ws (with and without the
 * offer, at once) and undici's WebSocket (which offers it and inflates). Every record broadcast is
 * received intact and in order, fewer bytes go on the wire than the messages hold, compress.threshold
 * leaves small messages alone, and with compress off (the default) the offer is declined.
 */
import assert from 'node:assert/strict';
import { decode } from '@msgpack/msgpack';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { randomBytes } from 'node:crypto';
import { afterEach, test } from 'node:test';
import { WebSocket as UndiciWebSocket } from 'undici';
import { WebSocket as WsClient, type RawData } from 'ws';
import { renderPrometheus } from '../../src/monitoring/prometheus.js';
import { waitFor } from '../helpers/wait.js';
import { closeAllClients, metric, rawClient, startServer, stopAllServers, type ServerHarness, type TestRecord } from './websocket-server-support.js';

afterEach(async () => {
  closeAllClients();
  await stopAllServers();
});

interface Received {
  extensions: string;
  /** Errors and the close code, for a failure's message. */
  errors: string[];
  messages: Array<{ data: Buffer; binary: boolean }>;
  close(): void;
}

function toBuffer(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** A ws client that offers permessage-deflate (`offer`) or not, and keeps every message. */
async function wsReceiver(url: string, offer: boolean): Promise<Received> {
  const ws = new WsClient(url, { perMessageDeflate: offer });
  const received: Received = { extensions: '', errors: [], messages: [], close: () => ws.terminate() };
  ws.on('message', (data, binary) => received.messages.push({ data: toBuffer(data), binary }));
  ws.on('error', (error) => received.errors.push(error.message));
  ws.on('close', (code) => received.errors.push(`close ${code}`));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  received.extensions = ws.extensions;
  return received;
}

async function undiciReceiver(url: string): Promise<Received> {
  const ws = new UndiciWebSocket(url);
  ws.binaryType = 'arraybuffer';
  const received: Received = { extensions: '', errors: [], messages: [], close: () => ws.close() };
  ws.addEventListener('message', (event: { data: unknown }) => {
    const data = event.data;
    if (typeof data === 'string') received.messages.push({ data: Buffer.from(data), binary: false });
    else if (data instanceof ArrayBuffer) received.messages.push({ data: Buffer.from(data), binary: true });
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('undici could not connect')));
  });
  received.extensions = ws.extensions;
  return received;
}

function containerLog(n: number, padding = 0): Record<string, unknown> {
  return {
    log: `2026-12-05T12:00:${String(n % 60).padStart(2, '0')}Z INFO [http] GET /api/v1/items/${n * 7} 200 ${n % 97}ms${' '.repeat(padding)}`,
    stream: 'stdout',
    kubernetes: { pod_name: 'api-7d9f8c6b5-xk2lp', namespace_name: 'production', container_name: 'api' },
    seq: n,
  };
}

/** Flushes `flushes` chunks of `perFlush` records; returns the records in order. */
async function broadcast(server: ServerHarness, flushes: number, perFlush: number, padding = 0, first = 0): Promise<Array<Record<string, unknown>>> {
  const records: Array<Record<string, unknown>> = [];
  for (let f = 0; f < flushes; f++) {
    const batch: TestRecord[] = [];
    for (let i = 0; i < perFlush; i++) {
      const record = containerLog(first + f * perFlush + i, padding);
      records.push(record);
      batch.push({ body: JSON.stringify(record) });
    }
    await server.flush('kube.api', batch);
  }
  return records;
}

function jsonRecords(received: Received): unknown[] {
  return received.messages.map((message) => {
    assert.equal(message.binary, false);
    return (JSON.parse(message.data.toString('utf8')) as [string, Record<string, unknown>])[1];
  });
}

function wireAndMessages(server: ServerHarness): { wire: number; messages: number } {
  return { wire: metric(server, 'wsbit_output_broadcast_wire_bytes_total'), messages: metric(server, 'wsbit_output_broadcast_message_bytes_total') };
}

test('compress on (the default threshold deflates every record): a deflating ws client and a plain one at once both get every record, in order; the deflated wire is a fraction', async (t) => {
  const server = await startServer({ compress: true });
  const deflating = await wsReceiver(server.url(), true);
  const plain = await wsReceiver(server.url(), false);
  assert.deepEqual([deflating.extensions, plain.extensions], ['permessage-deflate', '']);
  assert.equal(metric(server, 'wsbit_output_broadcast_compressed_connected'), 1);
  // 3 flushes of 1,500 records: each is more than one 256 KB slice, so slices wait for ws to write the last.
  const records = await broadcast(server, 3, 1500);
  await waitFor(() => deflating.messages.length === records.length && plain.messages.length === records.length, `${records.length} messages at each client`);
  assert.deepEqual(jsonRecords(deflating), records);
  assert.deepEqual(jsonRecords(plain), records);
  const payloads = deflating.messages.reduce((sum, message) => sum + message.data.length, 0);
  await waitFor(() => wireAndMessages(server).messages === 2 * payloads, 'both clients counted');
  deflating.close();
  plain.close();
  await waitFor(() => server.output.clientCount() === 0, 'the clients to leave');
  await waitFor(() => server.logLines.filter((line) => /disconnected/.test(line)).length === 2, 'both disconnect lines');
  // Per connection: the plain client's wire is its messages plus frame headers; the deflating one's far less.
  const perConnection = server.logLines
    .filter((line) => /disconnected/.test(line))
    .map((line) => /: (\d+) bytes of messages in (\d+) bytes on the wire/.exec(line)!.slice(1).map(Number) as [number, number]);
  const [deflated, framed] = perConnection.sort((a, b) => a[1] - b[1]);
  assert.equal(deflated![0], payloads);
  assert.equal(framed![0], payloads);
  assert.ok(framed![1] > payloads, `plain: ${framed![1]} bytes on the wire`);
  assert.ok(deflated![1] < payloads * 0.2, `deflated: ${deflated![1]} bytes on the wire for ${payloads}`);
  t.diagnostic(`${records.length} records: ${payloads} bytes of messages, ${framed![1]} on the wire plain, ${deflated![1]} deflated`);
  assert.deepEqual(wireAndMessages(server), { messages: 2 * payloads, wire: deflated![1] + framed![1] });
  // The counters as Prometheus scrapes them.
  const families = parsePrometheusTextFormat(renderPrometheus(server.metrics));
  const sample = (name: string): number => Number(families.find((family) => family.name === name)?.metrics.find((m) => m.labels?.['name'] === 'websocket_server.0')?.value);
  assert.equal(sample('wsbit_output_broadcast_message_bytes_total'), 2 * payloads);
  assert.equal(sample('wsbit_output_broadcast_wire_bytes_total'), deflated![1] + framed![1]);
  assert.equal(families.find((family) => family.name === 'wsbit_output_broadcast_compressed_connected')?.type, 'GAUGE');
});

test('compress.threshold: messages under it go uncompressed, larger ones deflated', async () => {
  const server = await startServer({ compress: true, 'compress.threshold': '1K' });
  const client = await wsReceiver(server.url(), true);
  assert.equal(client.extensions, 'permessage-deflate');
  const small = await broadcast(server, 1, 50);
  await waitFor(() => client.messages.length === small.length, 'the small records');
  assert.ok(client.messages.every((message) => message.data.length < 1000));
  await waitFor(() => wireAndMessages(server).messages > 0 && wireAndMessages(server).wire >= wireAndMessages(server).messages, 'small messages counted');
  const before = wireAndMessages(server);
  assert.ok(before.wire >= before.messages, `small: ${before.wire} on the wire for ${before.messages}`);
  const large = await broadcast(server, 1, 50, 1500, 50);
  await waitFor(() => client.messages.length === small.length + large.length, 'the large records');
  assert.deepEqual(jsonRecords(client), [...small, ...large]);
  await waitFor(() => wireAndMessages(server).messages > before.messages, 'large messages counted');
  await waitFor(() => wireAndMessages(server).wire > before.wire, 'large messages written');
  const after = wireAndMessages(server);
  assert.ok(after.wire - before.wire < (after.messages - before.messages) * 0.2, `large: ${after.wire - before.wire} on the wire for ${after.messages - before.messages}`);
});

test("undici's WebSocket negotiates permessage-deflate and inflates msgpack frames intact", async () => {
  const server = await startServer({ compress: true, 'compress.threshold': 0, use_msgpack: true });
  const client = await undiciReceiver(server.url());
  assert.equal(client.extensions, 'permessage-deflate');
  const records = await broadcast(server, 2, 300);
  await waitFor(() => client.messages.length === records.length, `${records.length} messages`);
  const bodies = client.messages.map((message) => {
    assert.equal(message.binary, true);
    return (decode(message.data) as [string, Record<string, unknown>])[1];
  });
  assert.deepEqual(bodies, records);
  await waitFor(() => wireAndMessages(server).wire > 0, 'the wire to be counted');
  const { wire, messages } = wireAndMessages(server);
  assert.ok(wire < messages * 0.3, `${wire} on the wire for ${messages}`);
});

test('compress off (the default) declines the offer; records arrive as before', async () => {
  const server = await startServer();
  const client = await wsReceiver(server.url(), true);
  assert.equal(client.extensions, '');
  const records = await broadcast(server, 1, 100);
  await waitFor(() => client.messages.length === records.length, 'the records');
  assert.deepEqual(jsonRecords(client), records);
  const { wire, messages } = wireAndMessages(server);
  assert.ok(wire > messages, `${wire} on the wire for ${messages}`);
  assert.equal(metric(server, 'wsbit_output_broadcast_compressed_connected'), 0);
});

test('a deflating client that stops reading is closed after slow_client_grace; the deflating readers get everything', async () => {
  // The grace is long enough for a healthy client to deflate its way back under max_client_buffer
  // (ws deflates one message at a time per client) even on a loaded machine.
  const server = await startServer({ compress: true, 'compress.threshold': 0, max_client_buffer: '1M', slow_client_grace: 5 });
  const healthy = await Promise.all([wsReceiver(server.url(), true), wsReceiver(server.url(), true)]);
  // A client that offers permessage-deflate, completes the handshake and then reads nothing.
  const stalled = await rawClient(server.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n');
  assert.match(stalled.response, /^Sec-WebSocket-Extensions: permessage-deflate/im);
  await waitFor(() => server.output.clientCount() === 3, 'three clients');
  // Random hex deflates to about half, so the stalled socket's buffers fill within a few thousand records.
  const sent: string[] = [];
  while (server.output.clientCount() === 3 || sent.length < 4000) {
    const batch: TestRecord[] = [];
    for (let i = 0; i < 250; i++) {
      const body = JSON.stringify({ seq: sent.length, noise: randomBytes(400).toString('hex') });
      sent.push(body);
      batch.push({ body });
    }
    await server.flush('app', batch);
    assert.ok(sent.length <= 100_000, 'the stalled client was never closed');
  }
  await waitFor(() => healthy.every((client) => client.messages.length === sent.length), `every record at the healthy clients (${sent.length} sent)`, 60_000).catch((error: Error) => {
    throw new Error(`${error.message}: received ${healthy.map((client) => `${client.messages.length} (${client.errors.join(', ')})`).join(', ')}; ${server.logLines.join('')}`);
  });
  for (const client of healthy) assert.deepEqual(client.messages.map((message) => JSON.stringify((JSON.parse(message.data.toString()) as unknown[])[1])), sent);
  assert.equal(metric(server, 'wsbit_output_broadcast_slow_clients_total'), 1);
  assert.ok(server.logLines.some((line) => /fell behind: .*closing it with 1013/.test(line)));
  stalled.socket.destroy();
});
