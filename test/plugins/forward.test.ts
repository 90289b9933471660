import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import path from 'node:path';
import { FluentClient, FluentSocketEvent, EventTime as FluentEventTime, type EventModes, type FluentClientOptions } from '@fluent-org/logger';
import { decode, encode } from '@msgpack/msgpack';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { FrameScanner } from '../../src/forward/frame-scanner.js';
import { tempDir } from '../helpers/temp.js';

const forwardArgs = (...props: string[]): string[] => [
  '-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...props.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05',
];

function forwardPort(running: InProcessAgent): number {
  const port = running.agent.input('forward.0')?.listeningPort?.();
  if (typeof port !== 'number') throw new Error('forward input is not listening');
  return port;
}

interface Tagged extends DecodedEvent {
  tag: string;
}

function tagged(running: InProcessAgent): Tagged[] {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ ...event, tag: chunk.tag })));
}

function fluentClient(port: number, options: FluentClientOptions = {}): FluentClient {
  return new FluentClient(null, {
    socket: { host: '127.0.0.1', port, timeout: -1, reconnect: { delay: 50, minDelay: 50, maxDelay: 200 } },
    ...options,
  });
}

/** Writes raw bytes on a fresh connection; resolves with what the server sent back once it closes. */
function rawExchange(port: number, pieces: Buffer[], options: { gapMs?: number; end?: boolean } = {}): Promise<{ received: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) break;
        socket.write(piece);
        await sleep(options.gapMs ?? 0);
      }
      if (options.end !== false) {
        ended = true;
        socket.end();
      }
    });
    socket.on('data', (data: Buffer) => chunks.push(data));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), closedByServer: !ended }));
  });
}

const modes: EventModes[] = ['Message', 'Forward', 'PackedForward', 'CompressedPackedForward'];

for (const eventMode of modes) {
  test(`@fluent-org/logger ${eventMode} with acks: records arrive with their tag, time and body`, async (t) => {
    const running = await startAgent(forwardArgs());
    t.after(() => running.stop());
    const client = fluentClient(forwardPort(running), { eventMode, ack: { ackTimeout: 5000 }, milliseconds: true });
    t.after(() => client.shutdown().catch(() => undefined));
    const time = new FluentEventTime(1_700_000_000, 123_456_789);
    // Each emit resolves only when the server acks the chunk that carried it.
    await Promise.all([
      client.emit('app.one', { message: 'first', n: 1, ratio: 0.5, nested: { ok: true }, list: [1, 'two'] }, time),
      client.emit('app.one', { message: 'second', n: 2 }, time),
      // A number is milliseconds to this client (sent as an EventTime with milliseconds: true).
      client.emit('app.two', { message: 'third' }, 1_700_000_001_000),
    ]);
    await waitFor(() => tagged(running).length === 3, 'three records');
    const events = tagged(running).sort((a, b) => String((a.body as { message: string }).message).localeCompare(String((b.body as { message: string }).message)));
    assert.deepEqual(events.map((e) => [e.tag, e.sec, e.nsec, e.body]), [
      ['app.one', 1_700_000_000, 123_456_789, { message: 'first', n: 1, ratio: 0.5, nested: { ok: true }, list: [1, 'two'] }],
      ['app.one', 1_700_000_000, 123_456_789, { message: 'second', n: 2 }],
      ['app.two', 1_700_000_001, 0, { message: 'third' }],
    ]);
    assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'forward.0'), 0);
  });
}

/** A TCP relay to `port` that keeps a copy of what its clients sent, to check the bytes on the wire. */
async function recordingRelay(t: TestContext, port: number): Promise<{ port: number; sent(): Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (data: Buffer) => chunks.push(data));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    relay.close();
  });
  return { port: (relay.address() as net.AddressInfo).port, sent: () => Buffer.concat(chunks) };
}

