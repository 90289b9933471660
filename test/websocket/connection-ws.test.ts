/** The client connection against `ws`'s WebSocketServer, a server we did not write. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { RawData } from 'ws';
import { WsbitError } from '../../src/base/errors.js';
import { WebSocketClosedError } from '../../src/websocket/connection.js';
import { Opcode } from '../../src/websocket/frame.js';
import { HandshakeError } from '../../src/websocket/handshake.js';
import { connectionTo, startWsServer, trackDown, type WsPeer } from './peers.js';

const toBuffer = (data: RawData): Buffer => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let peer: WsPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

describe('WebSocketClientConnection against ws', () => {
  it("opens with Fluent Bit's request shape (ws accepts the duplicated Connection header) and sends text and binary byte-exact", async () => {
    peer = await startWsServer();
    const received: Array<{ data: Buffer; isBinary: boolean }> = [];
    peer.wss.on('connection', (ws) => ws.on('message', (data, isBinary) => received.push({ data: toBuffer(data), isBinary })));
    const connection = connectionTo(peer.port, { headers: [{ name: 'Authorization', value: 'Bearer abc' }] });
    const { downs } = trackDown(connection);
    await connection.open();
    assert.equal(connection.state, 'open');

    const request = peer.requests[0];
    assert.ok(request !== undefined);
    // Both Connection lines reach the server, as Fluent Bit sends them (SPEC §1.6), and ws upgrades anyway.
    const raw = request.rawHeaders;
    const connectionValues = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'connection');
    assert.deepEqual(connectionValues, ['Upgrade', 'keep-alive']);
    assert.equal(request.headers.host, `127.0.0.1:${peer.port}`);
    assert.equal(request.headers.authorization, 'Bearer abc');

    const text = Buffer.from('{"date":1700000000.123457,"msg":"héllo ✓"}\n');
    const binary = randomBytes(1000);
    const parts = [Buffer.from([0x92, 0x01]), Buffer.from([0x02])];
    await connection.send(Opcode.Text, text);
    await connection.send(Opcode.Binary, binary);
    await connection.sendAndConfirm(Opcode.Binary, parts, 2000);
    assert.equal(received.length, 3);
    assert.deepEqual(received[0], { data: text, isBinary: false });
    assert.deepEqual(received[1], { data: binary, isBinary: true });
    assert.deepEqual(received[2], { data: Buffer.from([0x92, 0x01, 0x02]), isBinary: true });
    await connection.close();
    assert.equal(downs.length, 1);
  });

  it('sends a ~2 MB chunk and sendAndConfirm resolves only after the server has read it', async () => {
    peer = await startWsServer();
    const hashes: string[] = [];
    peer.wss.on('connection', (ws) => ws.on('message', (data) => hashes.push(sha256(toBuffer(data)))));
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    const chunks = [randomBytes(2 * 1024 * 1024 - 7), randomBytes(2 * 1024 * 1024 + 13)];
    const copies = chunks.map((chunk) => Buffer.from(chunk));
    for (const chunk of chunks) {
      await connection.sendAndConfirm(Opcode.Binary, chunk, 10_000);
      // The pong proves the server read the frame, so the server's handler has already run.
      assert.equal(hashes.at(-1), sha256(chunk));
    }
    assert.deepEqual(chunks, copies, 'payloads are never masked in place');
    await connection.close();
  });

  it('sends a payload it may mask in place byte-exact, confirmed or not, between frames masked into a copy', async () => {
    peer = await startWsServer();
    const hashes: string[] = [];
    peer.wss.on('connection', (ws) => ws.on('message', (data) => hashes.push(sha256(toBuffer(data)))));
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    const texts = [Buffer.from('x'.repeat(3 * 1024 * 1024 + 1)), Buffer.from('{"a":1}\n'), randomBytes(70_000)];
    const expected = texts.map(sha256);
    await connection.sendAndConfirm(Opcode.Text, texts[0] as Buffer, 10_000, true);
    assert.notEqual(sha256(texts[0] as Buffer), expected[0], 'the private payload was masked where it lies');
    await connection.send(Opcode.Text, texts[1] as Buffer, true);
    const shared = randomBytes(100_000);
    await connection.send(Opcode.Binary, shared);
    await connection.sendAndConfirm(Opcode.Binary, texts[2] as Buffer, 10_000, true);
    assert.deepEqual(hashes, [expected[0], expected[1], sha256(shared), expected[2]]);
    await connection.close();
  });

  it('answers a server ping with a pong carrying the same payload', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    trackDown(connection);
    const serverSide = peer.nextClient();
    await connection.open();
    const ws = await serverSide;
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', (data) => resolve(data)));
    ws.ping(Buffer.from('are you there?'));
    assert.deepEqual(await pong, Buffer.from('are you there?'));
    await connection.ping(2000);
    await connection.close();
  });

  it('goes down with the code when the server closes, and echoes the close', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    const { downs, next } = trackDown(connection);
    const serverSide = peer.nextClient();
    await connection.open();
    const ws = await serverSide;
    const serverClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(4001, 'maintenance');
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.code, 'WSBIT_WS_SERVER_CLOSED');
    assert.equal(reason.closeCode, 4001);
    assert.equal(reason.closeReason, 'maintenance');
    // ws reports the code of the Close we answered with.
    assert.equal(await serverClosed, 4001);
    await assert.rejects(connection.send(Opcode.Text, Buffer.from('late')), { code: 'WSBIT_CONNECTION_LOST' });
    assert.equal(downs.length, 1);
    assert.equal(connection.state, 'closed');
  });

  it('goes down when the server terminates the TCP connection, and pending confirmations fail', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    const { downs, next } = trackDown(connection);
    const serverSide = peer.nextClient();
    await connection.open();
    const ws = await serverSide;
    ws.pause(); // the server stops reading, so no pong can come back
    const pending = connection.sendAndConfirm(Opcode.Binary, Buffer.from('never confirmed'), 10_000);
    ws.terminate();
    await assert.rejects(pending, { code: 'WSBIT_CONNECTION_LOST' });
    const reason = await next;
    assert.equal(reason.code, 'WSBIT_CONNECTION_LOST');
    assert.equal(downs.length, 1);
  });

  it('negotiates a subprotocol with handleProtocols', async () => {
    peer = await startWsServer({ handleProtocols: (protocols) => (protocols.has('fluent.v1') ? 'fluent.v1' : false) });
    const connection = connectionTo(peer.port, { subprotocol: 'fluent.v1' });
    trackDown(connection);
    const serverSide = peer.nextClient();
    await connection.open();
    assert.equal((await serverSide).protocol, 'fluent.v1');
    await connection.close();

    const other = connectionTo(peer.port, { subprotocol: 'other.v2' });
    const { downs } = trackDown(other);
    await assert.rejects(other.open(), (e: unknown) => e instanceof HandshakeError && e.code === 'WSBIT_HANDSHAKE_BAD_SUBPROTOCOL');
    assert.equal(downs.length, 1);
  });

  it('close() performs the closing handshake with the given code', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    const { downs } = trackDown(connection);
    const serverSide = peer.nextClient();
    await connection.open();
    const ws = await serverSide;
    const serverClosed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    await connection.close(1001, 'shutting down');
    assert.deepEqual(await serverClosed, [1001, 'shutting down']);
    assert.equal(downs.length, 1);
    assert.equal(downs[0]?.code, 'WSBIT_CONNECTION_CLOSED');
    await assert.rejects(connection.sendAndConfirm(Opcode.Text, Buffer.from('x'), 100), { code: 'WSBIT_CONNECTION_LOST' });
    await connection.close(); // idempotent
  });

  it('counts and emits data messages from the server', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    trackDown(connection);
    const serverSide = peer.nextClient();
    const messages: Array<[number, string]> = [];
    connection.on('message', (opcode, data) => messages.push([opcode, data.toString()]));
    await connection.open();
    const ws = await serverSide;
    ws.send('hello');
    ws.send(Buffer.from('bin'), { binary: true });
    ws.send('fragmented', { fin: false });
    ws.send(' message', { fin: true });
    await connection.ping(2000); // ws writes in order, so our pong arrives after the messages
    ws.ping();
    await connection.ping(2000);
    assert.deepEqual(messages, [
      [Opcode.Text, 'hello'],
      [Opcode.Binary, 'bin'],
      [Opcode.Text, 'fragmented message'],
    ]);
    assert.equal(connection.messagesReceived, 3);
    await connection.close();
  });

  it('goes down with 1009 when the server refuses a message over its maxPayload', async () => {
    peer = await startWsServer({ maxPayload: 1024 });
    peer.wss.on('connection', (ws) => ws.on('error', () => undefined));
    const connection = connectionTo(peer.port);
    const { next } = trackDown(connection);
    await connection.open();
    await assert.rejects(connection.sendAndConfirm(Opcode.Binary, Buffer.alloc(2048), 5000), { code: 'WSBIT_CONNECTION_LOST' });
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.closeCode, 1009);
  });

  it('a strict server fails binary data sent in a text frame with 1007 (why msgpack goes in binary frames)', async () => {
    peer = await startWsServer();
    peer.wss.on('connection', (ws) => ws.on('error', () => undefined));
    const connection = connectionTo(peer.port);
    const { next } = trackDown(connection);
    await connection.open();
    await connection.send(Opcode.Text, Buffer.from([0x92, 0xc3, 0x28]));
    const reason = await next;
    assert.ok(reason instanceof WebSocketClosedError);
    assert.equal(reason.closeCode, 1007);
  });

  it('reports a rejected upgrade with its status', async () => {
    peer = await startWsServer({ verifyClient: (_info, done) => done(false, 401, 'Unauthorized') });
    const connection = connectionTo(peer.port);
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), (e: unknown) => e instanceof HandshakeError && e.code === 'WSBIT_HANDSHAKE_REJECTED' && e.status === 401 && e.message.includes('401'));
    assert.equal(downs.length, 1);
  });

  it('enforces its own state: one open per object, no send before open', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await assert.rejects(connection.send(Opcode.Text, Buffer.from('x')), { code: 'WSBIT_NOT_OPEN' });
    const opening = connection.open();
    await assert.rejects(connection.open(), { code: 'WSBIT_INVALID_STATE' });
    await assert.rejects(connection.send(Opcode.Text, Buffer.from('x')), { code: 'WSBIT_NOT_OPEN' });
    await opening;
    await connection.close();
    await assert.rejects(connection.open(), { code: 'WSBIT_INVALID_STATE' });
  });

  it('binds to sourceAddress', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port, { sourceAddress: '127.0.0.1' });
    trackDown(connection);
    await connection.open();
    assert.equal(peer.requests[0]?.socket.remoteAddress, '127.0.0.1');
    await connection.close();
  });

  it('a header that would inject a line fails open() before any TCP connection', async () => {
    peer = await startWsServer();
    let connections = 0;
    peer.wss.on('connection', () => connections++);
    const connection = connectionTo(peer.port, { headers: [{ name: 'X-Evil', value: 'a\r\nHost: elsewhere' }] });
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), { code: 'WSBIT_HANDSHAKE_BAD_HEADER' });
    assert.equal(downs.length, 1);
    assert.equal(connections, 0);
  });

  it('close() before the handshake finishes aborts open()', async () => {
    peer = await startWsServer();
    const connection = connectionTo(peer.port);
    const { downs } = trackDown(connection);
    const opening = connection.open();
    await connection.close();
    await assert.rejects(opening, { code: 'WSBIT_CONNECTION_CLOSED' });
    assert.equal(downs.length, 1);
  });
});

describe('WebSocketClientConnection: connect failures', () => {
  it('reports a refused connection as WSBIT_CONNECT_FAILED with the cause', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const connection = connectionTo(port);
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), (e: unknown) => {
      assert.ok(e instanceof WsbitError);
      assert.equal(e.code, 'WSBIT_CONNECT_FAILED');
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      return true;
    });
    assert.equal(downs.length, 1);
  });
});
