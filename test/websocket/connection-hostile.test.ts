/** The client connection against hand-built servers on raw `net` that misbehave on purpose. */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { WsbitError } from '../../src/base/errors.js';
import { WebSocketClosedError } from '../../src/websocket/connection.js';
import { HandshakeError } from '../../src/websocket/handshake.js';
import { WebSocketProtocolError } from '../../src/websocket/reader.js';
import { Opcode } from '../../src/websocket/frame.js';
import { collectClientFrames, connectionTo, startRawServer, switchingProtocols, trackDown, type RawPeer } from './peers.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
/** An unmasked server frame, built by hand. */
const serverFrame = (byte0: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([byte0, payload.length]), payload]);

let peer: RawPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

/** Starts a raw server that upgrades properly and hands the socket to `after`. */
async function upgradingServer(after: (socket: Socket) => void, extra: Buffer = Buffer.alloc(0)): Promise<RawPeer> {
  return startRawServer((socket, key) => {
    socket.write(Buffer.concat([Buffer.from(switchingProtocols(key), 'latin1'), extra]));
    after(socket);
  });
}

describe('hostile handshakes', () => {
  it('a wrong Sec-WebSocket-Accept fails the handshake', async () => {
    peer = await startRawServer((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    });
    const connection = connectionTo(peer.port);
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), (e: unknown) => e instanceof HandshakeError && e.code === 'WSBIT_HANDSHAKE_BAD_ACCEPT');
    assert.equal(downs.length, 1);
    assert.equal(connection.state, 'closed');
  });

  it('a 200 response is a rejection that quotes the body', async () => {
    peer = await startRawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\nthis is not a socket\n');
    });
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await assert.rejects(connection.open(), (e: unknown) => {
      assert.ok(e instanceof HandshakeError);
      assert.equal(e.code, 'WSBIT_HANDSHAKE_REJECTED');
      assert.equal(e.status, 200);
      assert.match(e.message, /HTTP 200 OK: this is not a socket/);
      return true;
    });
  });

  it('no response at all trips the handshake timeout', async () => {
    peer = await startRawServer(() => undefined);
    const connection = connectionTo(peer.port, { handshakeTimeoutMs: 200 });
    const { downs } = trackDown(connection);
    const started = Date.now();
    await assert.rejects(connection.open(), { code: 'WSBIT_HANDSHAKE_TIMEOUT' });
    assert.ok(Date.now() - started >= 150);
    assert.equal(downs.length, 1);
  });

  it('garbage instead of an HTTP response is malformed', async () => {
    peer = await startRawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await assert.rejects(connection.open(), { code: 'WSBIT_HANDSHAKE_MALFORMED' });
  });

  it('EOF during the handshake is a lost connection', async () => {
    peer = await startRawServer((socket) => socket.end('HTTP/1.1 101 Switching'));
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await assert.rejects(connection.open(), { code: 'WSBIT_CONNECTION_LOST' });
  });

  it('a response split over many writes still opens', async () => {
    peer = await startRawServer((socket, key) => {
      const bytes = Buffer.from(switchingProtocols(key), 'latin1');
      let i = 0;
      const timer = setInterval(() => {
        if (i >= bytes.length || socket.destroyed) return clearInterval(timer);
        socket.write(bytes.subarray(i, i + 7));
        i += 7;
      }, 1);
    });
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    connection.destroy();
  });
});