test('@fluent-org/logger as a plain sender: Message mode with EventTime and integer times', async (t) => {
  const running = await startAgent(forwardArgs());
  t.after(() => running.stop());
  const relay = await recordingRelay(t, forwardPort(running));
  const socket = { host: '127.0.0.1', port: relay.port, timeout: -1 };
  // Without acks: [tag, time, record, {}], an option map with nothing in it.
  const precise = new FluentClient('node', { eventMode: 'Message', socket });
  // With milliseconds off, a number goes out as whole seconds: an integer time rather than an EventTime.
  const seconds = new FluentClient('node', { eventMode: 'Message', milliseconds: false, socket });
  t.after(() => Promise.all([precise.shutdown(), seconds.shutdown()]).catch(() => undefined));
  // The largest integer this client can send (its msgpack has no BigInt), so a uint64 on the wire;
  // 2^64 - 1 itself is checked with raw bytes in "...and 64-bit integers copied exactly" below.
  await precise.emit('precise', { from: 'node', big: Number.MAX_SAFE_INTEGER }, new FluentEventTime(1_700_000_000, 250_000_000));
  await seconds.emit('seconds', { from: 'node', neg: -5 }, 1_700_000_002_000);
  await waitFor(() => tagged(running).length === 2, 'two records from @fluent-org/logger');
  const events = tagged(running).sort((a, b) => a.tag.localeCompare(b.tag));
  assert.deepEqual(events.map((e) => [e.tag, e.sec, e.nsec, e.body]), [
    // A uint64 decodes to a bigint, whatever its value.
    ['node.precise', 1_700_000_000, 250_000_000, { from: 'node', big: BigInt(Number.MAX_SAFE_INTEGER) }],
    ['node.seconds', 1_700_000_002, 0, { from: 'node', neg: -5 }],
  ]);
  // What went out: two Message-mode arrays; the times as an EventTime (fixext 8 of type 0: seconds,
  // nanoseconds) and as a uint32; `big` as a uint64; the empty option maps.
  const wire = relay.sent();
  const hex = (text: string): Buffer => Buffer.from(text.replace(/ /g, ''), 'hex');
  assert.ok(wire.includes(Buffer.concat([hex('94 ac'), Buffer.from('node.precise'), hex('d7 00 6553f100 0ee6b280')])), wire.toString('hex'));
  assert.ok(wire.includes(Buffer.concat([hex('94 ac'), Buffer.from('node.seconds'), hex('ce 6553f102')])), wire.toString('hex'));
  assert.ok(wire.includes(Buffer.concat([hex('a3'), Buffer.from('big'), hex('cf 001fffffffffffff 80')])), wire.toString('hex'));
});

test('tag_prefix prefixes each message tag; a Tag set on the input replaces it', async (t) => {
  const prefixed = await startAgent(forwardArgs('tag_prefix=edge.'));
  t.after(() => prefixed.stop());
  const replaced = await startAgent(forwardArgs('tag=fixed'));
  t.after(() => replaced.stop());
  for (const running of [prefixed, replaced]) {
    const client = fluentClient(forwardPort(running), { eventMode: 'Forward', ack: {} });
    await client.emit('app', { a: 1 });
    await client.shutdown();
  }
  await waitFor(() => prefixed.chunks.length === 1 && replaced.chunks.length === 1, 'one chunk each');
  assert.equal(prefixed.chunks[0]?.tag, 'edge.app');
  assert.equal(replaced.chunks[0]?.tag, 'fixed');
});

test('shared_key: the right key passes the HELO/PING/PONG handshake; a wrong key is refused and logged', async (t) => {
  const running = await startAgent(forwardArgs('shared_key=s3cret', 'self_hostname=wsbit-test'));
  t.after(() => running.stop());
  const port = forwardPort(running);

  const good = fluentClient(port, { eventMode: 'PackedForward', ack: {}, security: { clientHostname: 'good-client', sharedKey: 's3cret' } });
  await good.emit('secure', { ok: true });
  await good.shutdown();
  await waitFor(() => tagged(running).length === 1, 'the authenticated record');
  assert.deepEqual(tagged(running)[0]?.body, { ok: true });

  const bad = fluentClient(port, { eventMode: 'PackedForward', ack: { ackTimeout: 1000 }, security: { clientHostname: 'bad-client', sharedKey: 'wrong' } });
  const errors: Error[] = [];
  bad.socketOn(FluentSocketEvent.ERROR, (error: Error) => errors.push(error));
  const attempt = bad.emit('secure', { ok: false }).then(() => 'delivered', (error: Error) => error.message);
  await waitFor(() => running.lines.some((line) => line.includes('shared_key mismatch')), 'the refusal in the log');
  await waitFor(() => errors.some((error) => /shared_key mismatch/.test(error.message)), 'the client to see the PONG refusal');
  await bad.shutdown().catch(() => undefined);
  assert.notEqual(await attempt, 'delivered');
  await sleep(100);
  assert.equal(tagged(running).length, 1, 'nothing from the refused client');
  assert.ok(running.lines.some((line) => /\[ warn\] \[input:forward:forward\.0\] handshake with .* failed: shared_key mismatch from host "bad-client"/.test(line)), running.lines.join(''));
});

