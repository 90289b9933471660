/**
 * The client connection against servers that flood control frames or stop reading (issue 12, item 1):
 * raw `net` servers written here do exactly the hostile thing, and the connection must stay bounded,
 * confirm nothing it should not, and drop the peer with one clear reason.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { Opcode } from '../../src/websocket/frame.js';
import { waitFor } from '../helpers/wait.js';
import { collectClientFrames, connectionTo, startRawServer, switchingProtocols, trackDown, type RawPeer } from './peers.js';

const serverFrame = (byte0: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([byte0, payload.length]), payload]);
/** The payloads a counter-based client would use for its pings 1, 2, 3 … (8 bytes, big-endian). */
const counterPayload = (n: number): Buffer => {
  const payload = Buffer.alloc(8);
  payload.writeBigUInt64BE(BigInt(n));
  return payload;
};

let peer: RawPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

async function upgradingServer(after: (socket: Socket) => void): Promise<RawPeer> {
  return startRawServer((socket, key) => {
    socket.write(Buffer.from(switchingProtocols(key), 'latin1'));
    after(socket);
  });
}

/** Writes 125-byte pings (and, with `counterPongs`, pongs 1, 2, 3 …) as fast as the client reads them, until the socket ends. */
function flood(socket: Socket, options: { pings: boolean; counterPongs: boolean }): { framesWritten(): number } {
  let written = 0;
  let counter = 0;
  const ping = serverFrame(0x89, Buffer.alloc(125, 0x61));
  const burst = (): void => {
    while (!socket.destroyed && socket.writable) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        if (options.pings) frames.push(ping);
        if (options.counterPongs) frames.push(serverFrame(0x8a, counterPayload(++counter)));
      }
      written += frames.length;
      if (!socket.write(Buffer.concat(frames))) {
        socket.once('drain', burst);
        return;
      }
    }
  };
  setImmediate(burst);
  return { framesWritten: () => written };
}

describe('ping payloads', () => {
  it('are random per ping, so a pong that guesses them confirms nothing', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    let socket: Socket | undefined;
    peer = await upgradingServer((s) => {
      socket = s;
      frames = collectClientFrames(s);
    });
    const connection = connectionTo(peer.port, { maxControlFramesPerSecond: 0 });
    trackDown(connection);
    await connection.open();
    const confirmation = connection.sendAndConfirm(Opcode.Text, Buffer.from('record'), 1500);
    const second = connection.ping(1500);
    assert.ok(frames !== undefined && socket !== undefined);
    const sent = [await frames.next(), await frames.next(), await frames.next()];
    assert.deepEqual(sent.map((frame) => frame.opcode), [Opcode.Text, Opcode.Ping, Opcode.Ping]);
    const [first, other] = [sent[1]?.payload, sent[2]?.payload];
    assert.equal(first?.length, 8);
    assert.notDeepEqual(first, other, 'each ping has its own payload');
    assert.notDeepEqual(first, counterPayload(1));
    // The server read the record but answers with the counters a predictable client would use.
    for (let n = 0; n < 50; n++) socket.write(serverFrame(0x8a, counterPayload(n)));
    await assert.rejects(confirmation, { code: 'WSBIT_PING_TIMEOUT' });
    await assert.rejects(second);
  });
});

describe('a control-frame flood', () => {
  it('is cut at control_frame_limit per second: one reason, and pending confirmations fail', async () => {
    let flooded: { framesWritten(): number } | undefined;
    peer = await upgradingServer((socket) => {
      socket.pause();
      flooded = flood(socket, { pings: true, counterPongs: true });
    });
    const connection = connectionTo(peer.port, { maxControlFramesPerSecond: 50, closeTimeoutMs: 200 });
    const { downs, next } = trackDown(connection);
    await connection.open();
    const confirmation = connection.sendAndConfirm(Opcode.Text, Buffer.from('record'), 10_000);
    const reason = await next;
    await assert.rejects(confirmation, { code: 'WSBIT_CONNECTION_LOST' });
    assert.equal(reason.code, 'WSBIT_WS_CONTROL_FLOOD');
    assert.match(reason.message, /sent more than 50 pings or unsolicited pongs within one second; dropping the connection/);
    assert.ok((flooded?.framesWritten() ?? 0) > 50);
    await waitFor(() => connection.state === 'closed', 'closed');
    assert.equal(downs.length, 1, 'one down event');
  });

  it('with no limit, pongs to a server that does not read are coalesced, and the stalled writes drop it', async () => {
    peer = await upgradingServer((socket) => {
      socket.pause();
      flood(socket, { pings: true, counterPongs: false });
    });
    const connection = connectionTo(peer.port, { maxControlFramesPerSecond: 0, writeStallTimeoutMs: 1000 });
    const { downs, next } = trackDown(connection);
    await connection.open();
    const reason = await next;
    assert.equal(reason.code, 'WSBIT_WRITE_STALLED');
    assert.match(reason.message, /has not read what we sent for 1000 ms \(\d+ bytes unsent\)/);
    assert.ok(connection.pongsCoalesced > 0, 'later pings were answered in place of earlier ones');
    assert.equal(downs.length, 1);
  });

  it('a server that does not read a large frame is dropped after write_stall_timeout; the send fails', async () => {
    peer = await upgradingServer((socket) => socket.pause());
    const connection = connectionTo(peer.port, { writeStallTimeoutMs: 500 });
    const { next } = trackDown(connection);
    await connection.open();
    const sending = connection.send(Opcode.Binary, Buffer.alloc(32 * 1024 * 1024));
    assert.equal((await next).code, 'WSBIT_WRITE_STALLED');
    await assert.rejects(sending, { code: 'WSBIT_CONNECTION_LOST' });
  });

  it('a server that reads keeps its connection: a burst of its pings under the limit is answered', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    peer = await upgradingServer((socket) => {
      frames = collectClientFrames(socket);
      for (let n = 0; n < 20; n++) socket.write(serverFrame(0x89, Buffer.from(`ping ${n}`)));
    });
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    await waitFor(() => (frames?.frames.length ?? 0) === 20, 'twenty pongs');
    assert.deepEqual(frames?.frames.map((frame) => frame.payload.toString()), Array.from({ length: 20 }, (_, n) => `ping ${n}`));
    assert.equal(connection.state, 'open');
    connection.destroy();
  });
});
