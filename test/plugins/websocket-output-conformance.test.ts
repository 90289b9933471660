/**
 * The websocket output against the `ws` package's WebSocketServer, a server we did not write: payload
 * bytes of every format (SPEC §2 and the Fluent Bit golden files), frame types, the upgrade request,
 * large chunks, and bin/wsbit end to end with a service URI (conf/tcp-to-websocket.conf runs in test/e2e/conf.test.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WebSocketServer, type ServerOptions } from 'ws';
import type { ChunkView } from '../../src/pipeline/chunk.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { captureOutput } from '../helpers/capture.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { startTestAgent } from './websocket-output-support.js';

interface Received {
  data: Buffer;
  isBinary: boolean;
  connection: number;
}

interface Peer {
  port: number;
  messages: Received[];
  requests: IncomingMessage[];
  closeCodes: number[];
  close(): Promise<void>;
}

const peers: Peer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

async function wsPeer(options: ServerOptions = {}): Promise<Peer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  const peer: Peer = {
    port: (wss.address() as AddressInfo).port,
    messages: [],
    requests: [],
    closeCodes: [],
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('connection', (ws, request) => {
    const connection = peer.requests.length;
    peer.requests.push(request);
    ws.on('message', (data: Buffer, isBinary: boolean) => peer.messages.push({ data: Buffer.from(data), isBinary, connection }));
    ws.on('close', (code) => peer.closeCodes.push(code));
  });
  peers.push(peer);
  return peer;
}

/** The SPEC §2 example record, at 1700000000.123456789, from the dummy input. */
const SPEC_RECORD = '{"key 1":123456789,"key 2":"abcdefg"}';
const SPEC_JSON_RECORD = '{"date":1700000000.123457,"key 1":123456789,"key 2":"abcdefg"}';
const SPEC_MSGPACK_HEX = '9292d7006553f100075bcd158082a56b65792031ce075bcd15a56b65792032a761626364656667';

function dummyArgs(body: string, extra: string[] = []): string[] {
  return [
    '-i', 'dummy', '-p', `dummy=${body}`, '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789',
    '-p', 'fixed_timestamp=on', '-p', 'samples=1', '-p', 'rate=20', ...extra,
  ];
}

/** Runs dummy → websocket in-process until `messages` messages have arrived, then stops the agent. */
async function runDummy(peer: Peer, body: string, inputExtra: string[], outputExtra: string[], messages = 1): Promise<Received[]> {
  const agent = await startTestAgent([...dummyArgs(body, inputExtra), '-o', `websocket://127.0.0.1:${peer.port}/`, ...outputExtra, '-f', '0.2']);
  try {
    await agent.waitFor(() => peer.messages.length >= messages, `${messages} message(s) at the ws server`);
  } finally {
    await agent.stop();
  }
  return peer.messages.slice(0, messages);
}

describe('payloads of every format, as the ws server receives them', () => {
  it('json: one array per chunk in a TEXT frame', async () => {
    const peer = await wsPeer();
    const [message] = await runDummy(peer, SPEC_RECORD, [], ['-p', 'format=json']);
    assert.equal(message?.isBinary, false);
    assert.equal(message?.data.toString(), `[${SPEC_JSON_RECORD}]`);
  });

  it('json_lines: a newline after every record, the last included', async () => {
    const peer = await wsPeer();
    const [message] = await runDummy(peer, SPEC_RECORD, ['-p', 'copies=2'], ['-p', 'format=json_lines']);
    assert.equal(message?.isBinary, false);
    assert.equal(message?.data.toString(), `${SPEC_JSON_RECORD}\n${SPEC_JSON_RECORD}\n`);
  });

  it('json_stream: records back to back with no separator', async () => {
    const peer = await wsPeer();
    const [message] = await runDummy(peer, SPEC_RECORD, ['-p', 'copies=2'], ['-p', 'format=json_stream']);
    assert.equal(message?.isBinary, false);
    assert.equal(message?.data.toString(), `${SPEC_JSON_RECORD}${SPEC_JSON_RECORD}`);
  });

  it('msgpack (the default): the chunk bytes exactly, in a BINARY frame', async () => {
    const peer = await wsPeer();
    const [message] = await runDummy(peer, SPEC_RECORD, [], []);
    assert.equal(message?.isBinary, true);
    assert.equal(message?.data.toString('hex'), SPEC_MSGPACK_HEX);
    assert.equal(message?.data.length, 39);
  });

  it('gelf: Fluent Bit GELF records, one per line, in a TEXT frame', async () => {
    const peer = await wsPeer();
    const [message] = await runDummy(peer, '{"short_message":"hello","host":"web-1","level":"err","key 1":123456789}', [], ['-p', 'format=gelf']);
    assert.equal(message?.isBinary, false);
    assert.equal(
      message?.data.toString(),
      '{"version":"1.1", "short_message":"hello", "host":"web-1", "level":3, "_key_1":123456789, "timestamp":1700000000.123}\n',
    );
  });

  it('gelf: a record without a short message is logged and counted, and the rest of its chunk is sent', async () => {
    const peer = await wsPeer();
    const agent = await startTestAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=gelf', '-f', '0.2']);
    try {
      const socket = netConnect({ host: '127.0.0.1', port: agent.tcpPort() });
      socket.end('{"short_message":"one"}{"message":"no short"}{"short_message":"three"}\n');
      await agent.waitFor(() => peer.messages.length >= 1, 'a message');
      const lines = peer.messages[0]?.data.toString().split('\n') ?? [];
      assert.equal(lines.length, 3);
      assert.match(lines[0] ?? '', /^\{"version":"1\.1", "short_message":"one", "timestamp":\d+\.\d{3}\}$/);
      assert.match(lines[1] ?? '', /^\{"version":"1\.1", "short_message":"three", "timestamp":\d+\.\d{3}\}$/);
      assert.equal(lines[2], '');
      // A left-out record is reported once the rest of its chunk is confirmed delivered, which is after
      // the server has the message.
      await agent.waitForLog(/\[ warn\] \[output:websocket:websocket\.0\] record 1 of chunk '[^']+' left out: missing short_message key/);
      assert.equal(agent.agent.metrics.get('wsbit_output_rejected_records_total', 'websocket.0'), 1);
    } finally {
      await agent.stop();
    }
  });
});

