/**
 * `message_mode record` on the websocket output, against the `ws` package's WebSocketServer: the frames
 * as it receives them, byte for byte, in every format, and where the delivery ping falls (one after a
 * chunk's last message). The fault test in this mode is in websocket-output-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { startTestAgent } from './websocket-output-support.js';

/** What the server saw on its connections, in order: data messages and the client's pings. */
type Seen = { kind: 'message'; data: Buffer; isBinary: boolean } | { kind: 'ping' };

interface Peer {
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

const peers: Peer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

async function wsPeer(): Promise<Peer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const peer: Peer = {
    port: (wss.address() as AddressInfo).port,
    seen: [],
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => peer.seen.push({ kind: 'message', data: Buffer.from(data), isBinary }));
    ws.on('ping', () => peer.seen.push({ kind: 'ping' }));
  });
  peers.push(peer);
  return peer;
}

/** The SPEC §2 example record at 1700000000.123456789, and what each format makes of it. */
const RECORD = '{"key 1":123456789,"key 2":"abcdefg"}';
const JSON_RECORD = '{"date":1700000000.123457,"key 1":123456789,"key 2":"abcdefg"}';
const MSGPACK_EVENT_HEX = '9292d7006553f100075bcd158082a56b65792031ce075bcd15a56b65792032a761626364656667';

const messages = (seen: Seen[]): Array<{ data: Buffer; isBinary: boolean }> => seen.flatMap((s) => (s.kind === 'message' ? [s] : []));
const shape = (seen: Seen[]): string => seen.map((s) => (s.kind === 'ping' ? 'P' : 'M')).join('');

/**
 * One event of `copies` records (one chunk) from the dummy input into the websocket output; returns
 * what the server saw once `until` holds, after the agent stopped.
 */
async function run(body: string, copies: number, outputExtra: string[], until: (seen: Seen[]) => boolean): Promise<Seen[]> {
  const peer = await wsPeer();
  const agent = await startTestAgent([
    '-i', 'dummy', '-p', `dummy=${body}`, '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789',
    '-p', 'fixed_timestamp=on', '-p', 'samples=1', '-p', `copies=${copies}`,
    '-o', `websocket://127.0.0.1:${peer.port}/`, ...outputExtra, '-f', '0.2',
  ]);
  try {
    await agent.waitFor(() => until(peer.seen), 'the messages at the ws server');
  } finally {
    await agent.stop();
  }
  return peer.seen;
}

const messagesThenPing = (n: number) => (seen: Seen[]): boolean => messages(seen).length >= n && seen.some((s) => s.kind === 'ping');

describe('message_mode record: one WebSocket message per record', () => {
  it('json: one object per TEXT message, then one ping after the chunk\'s last message', async () => {
    const seen = await run(RECORD, 3, ['-p', 'format=json', '-p', 'message_mode=record'], messagesThenPing(3));
    assert.equal(shape(seen).slice(0, 4), 'MMMP', 'three messages, then the delivery ping');
    for (const m of messages(seen)) {
      assert.equal(m.isBinary, false);
      assert.equal(m.data.toString('latin1'), JSON_RECORD);
    }
    assert.equal(messages(seen).length, 3);
  });

  it('json_lines: one line without its newline; with message_newline on, with it', async () => {
    const bare = await run(RECORD, 2, ['-p', 'format=json_lines', '-p', 'message_mode=record'], messagesThenPing(2));
    assert.deepEqual(messages(bare).map((m) => m.data.toString('latin1')), [JSON_RECORD, JSON_RECORD]);
    const ended = await run(RECORD, 2, ['-p', 'format=json_lines', '-p', 'message_mode=record', '-p', 'message_newline=on'], messagesThenPing(2));
    assert.deepEqual(messages(ended).map((m) => m.data.toString('latin1')), [`${JSON_RECORD}\n`, `${JSON_RECORD}\n`]);
  });

  it('json_stream: one object per message, as json_lines', async () => {
    const seen = await run(RECORD, 2, ['-p', 'format=json_stream', '-p', 'message_mode=record'], messagesThenPing(2));
    assert.deepEqual(messages(seen).map((m) => m.data.toString('latin1')), [JSON_RECORD, JSON_RECORD]);
  });

  it('msgpack: one [[time, metadata], record] event per BINARY message, the chunk\'s bytes exactly', async () => {
    const seen = await run(RECORD, 2, ['-p', 'message_mode=record'], messagesThenPing(2));
    assert.equal(shape(seen).slice(0, 3), 'MMP');
    for (const m of messages(seen)) {
      assert.equal(m.isBinary, true);
      assert.equal(m.data.toString('hex'), MSGPACK_EVENT_HEX);
    }
  });

  it('gelf: one GELF object per message, the lines of the chunk mode\'s payload', async () => {
    const body = '{"short_message":"hello","level":"info","n":1}';
    const chunk = await run(body, 2, ['-p', 'format=gelf'], messagesThenPing(1));
    const lines = messages(chunk)[0]?.data.toString('latin1').split('\n') ?? [];
    assert.equal(lines.length, 3, 'two lines and the empty rest after the last newline');
    const record = await run(body, 2, ['-p', 'format=gelf', '-p', 'message_mode=record'], messagesThenPing(2));
    assert.deepEqual(messages(record).map((m) => m.data.toString('latin1')), lines.slice(0, 2));
    assert.match(lines[0] ?? '', /^\{"version":"1\.1".*"short_message":"hello"/);
  });

  it('confirm_delivery off: the messages go without a ping', async () => {
    const seen = await run(RECORD, 3, ['-p', 'format=json', '-p', 'message_mode=record', '-p', 'confirm_delivery=off'], (s) => messages(s).length >= 3);
    assert.equal(shape(seen), 'MMM');
  });

  it('message_mode chunk (the default) still sends the chunk as one message, then its ping', async () => {
    const seen = await run(RECORD, 2, ['-p', 'format=json'], messagesThenPing(1));
    assert.equal(shape(seen).slice(0, 2), 'MP');
    assert.equal(messages(seen)[0]?.data.toString('latin1'), `[${JSON_RECORD},${JSON_RECORD}]`);
  });

  it('rejects an unknown message_mode at start-up', async () => {
    await assert.rejects(startTestAgent(['-i', 'dummy', '-o', 'websocket://127.0.0.1:9/', '-p', 'message_mode=line']), /message_mode/);
  });
});
