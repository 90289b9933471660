/**
 * The http input against clients that try to hold its memory or its connections: hundreds of never-ending
 * chunked bodies, more connections than max_connections, headers that never end. Each client is a raw
 * socket written here; the server is a real `bin/wsbit -i http` whose memory is read from /proc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function startHttpInput(props: string[]): Promise<{ agent: RunningAgent; port: number }> {
  const agent = spawnAgent(['-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...props.flatMap((p) => ['-p', p]), '-o', 'null', '-m', '*']);
  await agent.waitForOutput(/\[input:http:http\.0\] listening on 127\.0\.0\.1:\d+/, 'the http input to listen', 30_000);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]);
  return { agent, port };
}

/** What became of a hostile client: the status the server answered with (null: none), and whether it closed. */
interface ClientOutcome {
  socket: Socket;
  status: number | null;
  closed: boolean;
  sentBytes: number;
}

function watch(socket: Socket): ClientOutcome {
  const outcome: ClientOutcome = { socket, status: null, closed: false, sentBytes: 0 };
  let head = '';
  socket.on('data', (data: Buffer) => {
    if (outcome.status !== null) return;
    head += data.toString('latin1');
    const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
    if (match !== null) outcome.status = Number(match[1]);
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (outcome.closed = true));
  return outcome;
}

/**
 * A client that sends a chunked body of `bodyBytes` in 64 KiB chunks, as fast as the server reads,
 * and then stalls: the terminating chunk never comes.
 */
function stalledBodyClient(port: number, bodyBytes: number, piece: Buffer): ClientOutcome {
  const socket = connect(port, '127.0.0.1');
  const outcome = watch(socket);
  socket.on('connect', async () => {
    socket.write(`POST /stalled HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    while (outcome.sentBytes < bodyBytes && !outcome.closed && outcome.status === null) {
      const size = Math.min(piece.length, bodyBytes - outcome.sentBytes);
      socket.write(`${size.toString(16)}\r\n`);
      socket.write(piece.subarray(0, size));
      const more = socket.write('\r\n');
      outcome.sentBytes += size;
      if (!more) await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  });
  return outcome;
}

async function postJson(port: number, body: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/good`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  await response.arrayBuffer();
  return response.status;
}

test('200 clients with never-ending 3.99 MB chunked bodies: RSS stays under 150 MB, a good request gets 201, all stalled bodies are closed', async (t) => {
  // Default buffer_total_limit and buffer_max_size; body_idle_timeout is shortened only so the test ends soon.
  const { agent, port } = await startHttpInput(['body_idle_timeout=3s']);
  const clients: ClientOutcome[] = [];
  t.after(async () => {
    for (const client of clients) client.socket.destroy();
    await agent.stop();
  });
  const pid = agent.child.pid as number;
  const before = memoryMiB(pid);
  const piece = Buffer.alloc(64 * 1024, 'a');
  const bodyBytes = Math.floor(3.99 * 1000 * 1000);
  for (let i = 0; i < 200; i++) clients.push(stalledBodyClient(port, bodyBytes, piece));
  // Every client has either sent its whole body (and now stalls) or been refused.
  await waitFor(() => clients.every((client) => client.sentBytes >= bodyBytes || client.closed || client.status !== null), 'all 200 clients to send their body or be refused', 120_000, 50);
  const stalled = memoryMiB(pid);
  assert.equal(await postJson(port, '{"good":1}'), 201);
  // The stalled bodies make no progress: body_idle_timeout answers 408 and closes them.
  await waitFor(() => clients.every((client) => client.closed), 'every stalled client to be closed by the server', 60_000, 50);
  const after = memoryMiB(pid);
  const statuses = new Map<string, number>();
  for (const client of clients) statuses.set(String(client.status), (statuses.get(String(client.status)) ?? 0) + 1);
  t.diagnostic(`RSS before ${before.rss.toFixed(1)} MiB, with 200 stalled bodies ${stalled.rss.toFixed(1)} MiB, peak (VmHWM) ${after.peak.toFixed(1)} MiB; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(after.peak < 150, `peak RSS ${after.peak.toFixed(1)} MiB must stay under 150 MiB`);
  assert.ok((statuses.get('503') ?? 0) > 0, 'some bodies were refused by buffer_total_limit');
  assert.ok((statuses.get('408') ?? 0) > 0, 'the stalled bodies that fit were closed by body_idle_timeout');
  assert.equal(statuses.get('201'), undefined);
  // The agent still works after the storm.
  assert.equal(await postJson(port, '[{"good":2},{"good":3}]'), 201);
  assert.match(agent.stderr(), /refused: bodies in flight reached buffer_total_limit \(16000000 bytes\)/);
  assert.match(agent.stderr(), /refused: no body data for 3 s \(body_idle_timeout\) \(HTTP 408\)/);
});

test('max_connections answers 503 beyond the limit, header_timeout closes unfinished headers with 408, a body in 1-byte chunks is stopped by buffer_total_limit', async (t) => {
  const { agent, port } = await startHttpInput(['max_connections=3', 'header_timeout=1s', 'body_idle_timeout=30s', 'buffer_total_limit=64K']);
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await agent.stop();
  });
  const open = (): ClientOutcome => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    return watch(socket);
  };
  // Three connections hold the slots: each sends part of a header and stops.
  const partial = [open(), open(), open()];
  for (const client of partial) client.socket.write(`POST /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
  await waitFor(() => partial.every((client) => client.socket.readyState === 'open'), 'three connections to open');
  const fourth = open();
  fourth.socket.write(`POST /x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
  await waitFor(() => fourth.closed, 'the connection beyond max_connections to be answered and closed', 20_000);
  assert.equal(fourth.status, 503);
  // Their headers never end: header_timeout answers 408 and closes them.
  await waitFor(() => partial.every((client) => client.closed), 'the unfinished headers to be timed out', 30_000);
  for (const client of partial) assert.equal(client.status, 408);
  assert.equal((agent.stderr().match(/refused: headers not complete after 1 s \(header_timeout\) \(HTTP 408\)/g) ?? []).length, 3);
  assert.match(agent.stderr(), /refused: max_connections \(3\) reached \(HTTP 503\)/);
  // The slots are free again.
  assert.equal(await postJson(port, '{"ok":true}'), 201);

  // A body in 1-byte chunks (one Node Buffer each, were they kept as they come) runs into the budget.
  const dribble = open();
  dribble.socket.write(`POST /dribble HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const oneByteChunks = Buffer.from('1\r\na\r\n'.repeat(20_000));
  let sent = 0;
  while (!dribble.closed && dribble.status === null && sent < 20) {
    dribble.socket.write(oneByteChunks);
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await waitFor(() => dribble.status !== null, 'the 1-byte-chunk body to be refused', 20_000);
  assert.equal(dribble.status, 503);
  assert.equal(await postJson(port, '{"ok":true}'), 201);
});


test('limit keys with impossible values are refused at start-up, naming the key', async () => {
  const negative = spawnAgent(['-i', 'http', '-p', 'max_connections=-1', '-o', 'null', '-D']);
  assert.equal(await negative.waitForExit(), 1);
  assert.match(negative.stderr(), /http\.0: invalid value '-1' for 'max_connections': expected a number of connections, 0 \(no limit\) or more/);
  const long = spawnAgent(['-i', 'http', '-p', 'header_timeout=10m', '-o', 'null', '-D']);
  assert.equal(await long.waitForExit(), 1);
  assert.match(long.stderr(), /http\.0: invalid value '600s' for 'header_timeout': expected at most 300s/);
});
