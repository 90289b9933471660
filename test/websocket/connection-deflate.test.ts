/**
 * The client connection with permessage-deflate (RFC 7692) against two servers we did not write, `ws`
 * (perMessageDeflate) and faye's websocket-driver with its permessage-deflate plugin, and against raw
 * servers that answer the offer wrongly or send what RFC 7692 forbids.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import deflateExtension from 'permessage-deflate';
import websocketDriver from 'websocket-driver';
import type { PerMessageDeflateOptions, RawData } from 'ws';
import { Opcode, encodeFrame } from '../../src/websocket/frame.js';
import type { WebSocketClientConnection } from '../../src/websocket/connection.js';
import type { DeflateOffer } from '../../src/websocket/deflate.js';
import { HandshakeError } from '../../src/websocket/handshake.js';
import { WebSocketProtocolError } from '../../src/websocket/reader.js';
import { waitFor } from '../helpers/wait.js';
import { acceptFor, collectClientFrames, connectionTo, startRawServer, startWsServer, trackDown, type RawPeer, type WsPeer } from './peers.js';

const OFFER: DeflateOffer = { level: 1, threshold: 1024, clientMaxWindowBits: 15 };
const toBuffer = (data: RawData): Buffer => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));

/** Container-log-like json_lines: repetitive keys, a varying counter. */
function logLines(first: number, count: number): Buffer {
  let text = '';
  for (let i = first; i < first + count; i++) {
    text += `{"time":"2026-12-05T12:00:${String(i % 60).padStart(2, '0')}.123456Z","stream":"stdout","log":"GET /api/v1/items/${i} HTTP/1.1 200 ${i * 7} \\"-\\" \\"kube-probe/1.29\\"","kubernetes":{"namespace":"shop","pod":"web-7d9f8-abcde","container":"nginx"},"seq":${i}}\n`;
  }
  return Buffer.from(text);
}

let peer: WsPeer | RawPeer | undefined;
const connections: WebSocketClientConnection[] = [];
afterEach(async () => {
  for (const connection of connections.splice(0)) connection.destroy();
  await peer?.close();
  peer = undefined;
});

/** A connection offering `compression` (null: no offer). */
function open(port: number, compression: DeflateOffer | null = OFFER, counted?: Array<[number, number]>): WebSocketClientConnection {
  const connection = connectionTo(port, {
    ...(compression !== null ? { compression } : {}),
    ...(counted !== undefined ? { onCompressed: (before: number, after: number) => void counted.push([before, after]) } : {}),
  });
  connections.push(connection);
  return connection;
}