test('security.users: a client must also give a known username and password', async (t) => {
  const running = await startAgent(forwardArgs('shared_key=k', 'security.users=alice pw1'));
  t.after(() => running.stop());
  const port = forwardPort(running);
  const alice = fluentClient(port, { eventMode: 'Message', ack: {}, security: { clientHostname: 'c1', sharedKey: 'k', username: 'alice', password: 'pw1' } });
  await alice.emit('users', { who: 'alice' });
  await alice.shutdown();
  const mallory = fluentClient(port, { eventMode: 'Message', ack: {}, security: { clientHostname: 'c2', sharedKey: 'k', username: 'alice', password: 'nope' } });
  mallory.socketOn(FluentSocketEvent.ERROR, () => undefined);
  const attempt = mallory.emit('users', { who: 'mallory' }).catch(() => undefined);
  await waitFor(() => running.lines.some((line) => line.includes('user authentication failed for "alice"')), 'the refusal');
  await mallory.shutdown().catch(() => undefined);
  await attempt;
  await waitFor(() => tagged(running).length === 1, 'alice only');
  assert.deepEqual(tagged(running).map((e) => e.body), [{ who: 'alice' }]);
});

test('malformed msgpack disconnects that client with a log line; another client is unaffected', async (t) => {
  const running = await startAgent(forwardArgs());
  t.after(() => running.stop());
  const port = forwardPort(running);
  const steady = fluentClient(port, { eventMode: 'Forward', ack: {} });
  t.after(() => steady.shutdown().catch(() => undefined));
  await steady.emit('steady', { n: 0 });

  // 0xc1 is never valid msgpack; a bare string is valid msgpack but not a Forward message.
  const garbage = await rawExchange(port, [Buffer.from([0x93, 0xa1, 0x74, 0xc1, 0x00])], { end: false });
  assert.equal(garbage.closedByServer, true);
  const notArray = await rawExchange(port, [Buffer.from('hello world\n')], { end: false });
  assert.equal(notArray.closedByServer, true);
  const badRecord = await rawExchange(port, [Buffer.from(encode(['t', 1_700_000_000, 'not a map']))], { end: false });
  assert.equal(badRecord.closedByServer, true);

  await steady.emit('steady', { n: 1 });
  await waitFor(() => tagged(running).length === 2, 'both records of the steady client');
  assert.deepEqual(tagged(running).map((e) => e.body), [{ n: 0 }, { n: 1 }]);
  const warnings = running.lines.filter((line) => line.includes('closing connection from 127.0.0.1'));
  assert.equal(warnings.length, 3, running.lines.join(''));
  assert.match(warnings[0] ?? '', /invalid msgpack byte 0xc1/);
  assert.match(warnings[1] ?? '', /expecting an array/);
  assert.match(warnings[2] ?? '', /map expected/);
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'forward.0'), 3);
});

test('buffer_max_size: a client whose message grows past it is disconnected; a smaller one still passes', async (t) => {
  const running = await startAgent(forwardArgs('buffer_chunk_size=1K', 'buffer_max_size=4K'));
  t.after(() => running.stop());
  const port = forwardPort(running);
  const big = encode(['big', 1_700_000_000, { blob: 'x'.repeat(10_000) }]);
  const result = await rawExchange(port, [Buffer.from(big.subarray(0, 3000)), Buffer.from(big.subarray(3000, 6000))], { gapMs: 20, end: false });
  assert.equal(result.closedByServer, true);
  assert.ok(running.lines.some((line) => /closing connection from .*incoming data exceed limit \(4000 bytes\)/.test(line)), running.lines.join(''));
  const small = encode(['small', 1_700_000_000, { blob: 'y'.repeat(3000) }]);
  await rawExchange(port, [Buffer.from(small)]);
  await waitFor(() => tagged(running).length === 1, 'the small record');
  assert.equal(tagged(running)[0]?.tag, 'small');
});

test('frames split byte by byte, several frames in one write, and 64-bit integers copied exactly', async (t) => {
  const running = await startAgent(forwardArgs());
  t.after(() => running.stop());
  const port = forwardPort(running);
  // [tag, time, {"u": 2^64-1, "i": -2^63, "f": 3.0}, {"chunk": "c1"}] written by hand, with EventTime.
  const w = new MsgpackWriter();
  w.arrayHeader(4);
  w.str('exact');
  w.eventTime(1_700_000_000, 5);
  w.mapHeader(3);
  w.str('u');
  w.uint(18446744073709551615n);
  w.str('i');
  w.int(-(2n ** 63n));
  w.str('f');
  w.float64(3);
  w.mapHeader(1);
  w.str('chunk');
  w.str('c1');
  const message = w.bytes();
  const second = Buffer.from(encode(['exact', [[1_700_000_001, { n: 2 }], [1_700_000_002, { n: 3 }]], { chunk: 'c2' }]));
  const third = Buffer.from(encode(['exact', 1_700_000_003, { n: 4 }, { chunk: 'c3' }]));
  const pieces = [...message].map((byte) => Buffer.from([byte]));
  const result = await rawExchange(port, [...pieces, Buffer.concat([second, third])], { gapMs: 1 });
  await waitFor(() => tagged(running).length === 4, 'four records');
  const data = running.chunks.map((chunk) => chunk.data);
  // The record's bytes are copied: cf (uint64), d3 (int64) and cb (float64) stay as they were.
  assert.ok(Buffer.concat(data).includes(Buffer.concat([Buffer.from([0xa1, 0x75, 0xcf]), Buffer.alloc(8, 0xff)])));
  assert.deepEqual(tagged(running)[0]?.body, { u: 18446744073709551615n, i: -(2n ** 63n), f: 3 });
  assert.equal(tagged(running)[0]?.nsec, 5);
  // One ack per chunk option, in order.
  const acks: unknown[] = [];
  let offset = 0;
  while (offset < result.received.length) {
    const scanner = new FrameScanner();
    const length = scanner.scan(result.received, offset, result.received.length);
    acks.push(decode(result.received.subarray(offset, offset + length)));
    offset += length;
  }
  assert.deepEqual(acks, [{ ack: 'c1' }, { ack: 'c2' }, { ack: 'c3' }]);
});