describe('the Fluent Bit 5.1.1 golden record, end to end', () => {
  const golden = (name: string): Buffer => readFileSync(join(fluentBitFixtures, name));
  const record = golden('input-record.json').toString().trim();
  const firstLine = (name: string): string => golden(name).toString().split('\n')[0] ?? '';

  for (const [format, expected] of [
    ['json', () => firstLine('json.date_double.txt')],
    ['json_lines', () => `${firstLine('json_lines.date_double.txt')}\n`],
    ['json_stream', () => firstLine('json_stream.date_double.txt')],
  ] as const) {
    it(`${format} equals Fluent Bit's bytes`, async () => {
      const peer = await wsPeer();
      const [message] = await runDummy(peer, record, [], ['-p', `format=${format}`]);
      assert.equal(message?.data.toString(), expected());
    });
  }

  it("msgpack equals Fluent Bit's frame payload, and the chunk another output sees is not masked in place", async () => {
    const peer = await wsPeer();
    const store: { chunks: ChunkView[] } = { chunks: [] };
    const registry = defaultRegistry().register(captureOutput(store));
    const agent = await startTestAgent(
      [...dummyArgs(record, ['-p', 'copies=2']), '-o', `websocket://127.0.0.1:${peer.port}/`, '-m', '*', '-o', 'capture', '-m', '*', '-f', '0.2'],
      { registry },
    );
    try {
      await waitFor(() => peer.messages.length >= 1 && store.chunks.length >= 1, 'the chunk at both outputs');
    } finally {
      await agent.stop();
    }
    const expected = golden('msgpack.two_records.bin');
    assert.equal(peer.messages[0]?.isBinary, true);
    assert.deepEqual(peer.messages[0]?.data, expected);
    // The capture output flushes after the websocket output and copies what it is given (SPEC part A, 4).
    assert.deepEqual(store.chunks[0]?.data, expected);
  });
});