describe('permessage-deflate against ws (perMessageDeflate)', () => {
  const cases: Array<{ name: string; server: PerMessageDeflateOptions; offer?: Partial<DeflateOffer>; expect: Record<string, unknown> }> = [
    { name: 'context takeover both ways (ws defaults)', server: { threshold: 0 }, expect: { clientNoContextTakeover: false, serverNoContextTakeover: false, clientMaxWindowBits: 15 } },
    {
      name: 'no context takeover either way',
      server: { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true },
      expect: { clientNoContextTakeover: true, serverNoContextTakeover: true },
    },
    {
      name: 'small windows: the server caps ours at 10 bits and its own at 9',
      server: { threshold: 0, clientMaxWindowBits: 10, serverMaxWindowBits: 9 },
      offer: { clientMaxWindowBits: 12 },
      expect: { clientMaxWindowBits: 10, serverMaxWindowBits: 9 },
    },
  ];
  for (const { name, server, offer, expect } of cases) {
    it(`${name}: records arrive intact, confirmed after the data, and server messages inflate`, async () => {
      const ws = (peer = await startWsServer({ perMessageDeflate: server }));
      const seen: Array<{ kind: 'message'; data: Buffer } | { kind: 'ping' }> = [];
      ws.wss.on('connection', (socket) => {
        socket.on('message', (data) => seen.push({ kind: 'message', data: toBuffer(data) }));
        socket.on('ping', () => seen.push({ kind: 'ping' }));
      });
      const counted: Array<[number, number]> = [];
      const connection = open(ws.port, { ...OFFER, ...offer }, counted);
      const received: string[] = [];
      connection.on('message', (_opcode, data) => received.push(data.toString()));
      await connection.open();
      assert.equal(ws.requests[0]?.headers['sec-websocket-extensions'], `permessage-deflate; client_max_window_bits=${offer?.clientMaxWindowBits ?? 15}`);
      assert.ok(connection.compression !== null);
      for (const [key, value] of Object.entries(expect)) assert.equal(connection.compression[key as keyof typeof connection.compression], value, key);

      const sent: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const lines = logLines(i * 50, 50);
        sent.push(lines);
        await connection.sendAndConfirm(Opcode.Text, Buffer.from(lines), 5000, true);
      }
      // A message under the threshold goes as it is, in order with the rest.
      sent.push(Buffer.from('{"seq":-1}\n'));
      await connection.sendAndConfirm(Opcode.Text, Buffer.from('{"seq":-1}\n'), 5000);
      const messages = seen.flatMap((s) => (s.kind === 'message' ? [s.data] : []));
      assert.deepEqual(messages, sent, 'every message intact, in order');
      // Each confirmation came after its message: the ping follows the data it confirms.
      assert.equal(seen.map((s) => (s.kind === 'ping' ? 'P' : 'M')).join(''), 'MP'.repeat(21));
      assert.equal(counted.length, 20, 'the 20 messages above the threshold were compressed');
      const [before, after] = counted.reduce(([b, a], [x, y]) => [b + x, a + y], [0, 0]);
      assert.equal(before, sent.slice(0, 20).reduce((n, b) => n + b.length, 0));
      assert.ok(after < before / 5, `compressed ${before} bytes to ${after}`);

      // The server compresses what it sends us, and the reader inflates it, context taken over or not.
      const socket = ws.clients[0];
      assert.ok(socket !== undefined);
      for (let i = 0; i < 3; i++) socket.send(`server says ${'hello '.repeat(50)}${i}`);
      while (received.length < 3) await once(connection, 'message');
      assert.deepEqual(received, [0, 1, 2].map((i) => `server says ${'hello '.repeat(50)}${i}`));
      await connection.close();
      assert.equal(connection.downReason?.code, 'WSBIT_CONNECTION_CLOSED');
    });
  }

  it('a server without perMessageDeflate declines; messages go uncompressed', async () => {
    const ws = (peer = await startWsServer({ perMessageDeflate: false }));
    const got: Buffer[] = [];
    ws.wss.on('connection', (socket) => socket.on('message', (data) => got.push(toBuffer(data))));
    const connection = open(ws.port);
    await connection.open();
    assert.equal(connection.compression, null);
    await connection.sendAndConfirm(Opcode.Text, logLines(0, 20), 5000);
    assert.deepEqual(got, [logLines(0, 20)]);
  });

  it('message_mode record: several messages in one write, each compressed on its own', async () => {
    const ws = (peer = await startWsServer({ perMessageDeflate: { threshold: 0 } }));
    const got: Buffer[] = [];
    ws.wss.on('connection', (socket) => socket.on('message', (data) => got.push(toBuffer(data))));
    const connection = open(ws.port, { ...OFFER, threshold: 200 });
    await connection.open();
    const records = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? Buffer.from(`{"short":${i}}`) : logLines(i, 1)));
    await connection.sendMessages(Opcode.Text, records, 5000);
    assert.deepEqual(got, records);
  });
});

describe('permessage-deflate against websocket-driver (faye) with its permessage-deflate plugin', () => {
  for (const settings of [{}, { noContextTakeover: true, requestNoContextTakeover: true, maxWindowBits: 10, requestMaxWindowBits: 11 }]) {
    it(`records arrive intact and server messages inflate (${JSON.stringify(settings)})`, async () => {
      const got: string[] = [];
      const drivers: Array<{ text(message: string): boolean }> = [];
      const http = createHttpServer((_request, response) => response.writeHead(426).end());
      const sockets = new Set<Socket>();
      http.on('upgrade', (request, socket: Socket, head: Buffer) => {
        sockets.add(socket);
        const driver = websocketDriver.http(request, { maxLength: 2 ** 26 });
        driver.addExtension(deflateExtension.configure(settings));
        driver.on('message', (event) => got.push(typeof event.data === 'string' ? event.data : event.data.toString()));
        driver.on('open', () => drivers.push(driver));
        driver.io.write(head);
        socket.pipe(driver.io).pipe(socket);
        driver.start();
      });
      http.listen(0, '127.0.0.1');
      await once(http, 'listening');
      peer = {
        port: (http.address() as AddressInfo).port,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => http.close(() => resolve()));
        },
      };
      const connection = open(peer.port, { ...OFFER, clientMaxWindowBits: 12 });
      const received: string[] = [];
      connection.on('message', (_opcode, data) => received.push(data.toString()));
      await connection.open();
      assert.ok(connection.compression !== null, 'faye accepted the offer');
      if ('requestNoContextTakeover' in settings) {
        assert.equal(connection.compression.clientNoContextTakeover, true);
        assert.equal(connection.compression.clientMaxWindowBits, 11);
        assert.equal(connection.compression.serverNoContextTakeover, true);
      }
      const sent: string[] = [];
      for (let i = 0; i < 10; i++) {
        const lines = logLines(i * 40, 40);
        sent.push(lines.toString());
        await connection.sendAndConfirm(Opcode.Text, lines, 5000, true);
      }
      // faye inflates asynchronously and answers a ping at once, so its last message may come after the pong.
      await waitFor(() => got.length >= sent.length, 'every message at the websocket-driver server');
      assert.deepEqual(got, sent);
      const text = (i: number): string => `${'faye '.repeat(300)}${i}`;
      for (let i = 0; i < 3; i++) drivers[0]?.text(text(i));
      while (received.length < 3) await once(connection, 'message');
      assert.deepEqual(received, [0, 1, 2].map(text));
    });
  }
});

