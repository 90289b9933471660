/**
 * A message sent in fragments (RFC 6455 §5.4), made piece by piece while it is sent: the frames on the
 * wire as a raw server reads them, what `ws` (an independent implementation) makes of them, and what
 * happens around them (a confirming ping, another message, a piece that cannot be made).
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { WsbitError } from '../../src/base/errors.js';
import type { WebSocketClientConnection } from '../../src/websocket/connection.js';
import { Opcode } from '../../src/websocket/frame.js';
import type { FragmentedMessage } from '../../src/websocket/sender.js';
import { waitFor } from '../helpers/wait.js';
import { collectClientFrames, connectionTo, startRawServer, startWsServer, switchingProtocols, trackDown, type RawPeer, type WsPeer } from './peers.js';

let raw: RawPeer | undefined;
let ws: WsPeer | undefined;
afterEach(async () => {
  await raw?.close();
  await ws?.close();
  raw = undefined;
  ws = undefined;
});

async function upgradingServer(after: (socket: Socket) => void): Promise<RawPeer> {
  return startRawServer((socket, key) => {
    socket.write(Buffer.from(switchingProtocols(key), 'latin1'));
    after(socket);
  });
}

/** An open connection to a raw server that upgrades it, and the frames that server reads. */
async function openOnRawServer(): Promise<{ connection: WebSocketClientConnection; frames: ReturnType<typeof collectClientFrames> }> {
  let frames: ReturnType<typeof collectClientFrames> | undefined;
  raw = await upgradingServer((socket) => (frames = collectClientFrames(socket)));
  const connection = connectionTo(raw.port);
  trackDown(connection);
  await connection.open();
  assert.ok(frames !== undefined);
  return { connection, frames };
}

/**
 * The pieces `texts`, each written over the last in ONE buffer, as the JSON encoder writes them: a sender
 * that let a piece go before the socket took it would put the next piece's bytes on the wire in its place.
 */
function reusingMessage(texts: readonly string[], options: { throwAt?: number } = {}): FragmentedMessage & { made: number } {
  const scratch = Buffer.alloc(Math.max(...texts.map((text) => text.length)));
  const message = {
    owned: true,
    made: 0,
    next() {
      if (message.made === options.throwAt) throw new WsbitError('WSBIT_CODEC_MALFORMED', 'piece cannot be made');
      const text = texts[message.made] as string;
      const length = scratch.write(text, 'latin1');
      message.made++;
      return { bytes: scratch.subarray(0, length), last: message.made === texts.length };
    },
  };
  return message;
}