describe('hostile frames after the upgrade', () => {
  it('frames in the same packet as the 101 reach the frame reader', async () => {
    const sameWrite = Buffer.concat([serverFrame(0x81, Buffer.from('welcome')), serverFrame(0x89, Buffer.from('p1'))]);
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await upgradingServer((socket) => (frames = collectClientFrames(socket)), sameWrite);
    const connection = connectionTo(peer.port);
    trackDown(connection);
    const messages: string[] = [];
    connection.on('message', (_opcode, data) => messages.push(data.toString()));
    await connection.open();
    assert.ok(frames !== undefined);
    const pong = await frames.next();
    assert.deepEqual(messages, ['welcome']);
    assert.equal(pong.opcode, Opcode.Pong);
    assert.deepEqual(pong.payload, Buffer.from('p1'));
    connection.destroy();
  });

  it('a ping with a payload gets a masked pong echoing it', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await upgradingServer((socket) => {
      frames = collectClientFrames(socket);
      socket.write(serverFrame(0x89, Buffer.from([0, 1, 2, 0xff, 0xfe])));
    });
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    assert.ok(frames !== undefined);
    const pong = await frames.next();
    assert.deepEqual({ ...pong, payload: pong.payload.toString('hex') }, { fin: true, opcode: Opcode.Pong, masked: true, payload: '000102fffe', rsv1: false });
    connection.destroy();
  });

  it('a close frame is answered with the same code and the connection goes down', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await upgradingServer((socket) => {
      frames = collectClientFrames(socket);
      socket.write(hex('88 06 03 f3 62 75 73 79')); // 1011 "busy"
    });
    const connection = connectionTo(peer.port);
    const { downs, next } = trackDown(connection);
    await connection.open();
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.closeCode, 1011);
    assert.equal(reason.closeReason, 'busy');
    assert.ok(frames !== undefined);
    const answer = await frames.next();
    assert.equal(answer.opcode, Opcode.Close);
    assert.ok(answer.masked);
    assert.equal(answer.payload.readUInt16BE(0), 1011);
    assert.equal(downs.length, 1);
  });

  it('a close frame without a code is answered with an empty close', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await upgradingServer((socket) => {
      frames = collectClientFrames(socket);
      socket.write(hex('88 00'));
    });
    const connection = connectionTo(peer.port);
    const { next } = trackDown(connection);
    await connection.open();
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.closeCode, undefined);
    assert.ok(frames !== undefined);
    const answer = await frames.next();
    assert.equal(answer.opcode, Opcode.Close);
    assert.equal(answer.payload.length, 0);
  });

  it('EOF in the middle of a frame is a lost connection', async () => {
    peer = await upgradingServer((socket) => socket.end(hex('82 7e 10 00 61 62 63')));
    const connection = connectionTo(peer.port);
    const { downs, next } = trackDown(connection);
    await connection.open().catch(() => undefined);
    const reason = await next;
    assert.equal(reason.code, 'WSBIT_CONNECTION_LOST');
    assert.equal(downs.length, 1);
  });

  it('a TCP reset is a lost connection', async () => {
    peer = await upgradingServer((socket) => setTimeout(() => socket.resetAndDestroy(), 20));
    const connection = connectionTo(peer.port);
    const { next } = trackDown(connection);
    await connection.open();
    const reason = await next;
    assert.equal(reason.code, 'WSBIT_CONNECTION_LOST');
  });

  const protocolCases: Array<{ name: string; bytes: Buffer; violation: string; closeCode: number }> = [
    { name: 'a masked server frame', bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), violation: 'masked-frame-from-server', closeCode: 1002 },
    { name: 'garbage bytes', bytes: Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), violation: 'reserved-bits', closeCode: 1002 },
    { name: 'a reserved opcode', bytes: hex('85 00'), violation: 'unknown-opcode', closeCode: 1002 },
    { name: 'an oversized ping', bytes: Buffer.concat([hex('89 7e 00 c8'), Buffer.alloc(200)]), violation: 'control-too-long', closeCode: 1002 },
    { name: 'invalid UTF-8 text', bytes: hex('81 02 c3 28'), violation: 'invalid-utf8', closeCode: 1007 },
  ];
  for (const c of protocolCases) {
    it(`${c.name} fails the connection with close ${c.closeCode}`, async () => {
      let frames: ReturnType<typeof collectClientFrames> | undefined;
      peer = await upgradingServer((socket) => {
        frames = collectClientFrames(socket);
        setTimeout(() => socket.write(c.bytes), 5);
      });
      const connection = connectionTo(peer.port);
      const { downs, next } = trackDown(connection);
      await connection.open();
      const reason = await next;
      assert.ok(reason instanceof WebSocketProtocolError);
      assert.equal(reason.violation, c.violation);
      assert.ok(frames !== undefined);
      const close = await frames.next();
      assert.equal(close.opcode, Opcode.Close);
      assert.equal(close.payload.readUInt16BE(0), c.closeCode);
      assert.equal(downs.length, 1);
    });
  }

  it('a close frame right after the 101 ends the connection even before open() returns', async () => {
    peer = await upgradingServer(() => undefined, hex('88 02 03 e9'));
    const connection = connectionTo(peer.port);
    const { next } = trackDown(connection);
    await connection.open();
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.closeCode, 1001);
  });
});