describe('permessage-deflate against raw servers that get it wrong', () => {
  /** A 101 with `extensions` as its Sec-WebSocket-Extensions lines, then `after` on the socket. */
  async function answering(extensions: string[], after: (socket: Socket) => void = () => undefined): Promise<RawPeer> {
    return startRawServer((socket, key) => {
      const lines = extensions.map((value) => `Sec-WebSocket-Extensions: ${value}\r\n`).join('');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n${lines}\r\n`);
      after(socket);
    });
  }

  const refusals: Array<[string, string[], DeflateOffer | null, RegExp]> = [
    ['an extension we did not offer (no offer made)', ['permessage-deflate'], null, /not requested/],
    ['an extension other than the one offered', ['x-webkit-deflate-frame'], OFFER, /only permessage-deflate was offered/],
    ['client_max_window_bits above our offer', ['permessage-deflate; client_max_window_bits=15'], { ...OFFER, clientMaxWindowBits: 10 }, /from 9 to 10/],
    ['server_max_window_bits out of range', ['permessage-deflate; server_max_window_bits=20'], OFFER, /from 8 to 15/],
    ['a duplicate parameter', ['permessage-deflate; client_no_context_takeover; client_no_context_takeover'], OFFER, /repeats/],
    ['an unknown parameter', ['permessage-deflate; server_window=1'], OFFER, /unknown parameter/],
  ];
  for (const [name, extensions, offer, pattern] of refusals) {
    it(`${name} fails the handshake`, async () => {
      peer = await answering(extensions);
      const connection = open(peer.port, offer);
      const { downs } = trackDown(connection);
      await assert.rejects(connection.open(), (error: unknown) => {
        assert.ok(error instanceof HandshakeError, String(error));
        assert.equal(error.code, 'WSBIT_HANDSHAKE_BAD_EXTENSION');
        assert.match(error.message, pattern);
        return true;
      });
      assert.equal(downs.length, 1);
    });
  }

  it('a decompression bomb is refused with Close 1009 before it is inflated in full', async () => {
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await answering(['permessage-deflate'], (socket) => {
      frames = collectClientFrames(socket);
      socket.write(encodeFrame(Opcode.Binary, bomb, { mask: false, compressed: true }));
    });
    const connection = connectionTo(peer.port, { compression: OFFER, maxMessageBytes: 1024 * 1024 });
    connections.push(connection);
    const { next } = trackDown(connection);
    const received: Buffer[] = [];
    connection.on('message', (_opcode, data) => received.push(data));
    await connection.open().catch(() => undefined);
    const reason = await next;
    assert.ok(reason instanceof WebSocketProtocolError);
    assert.equal(reason.closeCode, 1009);
    assert.equal(received.length, 0);
    const close = await (frames as ReturnType<typeof collectClientFrames>).next();
    assert.equal(close.opcode, Opcode.Close);
    assert.equal(close.payload.readUInt16BE(0), 1009);
  });

  it('RSV1 on a ping is refused with Close 1002', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await answering(['permessage-deflate'], (socket) => {
      frames = collectClientFrames(socket);
      socket.write(Buffer.from([0xc9, 0x00]));
    });
    const connection = open(peer.port);
    const { next } = trackDown(connection);
    await connection.open().catch(() => undefined);
    const reason = await next;
    assert.ok(reason instanceof WebSocketProtocolError);
    assert.equal(reason.violation, 'compressed-control-frame');
    const close = await (frames as ReturnType<typeof collectClientFrames>).next();
    assert.equal(close.opcode, Opcode.Close);
    assert.equal(close.payload.readUInt16BE(0), 1002);
  });

  it('RSV1 set on the first frame only, from the threshold on; the compressed payload inflates to the message', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await answering(['permessage-deflate; client_no_context_takeover'], (socket) => (frames = collectClientFrames(socket)));
    const connection = open(peer.port, { ...OFFER, threshold: 100 });
    await connection.open();
    const big = logLines(0, 5);
    await connection.send(Opcode.Text, big);
    await connection.send(Opcode.Text, Buffer.from('x'.repeat(99)));
    const collected = frames as ReturnType<typeof collectClientFrames>;
    const first = await collected.next();
    const second = await collected.next();
    assert.equal(first.rsv1, true);
    assert.equal(first.opcode, Opcode.Text);
    const inflated = inflateRawSync(Buffer.concat([first.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    assert.deepEqual(inflated, big);
    assert.equal(second.rsv1, false);
    assert.equal(second.payload.toString(), 'x'.repeat(99));
  });
});
