import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { decode } from '@msgpack/msgpack';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { repoRoot } from '../helpers/paths.js';
import { decodeEvents, extensionCodec } from '../../src/codec/msgpack.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { skipValue, writeEvent } from '../../src/codec/event.js';
import { encodeForwardMessage, type ForwardEncodeOptions } from '../../src/plugins/outputs/forward/encode.js';
import { byteServer, sendNumbered } from '../upstream/support.js';
import { tempDir } from '../helpers/temp.js';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'forward-output', `fluent-bit-sent-${name}.bin`));
const decodeAll = (bytes: Uint8Array): unknown => decode(bytes, { extensionCodec, useBigInt64: true });

/** The events of a Fluent Bit message in Forward or CompressedPackedForward mode, as a wsbit chunk. */
function chunkOf(message: Buffer): Buffer {
  const decoded = decodeAll(message) as [string, unknown, Record<string, unknown>?];
  if (decoded[1] instanceof Uint8Array) return zlib.gunzipSync(decoded[1]);
  // Forward mode: `92 <tag> <array header> <V2 events>`; the events are already a chunk.
  const tagLength = (message[1] as number) & 0x1f;
  const header = 2 + tagLength;
  const arrayHeaderSize = (message[header] as number) >= 0x90 && (message[header] as number) <= 0x9f ? 1 : (message[header] as number) === 0xdc ? 3 : 5;
  const start = header + arrayHeaderSize;
  // With options the chunk ends where the options map starts.
  const entries = decoded[1] as unknown[];
  let end = message.length;
  if (decoded.length === 3) {
    end = start;
    for (let i = 0; i < entries.length; i++) end = skipValue(message, end);
  }
  return message.subarray(start, end);
}

const base: ForwardEncodeOptions = { tag: 'dummy.0', mode: 'forward', gzip: false, timeAsInteger: false, retainMetadata: true, sendOptions: false, chunkId: null };

test("retain_metadata_in_forward_mode on: Fluent Bit 5.1.1's Forward message, byte for byte", async () => {
  for (const name of ['default', 'retain']) {
    const expected = fixture(name);
    const { message, records } = await encodeForwardMessage(chunkOf(expected), base);
    assert.equal(records, 1);
    assert.equal(message.toString('hex'), expected.toString('hex'), name);
  }
});

test("time_as_integer: Fluent Bit 5.1.1's [tag, [[seconds, record]]], byte for byte", async () => {
  const expected = fixture('tai');
  const [tag, entries] = decodeAll(expected) as [string, Array<[number, Record<string, unknown>]>];
  const [seconds] = entries[0] as [number, Record<string, unknown>];
  const writer = new MsgpackWriter();
  writeEvent(writer, seconds, 123_000_000, Buffer.from([0x81, 0xa1, 0x6d, 0x01]), Buffer.from([0x81, 0xa7, ...Buffer.from('message'), 0xa5, ...Buffer.from('hello')]));
  const { message } = await encodeForwardMessage(writer.bytes(), { ...base, tag, timeAsInteger: true, retainMetadata: false });
  assert.equal(message.toString('hex'), expected.toString('hex'));
});

test('send_options, require_ack_response and gzip: the same message and options as Fluent Bit 5.1.1', async () => {
  const cases: Array<[string, Partial<ForwardEncodeOptions>]> = [
    ['opts', { sendOptions: true }],
    ['ack', { chunkId: 'YaIiExPCBgeG1ohoFv0TiQ==' }],
    ['gz', { gzip: true }],
    // test/fixtures/forward-output/make.sh: add_option 'region eu-west' and 'team  a b'.
    ['add_option', { extraOptions: [{ name: 'region', value: 'eu-west' }, { name: 'team', value: 'b' }] }],
  ];
  for (const [name, options] of cases) {
    const expected = fixture(name);
    const { message } = await encodeForwardMessage(chunkOf(expected), { ...base, ...options });
    const ours = decodeAll(message) as unknown[];
    const theirs = decodeAll(expected) as unknown[];
    if (name === 'gz') {
      // gzip bytes depend on the compressor; what they hold must not.
      assert.deepEqual(zlib.gunzipSync(ours[1] as Uint8Array), zlib.gunzipSync(theirs[1] as Uint8Array));
      ours[1] = theirs[1] = null;
    }
    assert.deepEqual(ours, theirs, name);
    assert.deepEqual(Object.keys(ours[2] ?? {}), Object.keys(theirs[2] ?? {}), `${name}: options in Fluent Bit's order`);
  }
});