describe('the upgrade request', () => {
  it('Host with port, Upgrade, Connection, a random 16-byte key per connection, version 13, subprotocol, then headers in order', async () => {
    const peer = await wsPeer({ handleProtocols: (protocols) => (protocols.has('wsbit.v1') ? 'wsbit.v1' : false) });
    await runDummy(
      peer,
      SPEC_RECORD,
      ['-p', 'samples=2', '-p', 'rate=5'],
      ['-p', 'uri=/ignored', '-p', 'format=json', '-p', 'header=Authorization Bearer abc', '-p', 'header=X-Custom one two', '-p', 'subprotocol=wsbit.v1', '-p', 'net.keepalive=off'],
      2,
    );
    assert.equal(peer.requests.length, 2, 'net.keepalive off: one connection per flush');
    const keys: string[] = [];
    for (const request of peer.requests) {
      assert.equal(request.method, 'GET');
      assert.equal(request.url, '/', 'the service URI path (here /) wins over the uri key');
      assert.equal(request.httpVersion, '1.1');
      const raw = request.rawHeaders;
      const key = raw[raw.indexOf('Sec-WebSocket-Key') + 1] ?? '';
      keys.push(key);
      assert.deepEqual(raw, [
        'Host', `127.0.0.1:${peer.port}`,
        'Content-Length', '0',
        'Upgrade', 'websocket',
        'Connection', 'Upgrade',
        'Sec-WebSocket-Key', key,
        'Sec-WebSocket-Version', '13',
        'Sec-WebSocket-Protocol', 'wsbit.v1',
        'Authorization', 'Bearer abc',
        'X-Custom', 'one two',
      ]);
      assert.equal(Buffer.from(key, 'base64').length, 16);
      assert.notEqual(key, 'dGhlIHNhbXBsZSBub25jZQ==', "not Fluent Bit's fixed sample nonce");
    }
    assert.notEqual(keys[0], keys[1], 'a fresh key for every connection');
  });

  it('keeps a path and query from the service URI verbatim, and ends with Connection: keep-alive by default', async () => {
    const peer = await wsPeer();
    const agent = await startTestAgent([...dummyArgs(SPEC_RECORD), '-o', `websocket://127.0.0.1:${peer.port}/logs/in?stream=a&b=1`, '-f', '0.2']);
    try {
      await waitFor(() => peer.messages.length >= 1, 'a message');
    } finally {
      await agent.stop();
    }
    const request = peer.requests[0];
    assert.equal(request?.url, '/logs/in?stream=a&b=1');
    assert.deepEqual(request?.rawHeaders.slice(-2), ['Connection', 'keep-alive']);
    await waitFor(() => peer.closeCodes.length > 0, 'the close');
    assert.deepEqual(peer.closeCodes, [1001], 'a Close with 1001 when the agent stops');
  });

  it("prefixes a '/' to a uri key without one", async () => {
    const peer = await wsPeer();
    const agent = await startTestAgent([...dummyArgs(SPEC_RECORD), '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${peer.port}`, '-p', 'uri=something', '-f', '0.2']);
    try {
      await waitFor(() => peer.messages.length >= 1, 'a message');
    } finally {
      await agent.stop();
    }
    assert.equal(peer.requests[0]?.url, '/something');
  });
});

describe('large chunks', () => {
  it('a msgpack chunk over 64 KiB goes in one BINARY message (64-bit length)', async () => {
    const peer = await wsPeer();
    const blob = 'a'.repeat(70_000);
    const [message] = await runDummy(peer, `{"blob":"${blob}"}`, [], []);
    // [[EventTime, {}], {"blob": str32 of 70000 bytes}]
    const expected = Buffer.concat([
      Buffer.from('9292d7006553f100075bcd158081a4626c6f62db', 'hex'),
      Buffer.from([0x00, 0x01, 0x11, 0x70]),
      Buffer.from(blob),
    ]);
    assert.equal(message?.isBinary, true);
    assert.equal(message?.data.length, expected.length);
    assert.ok(message.data.length > 65_535);
    assert.ok(message.data.equals(expected));
  });

  it('a chunk of about 2 MB in json_lines arrives whole, as one message', async () => {
    const peer = await wsPeer();
    const blob = 'b'.repeat(100_000);
    const [message] = await runDummy(peer, `{"blob":"${blob}"}`, ['-p', 'copies=20'], ['-p', 'format=json_lines']);
    const line = `{"date":1700000000.123457,"blob":"${blob}"}\n`;
    assert.equal(message?.isBinary, false);
    assert.equal(message?.data.length, line.length * 20);
    assert.ok(message.data.length > 2_000_000);
    assert.equal(message.data.toString(), line.repeat(20));
  });
});

describe('bin/wsbit end to end', () => {
  it('-i tcp -o websocket://127.0.0.1:PORT/path -p format=json delivers the docs record, and closes with 1001 on SIGTERM', async () => {
    const peer = await wsPeer();
    const agent = spawnAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${peer.port}/path`, '-p', 'format=json', '-f', '0.2']);
    try {
      await agent.waitForOutput(/listening on 127\.0\.0\.1:\d+/, 'the tcp input');
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]);
      netConnect({ host: '127.0.0.1', port }).end('{"key 1": 123456789, "key 2": "abcdefg"}\n');
      await waitFor(() => peer.messages.length >= 1, `a message\n${agent.stderr()}`);
      assert.match(agent.stderr(), /\[ info\] \[output:websocket:websocket\.0\] target ws:\/\/127\.0\.0\.1:\d+\/path, format json/);
      assert.match(agent.stderr(), /\[ info\] \[output:websocket:websocket\.0\] handshake with ws:\/\/127\.0\.0\.1:\d+\/path succeeded, connection up/);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    assert.equal(peer.requests[0]?.url, '/path');
    assert.equal(peer.messages[0]?.isBinary, false);
    assert.match(peer.messages[0]?.data.toString() ?? '', /^\[\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}\]$/);
    await waitFor(() => peer.closeCodes.length === 1, 'the close frame');
    assert.deepEqual(peer.closeCodes, [1001]);
  });
});
