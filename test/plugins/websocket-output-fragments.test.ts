/**
 * `fragment_size` on the websocket output: a chunk's message in frames of about that size, made while it
 * is sent. The frames as a raw server reads them, the message as `ws` and websocket-driver (two
 * independent implementations) read it, and records sent against received across server restarts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { decodeMulti } from '@msgpack/msgpack';
import { Opcode } from '../../src/websocket/frame.js';
import { waitFor } from '../helpers/wait.js';
import { collectClientFrames, startRawServer, switchingProtocols, type ClientFrame, type RawPeer } from '../websocket/peers.js';
import { DriverServer, endScenario, startCountingServer, startTestAgent, TcpFeeder, waitForAll, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

const RECORD = '{"key 1":123456789,"key 2":"abcdefg"}';
const JSON_RECORD = '{"date":1700000000.123457,"key 1":123456789,"key 2":"abcdefg"}';
const MSGPACK_EVENT_HEX = '9292d7006553f100075bcd158082a56b65792031ce075bcd15a56b65792032a761626364656667';

let raw: RawPeer | undefined;
let agent: RunningTestAgent | undefined;
let server: CountingServer | undefined;
let driver: DriverServer | undefined;
let feeder: TcpFeeder | undefined;
afterEach(async () => {
  await endScenario(feeder, agent, server, driver, raw);
  [feeder, agent, server, driver, raw] = [undefined, undefined, undefined, undefined, undefined];
});

/** The data frames of one chunk of `copies` dummy records, as a raw server reads them (no delivery ping). */
async function framesOfOneChunk(copies: number, outputExtra: string[]): Promise<ClientFrame[]> {
  let collected: ReturnType<typeof collectClientFrames> | undefined;
  raw = await startRawServer((socket, key) => {
    socket.write(Buffer.from(switchingProtocols(key), 'latin1'));
    collected = collectClientFrames(socket);
  });
  agent = await startTestAgent([
    '-i', 'dummy', '-p', `dummy=${RECORD}`, '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789',
    '-p', 'fixed_timestamp=on', '-p', 'samples=1', '-p', `copies=${copies}`,
    '-o', `websocket://127.0.0.1:${raw.port}/`, '-p', 'confirm_delivery=off', ...outputExtra, '-f', '0.2',
  ]);
  const data = (): ClientFrame[] => (collected?.frames ?? []).filter((frame) => frame.opcode < 0x8);
  await agent.waitFor(() => data().some((frame) => frame.fin), 'the last frame of the message');
  return data();
}

const shape = (frames: readonly ClientFrame[]): string => frames.map((frame) => `${frame.opcode}${frame.fin ? 'F' : '-'}`).join(' ');

describe('fragment_size', () => {
  it('json_lines: a Text frame, then Continuation frames of about the size, cut between records; joined, the one-frame payload', async () => {
    const frames = await framesOfOneChunk(200, ['-p', 'format=json_lines', '-p', 'fragment_size=1024']);
    const line = `${JSON_RECORD}\n`;
    // Each piece ends at the first record that takes it to 1024 bytes: 17 lines of 63 bytes.
    const perPiece = Math.ceil(1024 / line.length);
    const pieces = Math.ceil(200 / perPiece);
    assert.equal(shape(frames), [`${Opcode.Text}-`, ...Array.from({ length: pieces - 2 }, () => `${Opcode.Continuation}-`), `${Opcode.Continuation}F`].join(' '));
    assert.ok(frames.every((frame) => frame.masked && !frame.rsv1));
    assert.deepEqual(frames.slice(0, -1).map((frame) => frame.payload.toString('latin1')), Array.from({ length: pieces - 1 }, () => line.repeat(perPiece)));
    assert.equal(Buffer.concat(frames.map((frame) => frame.payload)).toString('latin1'), line.repeat(200));
  });

  it('0: the chunk in one frame, as Fluent Bit sends it; a message within the size goes in one frame too', async () => {
    const one = await framesOfOneChunk(200, ['-p', 'format=json', '-p', 'fragment_size=0']);
    assert.equal(shape(one), `${Opcode.Text}F`);
    assert.equal(one[0]?.payload.toString('latin1'), `[${Array.from({ length: 200 }, () => JSON_RECORD).join(',')}]`);
    await endScenario(agent, raw);
    [agent, raw] = [undefined, undefined];
    const small = await framesOfOneChunk(3, ['-p', 'format=json']);
    assert.equal(shape(small), `${Opcode.Text}F`, 'the default 256K holds three records');
  });

  it('json: the array is split between its records, brackets and commas where one frame has them', async () => {
    const frames = await framesOfOneChunk(50, ['-p', 'format=json', '-p', 'fragment_size=200']);
    assert.ok(frames.length > 10);
    assert.equal(Buffer.concat(frames.map((frame) => frame.payload)).toString('latin1'), `[${Array.from({ length: 50 }, () => JSON_RECORD).join(',')}]`);
  });

  it('msgpack: Binary then Continuation frames of exactly the size, the chunk\'s bytes', async () => {
    const frames = await framesOfOneChunk(100, ['-p', 'format=msgpack', '-p', 'fragment_size=1024']);
    const chunk = Buffer.from(MSGPACK_EVENT_HEX.repeat(100), 'hex');
    assert.equal(frames[0]?.opcode, Opcode.Binary);
    assert.deepEqual(frames.map((frame) => frame.payload.length), [...Array.from({ length: Math.floor(chunk.length / 1024) }, () => 1024), chunk.length % 1024]);
    assert.deepEqual(Buffer.concat(frames.map((frame) => frame.payload)), chunk);
    assert.equal(decodeMulti(Buffer.concat(frames.map((frame) => frame.payload))).next().done, false);
  });

  it('`ws`: every message whole while the server restarts twice under 300 records/s, 0 lost', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-p', 'fragment_size=512', '-f', '0.25',
    ]);
    feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.restart(100);
    await waitFor(() => peer.records > 500, 'records flowing again');
    await peer.restart(100);
    await feeder.done;
    await waitForAll(t, 'fragments, restart twice', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(peer.handshakes >= 3);
  });

  it('websocket-driver: the same with a second implementation, which finds no protocol error', async (t) => {
    driver = new DriverServer();
    await driver.start();
    const peer = driver;
    agent = await startTestAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-p', 'fragment_size=300', '-f', '0.25',
    ]);
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.stop();
    await peer.start();
    await feeder.done;
    try {
      await waitFor(() => peer.lost(feeder?.sent ?? 0) === 0, 'every record at the server', 20_000, 50);
    } finally {
      t.diagnostic(`websocket-driver with fragments: sent ${feeder.sent}, received ${peer.records}, lost ${peer.lost(feeder.sent)}, handshakes ${peer.handshakes}`);
    }
    assert.equal(peer.lost(feeder.sent), 0);
    assert.deepEqual(peer.errors, []);
  });
});
