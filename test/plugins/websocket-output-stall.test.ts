/**
 * A connection that delivers nothing for confirm_timeout while data waits is dropped and logged (issue
 * 21, point 5), even when the server keeps it busy with control frames below control_frame_limit: a
 * `ws` server that pings us ~40 times a second and answers each of our pings with a pong of its own
 * payload, or one that pings ~70 times a second and never answers. Such frames prove nothing about our
 * data, so only a pong to our own ping counts as progress. After two such connections the server
 * behaves, and every record reaches it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeRecords, startTestAgent, TcpFeeder, type RunningTestAgent } from './websocket-output-support.js';

type Mode = 'wrong-pongs' | 'ping-flood';

/** The hostile server for its first `hostileConnections` connections, a correct one after. */
class BusyServer {
  readonly wss: WebSocketServer;
  connections = 0;
  hostileClosed = 0;
  controlFramesSent = 0;
  /** Distinct seqs received on the good connections, and how many arrived there in all. */
  readonly seqs = new Set<number>();
  goodRecords = 0;

  constructor(
    private readonly mode: Mode,
    private readonly hostileConnections: number,
  ) {
    // autoPong off: this server decides which pings get which pong.
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  async listening(): Promise<void> {
    if (this.wss.address() === null) await new Promise<void>((resolve) => this.wss.once('listening', () => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    this.connections++;
    if (this.connections > this.hostileConnections) {
      ws.on('ping', (data: Buffer) => ws.pong(data));
      ws.on('message', (data: Buffer) => {
        for (const record of decodeRecords('json_lines', data)) {
          this.goodRecords++;
          this.seqs.add(record['seq'] as number);
        }
      });
      return;
    }
    const everyMs = this.mode === 'wrong-pongs' ? 25 : 14;
    const timer = setInterval(() => {
      ws.ping(randomBytes(8));
      this.controlFramesSent++;
    }, everyMs);
    if (this.mode === 'wrong-pongs') {
      ws.on('ping', () => {
        ws.pong(randomBytes(8));
        this.controlFramesSent++;
      });
    }
    ws.on('close', () => {
      clearInterval(timer);
      this.hostileClosed++;
    });
  }

  close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

const confirmTimeoutSeconds = 2;

describe('a server that keeps the connection busy with control frames but confirms nothing', () => {
  for (const mode of ['wrong-pongs', 'ping-flood'] as const) {
    it(`${mode}: each such connection is dropped after confirm_timeout with a warning, and every record reaches the good server`, async (t) => {
      const peer = new BusyServer(mode, 2);
      let running: RunningTestAgent | undefined;
      let feeding: TcpFeeder | undefined;
      // One hook, so the agent stops before its server goes and the feeder before the agent.
      t.after(async () => {
        await feeding?.close();
        await running?.stop();
        await peer.close();
      });
      await peer.listening();
      running = await startTestAgent([
        '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
        '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-p', `confirm_timeout=${confirmTimeoutSeconds}s`, '-f', '0.2',
      ]);
      const agent = running;
      const feeder = new TcpFeeder(agent.tcpPort(), { count: 300, perSecond: 50, padBytes: 10 });
      feeding = feeder;
      // Within the keepalive ping_timeout (10 s), so only the delivery watchdog can have dropped them.
      await agent.waitFor(() => peer.hostileClosed >= 2, 'both busy connections dropped', 9_000);
      await feeder.done;
      await agent.waitFor(() => peer.seqs.size >= feeder.sent, `all ${feeder.sent} records at the good server`, 30_000);
      const drops = agent.lines.filter((line) => /\[ warn\] \[output:websocket:websocket\.0\] /.test(line) && /delivered nothing/.test(line));
      t.diagnostic(`${mode}: sent ${feeder.sent}, received ${peer.seqs.size} distinct (${peer.goodRecords} in all) on connection 3 of ${peer.connections}, ${peer.controlFramesSent} control frames from the busy server\n${drops.join('').trimEnd()}`);
      assert.equal(peer.seqs.size, feeder.sent, 'records sent = received');
      assert.deepEqual([...peer.seqs].sort((a, b) => a - b), Array.from({ length: feeder.sent }, (_, i) => i + 1));
      // Both servers ping us throughout; the warning counts those pings, which kept nothing alive.
      assert.ok(Number(/the server sent (\d+) pings? /.exec(drops[0] ?? '')?.[1]) > 0, drops[0]);
      assert.equal(drops.length, 2, `one warning per dropped connection:\n${agent.logs()}`);
      assert.match(
        drops[0] ?? '',
        new RegExp(`connection to ws://127\\.0\\.0\\.1:\\d+/ delivered nothing for \\d+ ms while \\d+ chunks? waited \\(the server sent \\d+ pings? and \\d+ pongs? that answered none of ours meanwhile\\); dropping it: no pong from 127\\.0\\.0\\.1:\\d+ within ${confirmTimeoutSeconds * 1000} ms`),
      );
    });
  }
});
