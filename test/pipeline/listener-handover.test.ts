/**
 * Hot reload hands a listening input's socket and connections to the next pipeline (issue 21, point
 * 3): the bytes of a message the old pipeline had only partly read are parsed by the new one, with
 * the rest that comes later, on the same connection. Two agents in this process, as the service runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { launchAgent, type InProcessAgent } from '../helpers/pipeline.js';

/** Starts a second agent from `argv` that takes the listeners of `old` (which then stops), as a reload does. */
function reload(old: InProcessAgent, argv: string[]): Promise<InProcessAgent> {
  return launchAgent(argv, {
    beforeStart: async (next) => {
      assert.equal(old.agent.handListenersTo(next).length, 1, 'one listener kept');
      await old.stop();
    },
  });
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

function seqs(agent: InProcessAgent): unknown[] {
  return agent.events().map((event) => (event.body as { seq?: unknown }).seq);
}

test('tcp: a line cut in two by a reload is one record of the new pipeline, on a connection that stays open', async (t) => {
  const argv = ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.1'];
  const first = await launchAgent(argv);
  t.after(() => first.stop());
  const socket = await connect(first.tcpPort());
  t.after(() => socket.destroy());
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.write('{"seq":1}\n{"seq":2,"pa');
  await first.waitFor(() => seqs(first).length === 1, 'the first record');
  const second = await reload(first, argv);
  t.after(() => second.stop());
  socket.write('d":"x"}\n{"seq":3}\n');
  await second.waitFor(() => seqs(second).length === 2, 'the records after the reload');
  assert.deepEqual(seqs(first), [1]);
  assert.deepEqual(seqs(second), [2, 3]);
  assert.equal(closed, false);
  assert.match(second.logs(), /listening on 127\.0\.0\.1:\d+ \(kept across the reload with 1 connections\)/);
  assert.doesNotMatch(first.logs() + second.logs(), /invalid|skipped|closing/);
});

test('forward: a frame cut in two by a reload is decoded by the new pipeline', async (t) => {
  const argv = ['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.1'];
  const first = await launchAgent(argv);
  t.after(() => first.stop());
  const forwardPort = (agent: InProcessAgent): number => Number(/\[input:forward:forward\.0\] listening on [^\s]+:(\d+)/.exec(agent.logs())?.[1]);
  const socket = await connect(forwardPort(first));
  t.after(() => socket.destroy());
  const frame = (seq: number): Buffer => Buffer.from(encode(['app', 1_700_000_000, { seq }]));
  const cut = frame(2);
  socket.write(Buffer.concat([frame(1), cut.subarray(0, 7)]));
  await first.waitFor(() => seqs(first).length === 1, 'the first record');
  const second = await reload(first, argv);
  t.after(() => second.stop());
  socket.write(Buffer.concat([cut.subarray(7), frame(3)]));
  await second.waitFor(() => seqs(second).length === 2, 'the records after the reload');
  assert.deepEqual(seqs(first), [1]);
  assert.deepEqual(seqs(second), [2, 3]);
  assert.doesNotMatch(first.logs() + second.logs(), /closing connection|dropped/);
});

test('websocket: a compressed connection keeps its inflate context and its compress.max_connections slot across a reload', async (t) => {
  const argv = ['-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'compress.max_connections=1', '-o', 'capture', '-m', '*', '-f', '0.1'];
  const first = await launchAgent(argv);
  t.after(() => first.stop());
  const port = first.agent.input('websocket.0')?.listeningPort?.() as number;
  const open = async (): Promise<WebSocket> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return ws;
  };
  const confirmed = (ws: WebSocket, payload: string): Promise<void> =>
    new Promise((resolve) => {
      ws.send(payload);
      ws.once('pong', () => resolve());
      ws.ping('sent');
    });
  const compressed = await open();
  t.after(() => compressed.terminate());
  assert.equal(compressed.extensions, 'permessage-deflate');
  // With context takeover, the record after the reload refers back to the one before it.
  await confirmed(compressed, '{"seq":1,"message":"the same words, twice over"}');
  const second = await reload(first, argv);
  t.after(() => second.stop());
  await confirmed(compressed, '{"seq":2,"message":"the same words, twice over"}');
  await second.waitFor(() => seqs(second).length === 1, 'the record after the reload');
  assert.deepEqual([...seqs(first), ...seqs(second)], [1, 2]);
  assert.equal(second.agent.metrics.get('wsbit_input_compressed_connected', 'websocket.0'), 1);
  // The slot is still taken: a newcomer goes uncompressed.
  const newcomer = await open();
  t.after(() => newcomer.terminate());
  assert.equal(newcomer.extensions, '');
  compressed.close(1000);
  await second.waitFor(() => second.agent.metrics.get('wsbit_input_compressed_connected', 'websocket.0') === 0, 'the slot to free');
});