test('retain_metadata_in_forward_mode off (the default): [EventTime, record] entries, as the protocol specifies', async () => {
  const chunk = chunkOf(fixture('default'));
  const { message } = await encodeForwardMessage(chunk, { ...base, retainMetadata: false, mode: 'packed_forward' });
  const [tag, packed] = decodeAll(message) as [string, Uint8Array];
  assert.equal(tag, 'dummy.0');
  const entry = decodeAll(packed) as [unknown, Record<string, unknown>];
  assert.equal((entry[0] as { constructor: { name: string } }).constructor.name, 'EventTime');
  assert.deepEqual(entry[1], { message: 'hello' });
});

// ---- against wsbit's own forward input ----

async function receiver(t: { after(fn: () => unknown): void }, ...props: string[]): Promise<{ running: InProcessAgent; port: number }> {
  const running = await startAgent(['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...props.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  const port = running.agent.input('forward.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  return { running, port: port as number };
}

async function sender(t: { after(fn: () => unknown): void }, port: number, ...props: string[]): Promise<InProcessAgent> {
  const running = await startAgent(
    ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app.log', '-o', 'forward', '-p', 'host=127.0.0.1', '-p', `port=${port}`, ...props.flatMap((p) => ['-p', p]), '-m', '*', '-f', '0.05'],
    undefined,
    { 'scheduler.base': '1', 'scheduler.cap': '1' },
  );
  t.after(() => running.stop());
  return running;
}

function received(running: InProcessAgent): Array<{ tag: string; n: number; sec: number; nsec: number }> {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ tag: chunk.tag, n: Number((event.body as { n: unknown }).n), sec: event.sec, nsec: event.nsec })));
}

const modes: Array<{ name: string; out: string[]; in: string[] }> = [
  { name: 'Forward', out: [], in: [] },
  { name: 'PackedForward with acks', out: ['forward_mode=packed_forward', 'require_ack_response=on'], in: [] },
  { name: 'CompressedPackedForward with acks and send_options', out: ['compress=gzip', 'require_ack_response=on', 'send_options=on'], in: [] },
  { name: 'shared_key with acks', out: ['shared_key=s3cret', 'self_hostname=agent-1', 'require_ack_response=on'], in: ['shared_key=s3cret', 'self_hostname=aggregator'] },
  { name: 'shared_key with a user', out: ['shared_key=s3cret', 'username=alice', 'password=pw'], in: ['shared_key=s3cret', 'security.users=alice pw'] },
  { name: 'time_as_integer with tag', out: ['time_as_integer=on', 'tag=renamed'], in: [] },
];

for (const mode of modes) {
  test(`into wsbit's forward input, ${mode.name}: every record once`, async (t) => {
    const { running: into, port } = await receiver(t, ...mode.in);
    const from = await sender(t, port, ...mode.out);
    await sendNumbered(from.tcpPort(), 0, 300);
    await into.waitFor(() => received(into).length >= 300, '300 records', 60_000);
    const records = received(into);
    // Sorted: a chunk retried after a slow ack may arrive after later ones.
    assert.deepEqual(records.map((r) => r.n).sort((a, b) => a - b), [...Array(300).keys()]);
    assert.deepEqual(new Set(records.map((r) => r.tag)), new Set([mode.out.includes('tag=renamed') ? 'renamed' : 'app.log']));
    if (mode.out.includes('time_as_integer=on')) assert.ok(records.every((r) => r.nsec === 0), 'whole seconds');
    else assert.ok(records.some((r) => r.nsec !== 0), 'nanoseconds kept');
    // The receiver may print a record before its ack reaches the sender: wait for the sender's count.
    await from.waitFor(() => from.agent.metrics.get('wsbit_output_upstream_records_total', `forward.0/127.0.0.1:${port}`) === 300, 'the sender to count 300 delivered', 20_000);
    if (mode.out.includes('require_ack_response=on')) assert.ok(from.agent.metrics.get('wsbit_output_forward_acks_total', 'forward.0') >= 1);
  });
}