describe('confirmations against hostile servers', () => {
  it('a server that never answers pings trips WSBIT_PING_TIMEOUT and the connection is dropped', async () => {
    peer = await upgradingServer(() => undefined);
    const connection = connectionTo(peer.port);
    const { downs, next } = trackDown(connection);
    await connection.open();
    const first = connection.sendAndConfirm(Opcode.Binary, Buffer.from('a'), 150);
    const second = connection.sendAndConfirm(Opcode.Binary, Buffer.from('b'), 5000);
    await assert.rejects(first, { code: 'WSBIT_PING_TIMEOUT' });
    await assert.rejects(second, { code: 'WSBIT_CONNECTION_LOST' });
    assert.equal((await next).code, 'WSBIT_PING_TIMEOUT');
    assert.equal(downs.length, 1);
  });

  it('one pong for the latest ping confirms the earlier ones too (RFC 6455 §5.5.3)', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    let socket: Socket | undefined;
    peer = await upgradingServer((s) => {
      socket = s;
      frames = collectClientFrames(s);
    });
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    const confirmations = [1, 2, 3].map((n) => connection.sendAndConfirm(Opcode.Text, Buffer.from(`record ${n}`), 5000));
    assert.ok(frames !== undefined && socket !== undefined);
    const received = [];
    for (let i = 0; i < 6; i++) received.push(await frames.next());
    assert.deepEqual(received.map((f) => f.opcode), [Opcode.Text, Opcode.Ping, Opcode.Text, Opcode.Ping, Opcode.Text, Opcode.Ping]);
    socket.write(serverFrame(0x8a, Buffer.from('unsolicited'))); // ignored (§5.5.3 heartbeat)
    socket.write(serverFrame(0x8a, (received[5] as { payload: Buffer }).payload));
    await Promise.all(confirmations);
    connection.destroy();
  });

  it('close() gives up on a server that never answers the Close', async () => {
    peer = await upgradingServer(() => undefined);
    const connection = connectionTo(peer.port, { closeTimeoutMs: 100 });
    const { downs } = trackDown(connection);
    await connection.open();
    await connection.close();
    assert.equal(downs[0]?.code, 'WSBIT_CONNECTION_CLOSED');
    assert.equal(connection.state, 'closed');
  });

  it('a write that never completes trips the io timeout', async () => {
    // The server reads nothing, so a large enough write fills both socket buffers and never completes.
    peer = await upgradingServer((socket) => socket.pause());
    const connection = connectionTo(peer.port, { ioTimeoutMs: 200 });
    const { next } = trackDown(connection);
    await connection.open();
    const payload = Buffer.alloc(4 * 1024 * 1024);
    const sends = [];
    for (let i = 0; i < 16; i++) sends.push(connection.send(Opcode.Binary, payload).catch((e: unknown) => e));
    const reason = await next;
    assert.equal(reason.code, 'WSBIT_IO_TIMEOUT');
    const results = await Promise.all(sends);
    assert.ok(results.some((r) => r instanceof WsbitError && r.code === 'WSBIT_CONNECTION_LOST'));
  });
});