test('PackedForward keeps Fluent Bit metadata ([[time, meta], record]) and skips a bad entry, counting it', async (t) => {
  const running = await startAgent(forwardArgs());
  t.after(() => running.stop());
  const w = new MsgpackWriter();
  w.arrayHeader(2);
  w.arrayHeader(2);
  w.eventTime(1_700_000_000, 1);
  w.mapHeader(1);
  w.str('m');
  w.int(1);
  w.mapHeader(1);
  w.str('body');
  w.str('v2');
  const v2 = w.bytes();
  const bad = Buffer.from(encode(['not-a-time', { x: 1 }]));
  const v1 = Buffer.from(encode([1_700_000_003.5, { body: 'v1' }]));
  const entries = Buffer.concat([v2, bad, v1]);
  await rawExchange(forwardPort(running), [Buffer.from(encode(['packed', zlib.gzipSync(entries), { compressed: 'gzip', size: 3 }]))]);
  await waitFor(() => tagged(running).length === 2, 'two good records');
  const [first, second] = tagged(running);
  assert.deepEqual([first?.metadata, first?.body, first?.nsec], [{ m: 1 }, { body: 'v2' }, 1]);
  assert.deepEqual([second?.sec, second?.nsec, second?.body], [1_700_000_003, 500_000_000, { body: 'v1' }]);
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'forward.0'), 1);
  assert.ok(running.lines.some((line) => /1 invalid entry in a CompressedPackedForward message/.test(line)), running.lines.join(''));
});

test('unix_path: listens on a Unix socket, and removes a stale socket file first', async (t) => {
  const dir = tempDir('wsbit-fw-');
  const socketPath = path.join(dir, 'forward.sock');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(socketPath, 'stale');
  const running = await startAgent(['-i', 'forward', '-p', `unix_path=${socketPath}`, '-p', 'unix_perm=0600', '-o', 'capture', '-f', '0.05']);
  t.after(() => running.stop());
  const client = new FluentClient(null, { socket: { path: socketPath, timeout: -1 }, eventMode: 'Message', ack: {} });
  await client.emit('unix', { via: 'socket' });
  await client.shutdown();
  await waitFor(() => tagged(running).length === 1, 'the record');
  assert.deepEqual(tagged(running)[0]?.body, { via: 'socket' });
  assert.ok(running.lines.some((line) => line.includes(`listening on unix://${socketPath}`)));
});

test('pause stops reading from connected clients; resume delivers what they sent meanwhile', async (t) => {
  const running = await startAgent(forwardArgs());
  t.after(() => running.stop());
  const input = running.agent.input('forward.0');
  assert.ok(input);
  const client = fluentClient(forwardPort(running), { eventMode: 'Message' });
  t.after(() => client.shutdown().catch(() => undefined));
  await client.emit('p', { n: 1 });
  await waitFor(() => tagged(running).length === 1, 'the first record');
  input.pause();
  await client.emit('p', { n: 2 });
  await sleep(300);
  assert.equal(tagged(running).length, 1, 'nothing read while paused');
  input.resume();
  await waitFor(() => tagged(running).length === 2, 'the second record after resume');
});

test('the frame scanner finds frame ends in any split and refuses 0xc1', () => {
  const frame = Buffer.from(encode(['tag', [[1, { a: 'x'.repeat(300) }]], { chunk: 'id' }]));
  for (let split = 1; split < frame.length; split += 7) {
    const scanner = new FrameScanner();
    assert.equal(scanner.scan(frame, 0, split), -1);
    assert.equal(scanner.scan(frame, 0, frame.length), frame.length);
  }
  assert.throws(() => new FrameScanner().scan(Buffer.from([0x92, 0xc1]), 0, 2), /invalid msgpack byte 0xc1/);
});