describe('a message in fragments', () => {
  it('goes as a first frame with the opcode, Continuation frames, FIN on the last only, each masked', async () => {
    const { connection, frames } = await openOnRawServer();
    await connection.send(Opcode.Text, reusingMessage(['{"a":1}\n', '{"b":2}\n', '{"c":3}\n']));
    const seen = [await frames.next(), await frames.next(), await frames.next()];
    assert.deepEqual(
      seen.map((frame) => [frame.opcode, frame.fin, frame.masked, frame.rsv1, frame.payload.toString('latin1')]),
      [
        [Opcode.Text, false, true, false, '{"a":1}\n'],
        [Opcode.Continuation, false, true, false, '{"b":2}\n'],
        [Opcode.Continuation, true, true, false, '{"c":3}\n'],
      ],
    );
    connection.destroy();
  });

  it('pieces that are not the producer\'s own are masked into copies and left as they were (binary)', async () => {
    const { connection, frames } = await openOnRawServer();
    const chunk = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const original = Buffer.from(chunk);
    let offset = 0;
    await connection.send(Opcode.Binary, {
      owned: false,
      next() {
        const bytes = chunk.subarray(offset, offset + 128);
        offset += bytes.length;
        return { bytes, last: offset >= chunk.length };
      },
    });
    const seen = [await frames.next(), await frames.next(), await frames.next()];
    assert.deepEqual(seen.map((frame) => [frame.opcode, frame.fin, frame.payload.length]), [[Opcode.Binary, false, 128], [Opcode.Continuation, false, 128], [Opcode.Continuation, true, 44]]);
    assert.deepEqual(Buffer.concat(seen.map((frame) => frame.payload)), original);
    assert.deepEqual(chunk, original, 'the chunk itself is never masked');
    connection.destroy();
  });

  it('the confirming ping, and a message sent meanwhile, come after its last fragment, never between', async () => {
    let frames: ReturnType<typeof collectClientFrames> | undefined;
    raw = await upgradingServer((socket) => {
      frames = collectClientFrames(socket);
      // Not reading at first: the kernel's buffers fill, and the socket holds our later pieces unsent.
      socket.pause();
      setTimeout(() => socket.resume(), 300);
      // Answers our pings, so that sendAndConfirm resolves.
      const answered = new Set<number>();
      const answer = setInterval(() => {
        for (const [i, frame] of (frames?.frames ?? []).entries()) {
          if (frame.opcode !== Opcode.Ping || answered.has(i)) continue;
          answered.add(i);
          socket.write(Buffer.concat([Buffer.from([0x8a, frame.payload.length]), frame.payload]));
        }
      }, 5);
      socket.on('close', () => clearInterval(answer));
    });
    const connection = connectionTo(raw.port);
    trackDown(connection);
    await connection.open();
    const pieces = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(200_000)}\n`);
    const confirmed = connection.sendAndConfirm(Opcode.Text, reusingMessage(pieces), 10_000);
    const other = connection.send(Opcode.Text, Buffer.from('other message'));
    await Promise.all([confirmed, other]);
    assert.ok(frames !== undefined);
    const seen = frames.frames;
    await waitFor(() => seen.length >= 42, 'every frame at the server');
    const kinds = seen.map((frame) => (frame.opcode === Opcode.Ping ? 'P' : frame.opcode === Opcode.Continuation ? 'c' : frame.fin ? 'M' : 'F'));
    assert.equal(kinds.join(''), `F${'c'.repeat(39)}PM`);
    assert.deepEqual(
      seen.slice(0, 40).map((frame) => frame.payload.toString('latin1')),
      pieces,
      'every piece crossed as it was made, none overwritten by the next before the socket took it',
    );
    connection.destroy();
  });

  it('a piece that cannot be made after the first is on the wire drops the connection; one that fails first sends nothing', async () => {
    const { connection: first, frames } = await openOnRawServer();
    await assert.rejects(first.send(Opcode.Text, reusingMessage(['a', 'b'], { throwAt: 0 })), /piece cannot be made/);
    assert.equal(first.state, 'open', 'nothing was sent, so the connection is fine');
    await first.send(Opcode.Text, Buffer.from('still usable'));
    assert.equal((await frames.next()).payload.toString(), 'still usable');

    const down = trackDown(first);
    await assert.rejects(first.send(Opcode.Text, reusingMessage(['a', 'b', 'c'], { throwAt: 1 })), /piece cannot be made/);
    const reason = await down.next;
    assert.match(reason.message, /abandoned halfway/);
  });

  it('`ws` reads the fragments as one message, byte for byte', async () => {
    ws = await startWsServer();
    const peer = ws;
    const received: Buffer[] = [];
    void peer.nextClient().then((client) => client.on('message', (data: Buffer) => received.push(Buffer.from(data))));
    const connection = connectionTo(peer.port);
    trackDown(connection);
    await connection.open();
    const pieces = Array.from({ length: 7 }, (_, i) => `{"piece":${i},"text":"${'é'.repeat(i * 50)}"}\n`);
    // UTF-8 split across fragments is still one valid text message: é is cut between its two bytes here.
    const utf8 = Buffer.from(pieces.join(''), 'utf8');
    const cuts = [0, 101, 240, 333, 500, utf8.length];
    let piece = 0;
    const scratch = Buffer.alloc(utf8.length);
    await connection.sendAndConfirm(Opcode.Text, {
      owned: true,
      next() {
        const bytes = scratch.subarray(0, cuts[piece + 1]! - cuts[piece]!);
        utf8.copy(bytes, 0, cuts[piece]!, cuts[piece + 1]!);
        piece++;
        return { bytes, last: piece === cuts.length - 1 };
      },
    }, 5000);
    await waitFor(() => received.length === 1, 'the message at the ws server');
    assert.equal(received[0]?.toString('utf8'), pieces.join(''));
    await connection.close();
  });
});

describe('a message in fragments, with permessage-deflate negotiated', () => {
  it('is gathered and compressed as one message, which `ws` inflates byte for byte', async () => {
    ws = await startWsServer({ perMessageDeflate: true });
    const peer = ws;
    const received: Buffer[] = [];
    let wireBytes = (): number => 0;
    void peer.nextClient().then((client) => {
      const socket = (client as unknown as { _socket: Socket })._socket;
      wireBytes = () => socket.bytesRead;
      client.on('message', (data: Buffer) => received.push(Buffer.from(data)));
    });
    const connection = connectionTo(peer.port, { compression: { level: 1, threshold: 0, clientMaxWindowBits: 15 } });
    trackDown(connection);
    await connection.open();
    const pieces = Array.from({ length: 5 }, (_, i) => `{"piece":${i},"text":"${'abc'.repeat(300)}"}\n`);
    await connection.sendAndConfirm(Opcode.Text, reusingMessage(pieces), 5000);
    await waitFor(() => received.length === 1, 'the message at the ws server');
    assert.equal(received[0]?.toString('latin1'), pieces.join(''));
    const textBytes = pieces.join('').length;
    assert.ok(wireBytes() < textBytes / 4, `compressed: the server read ${wireBytes()} B for ${textBytes} B of text`);
    await connection.close();
  });
});
