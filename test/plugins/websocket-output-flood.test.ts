/**
 * A server that completes the handshake, never reads, floods 125-byte pings and answers with pongs whose
 * payloads are the counters 1, 2, 3 … (issue 12, item 1), against a real bin/wsbit process: its peak RSS
 * (VmHWM in /proc/PID/status) stays bounded, SIGTERM ends it within Grace, and once the server behaves
 * the records all arrive. WSBIT_FLOOD_SECONDS sets the flood's length, for measuring (default 6).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { collectClientFrames, startRawServer, switchingProtocols, type RawPeer } from '../websocket/peers.js';
import { decodeRecords } from './websocket-output-support.js';

const floodSeconds = Number(process.env['WSBIT_FLOOD_SECONDS'] ?? 6);
const graceSeconds = 2;
const rssLimitBytes = 200 * 1024 * 1024;

let dir = '';
let graceConf = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsbit-flood-'));
  graceConf = join(dir, 'grace.conf');
  writeFileSync(graceConf, `[SERVICE]\n    Grace ${graceSeconds}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

let agent: RunningAgent | undefined;
let peer: RawPeer | undefined;
afterEach(async () => {
  await agent?.stop('SIGKILL');
  await peer?.close();
  agent = undefined;
  peer = undefined;
});

const serverFrame = (byte0: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([byte0, payload.length]), payload]);

/** The hostile server while `hostile` holds, then a correct one that keeps the records of its data frames. */
class FloodingServer {
  hostile = true;
  hostileConnections = 0;
  framesFlooded = 0;
  readonly seqs = new Set<number>();
  private counter = 0;

  async start(): Promise<RawPeer> {
    return startRawServer((socket, key) => {
      socket.write(Buffer.from(switchingProtocols(key), 'latin1'));
      if (this.hostile) this.flood(socket);
      else this.serve(socket);
    });
  }

  private flood(socket: Socket): void {
    this.hostileConnections++;
    socket.pause();
    const ping = serverFrame(0x89, Buffer.alloc(125, 0x70));
    const burst = (): void => {
      while (!socket.destroyed && socket.writable) {
        const frames: Buffer[] = [];
        for (let i = 0; i < 100; i++) {
          const pong = Buffer.alloc(8);
          pong.writeBigUInt64BE(BigInt(++this.counter));
          frames.push(ping, serverFrame(0x8a, pong));
        }
        this.framesFlooded += frames.length;
        // Paced by the client's reading: the test process itself stays small.
        if (!socket.write(Buffer.concat(frames))) {
          socket.once('drain', burst);
          return;
        }
      }
    };
    burst();
  }

  private serve(socket: Socket): void {
    const log = collectClientFrames(socket);
    void (async () => {
      for (;;) {
        const frame = await log.next();
        if (frame.opcode === 0x9) socket.write(serverFrame(0x8a, frame.payload));
        if (frame.opcode === 0x1) for (const record of decodeRecords('json_lines', frame.payload)) this.seqs.add(record['seq'] as number);
        if (frame.opcode === 0x8) {
          socket.end(serverFrame(0x88, frame.payload.subarray(0, 2)));
          return;
        }
      }
    })();
  }
}

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  assert.ok(kib !== undefined, 'VmHWM in /proc/PID/status');
  return Number(kib) * 1024;
}

async function tcpPortOf(running: RunningAgent): Promise<number> {
  await running.waitForOutput(/listening on 127\.0\.0\.1:\d+/, 'the tcp input');
  return Number(/listening on 127\.0\.0\.1:(\d+)/.exec(running.stderr())?.[1]);
}

function write(port: number, from: number, to: number): Promise<void> {
  const text = Array.from({ length: to - from + 1 }, (_, i) => `{"seq":${from + i}}\n`).join('');
  return new Promise((resolve) => netConnect({ host: '127.0.0.1', port }).end(text, () => resolve()));
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe('a server that floods pings and guesses pongs, and never reads', () => {
  it('is cut off at control_frame_limit with one warning; memory stays bounded; the records reach the server once it behaves', async (t) => {
    const server = new FloodingServer();
    peer = await server.start();
    agent = spawnAgent(['-c', graceConf, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-f', '0.2']);
    const running = agent;
    const port = await tcpPortOf(running);
    await write(port, 1, 100);
    await waitFor(() => server.hostileConnections >= 1, 'the first flooded connection', 10_000);
    await sleep(floodSeconds * 1000);
    await write(port, 101, 200);
    await sleep(500);
    const peakBytes = peakRssBytes(running.child.pid as number);
    server.hostile = false;
    await waitFor(() => server.seqs.size === 200, `all 200 records at the good server\n${running.stderr()}`, 30_000);
    const floodWarnings = running.stderr().split('\n').filter((line) => line.includes('pings or unsolicited pongs within one second'));
    t.diagnostic(`flood ${floodSeconds} s: ${server.hostileConnections} flooded connections, ${server.framesFlooded} frames flooded, peak RSS ${mb(peakBytes)}, ${floodWarnings.length} flood warning(s)`);
    assert.ok(peakBytes < rssLimitBytes, `peak RSS ${mb(peakBytes)}`);
    assert.equal(floodWarnings.length, 1, `one clear warning:\n${floodWarnings.join('\n')}`);
    assert.match(
      floodWarnings[0] ?? '',
      /\[ warn\] \[output:websocket:websocket\.0\] connection to ws:\/\/127\.0\.0\.1:\d+\/ (down|failed right after the handshake): 127\.0\.0\.1:\d+ sent more than 100 pings or unsolicited pongs within one second; dropping the connection/,
    );
    assert.deepEqual([...server.seqs].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.equal(await running.stop('SIGTERM'), 0);
  });

  it('with no rate limit: pongs are coalesced, RSS stays bounded, and SIGTERM during the flood exits within Grace', async (t) => {
    const server = new FloodingServer();
    peer = await server.start();
    agent = spawnAgent([
      '-c', graceConf, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-p', 'control_frame_limit=0', '-f', '0.2',
    ]);
    const running = agent;
    const port = await tcpPortOf(running);
    await write(port, 1, 100);
    await waitFor(() => server.hostileConnections >= 1, 'the flooded connection', 10_000);
    const floodedBefore = server.framesFlooded;
    await sleep(floodSeconds * 1000);
    const peakBytes = peakRssBytes(running.child.pid as number);
    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const code = await running.waitForExit(30_000);
    const exitMs = Date.now() - signalledAt;
    // Past confirm_timeout (30 s) the unconfirmed chunk drops the connection and the next one is flooded too.
    t.diagnostic(`flood ${floodSeconds} s: ${server.hostileConnections} flooded connection(s), ${server.framesFlooded - floodedBefore} frames read by wsbit, peak RSS ${mb(peakBytes)}, exit ${exitMs} ms after SIGTERM (Grace ${graceSeconds} s)`);
    assert.ok(server.framesFlooded - floodedBefore > 10_000, 'wsbit kept reading the flood');
    assert.ok(peakBytes < rssLimitBytes, `peak RSS ${mb(peakBytes)}`);
    assert.equal(code, 0);
    // Grace, plus the process's own stop, with room for a loaded machine.
    assert.ok(exitMs < (graceSeconds + 3) * 1000, `exited ${exitMs} ms after SIGTERM`);
    assert.match(running.stderr(), /\[error\] \[engine\] 100 records \(\d+ chunks?\) were not delivered within Grace=\d+s and are lost: output websocket\.0 /);
  });
});