test('a wrong shared_key: refused by the server, nothing delivered, the reason logged once per outage', async (t) => {
  const { running: into, port } = await receiver(t, 'shared_key=right');
  const from = await sender(t, port, 'shared_key=wrong', 'retry_limit=no_limits');
  await sendNumbered(from.tcpPort(), 0, 5);
  await from.waitForLog(/is down: the server refused the handshake: shared_key mismatch/, 20_000);
  await into.waitForLog(/shared_key mismatch/, 20_000);
  assert.equal(received(into).length, 0);
  assert.equal(from.countLines(/is down:/), 1);
});

test('require_ack_response: a server that reads but never acks gets the chunk again after ack_timeout', async (t) => {
  const server = await byteServer();
  t.after(() => server.close());
  const port = server.port;
  const from = await sender(t, port, 'require_ack_response=on', 'ack_timeout=1s', 'retry_limit=no_limits');
  await sendNumbered(from.tcpPort(), 0, 1);
  await from.waitForLog(/no ack for chunk .* within 1000 ms/, 20_000);
  const sent = (): number => server.bytes().toString('latin1').split('app.log').length - 1;
  await from.waitFor(() => sent() >= 2, 'the message sent a second time', 20_000);
  assert.ok(from.agent.metrics.get('fluentbit_output_retries_total', 'forward.0') >= 1);
  assert.equal(from.agent.metrics.get('wsbit_output_forward_acks_total', 'forward.0'), 0);
});

test('a server that wants the handshake when no shared_key is set: the reason is logged, nothing is counted delivered', async (t) => {
  const { running: into, port } = await receiver(t, 'shared_key=needed');
  const from = await sender(t, port, 'require_ack_response=on', 'retry_limit=no_limits');
  await sendNumbered(from.tcpPort(), 0, 2);
  await from.waitForLog(/is down: the server requires the shared_key handshake \(it sent HELO\); set shared_key/, 20_000);
  assert.equal(received(into).length, 0);
  assert.equal(from.agent.metrics.get('wsbit_output_upstream_records_total', `forward.0/127.0.0.1:${port}`), 0);
});

test("add_option: each message carries the options after Fluent Bit's own; one word is refused", async (t) => {
  const server = await byteServer();
  t.after(() => server.close());
  const from = await sender(t, server.port, 'add_option=region eu-west', 'add_option=team  a b');
  await sendNumbered(from.tcpPort(), 0, 1);
  await from.waitFor(() => server.bytes().length > 0 && (() => { try { decodeAll(server.bytes()); return true; } catch { return false; } })(), 'a whole message');
  const [, , options] = decodeAll(server.bytes()) as [string, unknown, Record<string, unknown>];
  assert.deepEqual(options, { size: 1, fluent_signal: 0, region: 'eu-west', team: 'b' });
  await assert.rejects(startAgent(['-i', 'dummy', '-o', 'forward', '-p', 'add_option=alone', '-m', '*']), /invalid value 'alone' for 'add_option': expected a name and a value/);
});

test('unix_path: the forward output reaches a forward input on a Unix socket, with acks; host and port are not used', async (t) => {
  const socketPath = path.join(tempDir('wsbit-forward-unix-'), 'fwd.sock');
  const into = await startAgent(['-i', 'forward', '-p', `unix_path=${socketPath}`, '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => into.stop());
  // Port 9 (discard) on loopback: a connection there would fail, so the records can only go through the socket.
  const from = await sender(t, 9, `unix_path=${socketPath}`, 'require_ack_response=on');
  await sendNumbered(from.tcpPort(), 0, 3);
  await into.waitFor(() => received(into).length === 3, 'three records');
  assert.deepEqual(received(into).map((record) => [record.tag, record.n]), [['app.log', 0], ['app.log', 1], ['app.log', 2]]);
  await from.waitFor(() => (from.agent.metrics.get('wsbit_output_forward_acks_total', 'forward.0') ?? 0) >= 1, 'the ack');
  assert.match(from.logs(), /target unix:\/\/.*fwd\.sock/);
});
