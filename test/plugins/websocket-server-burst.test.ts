/**
 * websocket_server under bursts, with real `ws` clients: healthy readers get every record of a burst far
 * larger than max_client_buffer, a reader that stops is closed after slow_client_grace without costing
 * the others a record, one that pauses shorter than the grace is kept, and no queue passes its bound.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { FrameReader } from '../../src/websocket/reader.js';
import { waitFor } from '../helpers/wait.js';
import { closeAllClients, metric, rawClient, startServer, stopAllServers, type ServerHarness, type TestRecord } from './websocket-server-support.js';

const opened: WsClient[] = [];
afterEach(async () => {
  for (const ws of opened.splice(0)) ws.terminate();
  closeAllClients();
  await stopAllServers();
});

/** Records of about 100 bytes as messages, numbered from `first`. */
function records(first: number, count: number): TestRecord[] {
  return Array.from({ length: count }, (_, i) => ({ body: `{"seq":${first + i},"level":"info","msg":"order placed","detail":"${'x'.repeat(30)}"}` }));
}

interface Counter {
  received: number;
  /** The first sequence number out of place, or -1. */
  firstWrong: number;
  closeCode: number | undefined;
}

/** A `ws` client that reads at full speed and checks that every record arrives once, in order. */
async function countingClient(url: string): Promise<Counter> {
  const ws = new WsClient(url);
  opened.push(ws);
  const counter: Counter = { received: 0, firstWrong: -1, closeCode: undefined };
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
    if (seq !== counter.received && counter.firstWrong < 0) counter.firstWrong = counter.received;
    counter.received++;
  });
  ws.on('close', (code) => (counter.closeCode = code));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return counter;
}

/** Flushes `total` records in chunks of `perChunk` as fast as the output takes them; returns the largest backlog seen. */
async function burst(server: ServerHarness, total: number, perChunk: number): Promise<number> {
  let largest = 0;
  for (let sent = 0; sent < total; sent += perChunk) {
    await server.flush('app', records(sent, Math.min(perChunk, total - sent)));
    largest = Math.max(largest, server.output.largestBacklog());
  }
  return largest;
}

describe('websocket_server bursts', () => {
  for (const clients of [1, 10]) {
    it(`delivers a burst of 200k records to ${clients} client(s) reading at full speed, with bounded queues`, async () => {
      const server = await startServer({ max_client_buffer: '8M' });
      const counters = await Promise.all(Array.from({ length: clients }, () => countingClient(server.url())));
      await waitFor(() => server.output.clientCount() === clients, `${clients} clients`);
      // 20,000 records of about 110 bytes: chunks of about 2 MB, as the engine makes them.
      const largest = await burst(server, 200_000, 20_000);
      await waitFor(() => counters.every((c) => c.received >= 200_000 || c.closeCode !== undefined), 'every record', 60_000);
      assert.deepEqual(
        counters.map((c) => [c.received, c.firstWrong, c.closeCode]),
        counters.map(() => [200_000, -1, undefined]),
      );
      assert.equal(metric(server, 'wsbit_output_broadcast_slow_clients_total'), 0);
      const oneFlush = 20_000 * 120;
      assert.ok(largest <= 8 * 1024 * 1024 + oneFlush, `largest backlog ${largest}`);
    });
  }

  it('closes a client that stopped reading only after slow_client_grace, logs how far behind it was, and the others get everything', async () => {
    const server = await startServer({ max_client_buffer: '1M', slow_client_grace: 1 });
    const healthy = await Promise.all([countingClient(server.url()), countingClient(server.url())]);
    const stalled = await rawClient(server.port);
    await waitFor(() => server.output.clientCount() === 3, 'three clients');
    const started = Date.now();
    let overAt = 0;
    let largest = 0;
    let sent = 0;
    while (sent < 100_000) {
      await server.flush('app', records(sent, 5000));
      sent += 5000;
      largest = Math.max(largest, server.output.largestBacklog());
      if (overAt === 0 && server.output.clientCount() === 2) overAt = Date.now();
    }
    await waitFor(() => healthy.every((c) => c.received >= sent), 'the healthy clients', 30_000);
    assert.deepEqual(
      healthy.map((c) => [c.received, c.firstWrong, c.closeCode]),
      [
        [sent, -1, undefined],
        [sent, -1, undefined],
      ],
    );
    assert.ok(overAt - started >= 900, `the stalled client was closed after ${overAt - started} ms, before the grace`);
    assert.ok(largest <= 1024 * 1024 + 5000 * 120, `largest backlog ${largest}`);
    assert.equal(metric(server, 'wsbit_output_broadcast_slow_clients_total'), 1);
    assert.ok(metric(server, 'wsbit_output_broadcast_unsent_records_total') > 0);
    assert.ok(metric(server, 'wsbit_output_broadcast_waits_total') > 0);
    const line = server.logLines.find((l) => l.includes('fell behind'));
    assert.match(line ?? '', /\[ warn\].*client 127\.0\.0\.1:\d+ \(#3\) fell behind: \d+ bytes unsent \(\d+ records queued.*it was sent \d+ records \(\d+ bytes\); closing it with 1013/);
    stalled.socket.destroy();
  });

  it('keeps a client that pauses for less than slow_client_grace and gives it every record', async () => {
    const server = await startServer({ max_client_buffer: '256K', slow_client_grace: 3 });
    const paused = await rawClient(server.port);
    await waitFor(() => server.output.clientCount() === 1, 'the client');
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 });
    let received = 0;
    let closed = false;
    const take = (data: Buffer): void => {
      for (const event of reader.push(data).events) if (event.type === 'message') received++;
        else if (event.type === 'close') closed = true;
    };
    take(paused.rest);
    paused.socket.on('data', take);
    setTimeout(() => paused.socket.resume(), 500);
    await burst(server, 50_000, 5000);
    await waitFor(() => received >= 50_000, `50000 records (have ${received})`, 30_000);
    assert.equal(received, 50_000);
    assert.equal(closed, false);
    assert.equal(server.output.clientCount(), 1);
    assert.equal(metric(server, 'wsbit_output_broadcast_slow_clients_total'), 0);
    paused.socket.destroy();
  });
});
