/**
 * The connected clients of `websocket_server` and what each one is sent: per-client tag filters, the
 * replay of recent messages to newcomers, slow-client protection and the ping that finds dead peers.
 *
 * A broadcast never waits for a client. Messages are queued on each socket at once; a client whose
 * queue passes `max_client_buffer` is closed (1013, "try again later"), so one slow reader costs at
 * most its own buffer and never delays the others or the engine.
 *
 * Frames are built once per flush and written to each client's socket in one write. `ws.send` would
 * frame every message again for every client (a million calls a second for 100 clients at 10,000
 * records/s); one buffer per flush makes the cost per client one write. This shares the socket with ws,
 * which is safe because: ws keeps handling the handshake, pings, pongs and close; with permessage-deflate
 * off it writes each of its frames synchronously and whole, so frames never interleave mid-frame; we
 * write only while ws says OPEN, so nothing follows its close frame; and `ws.bufferedAmount` reads the
 * socket's queue, so it counts our bytes too.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../../../base/clock.js';
import { frameHeaderLength } from '../../../websocket/frame.js';
import { wildcardMatches } from '../../../pipeline/router.js';
import type { Telemetry } from '../../../base/telemetry.js';

/** RFC 6455 7.4.1 and the IANA registry: 1001 going away, 1013 try again later. */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface BroadcasterOptions {
  /** msgpack messages go out as binary frames, JSON as text frames. */
  binary: boolean;
  /** Unsent bytes a client may have queued before it is closed; 0 = no limit. */
  maxClientBufferBytes: number;
  /** How many of the newest messages a new client is sent first; 0 = none. */
  replayMessages: number;
  /** How long a closed slow client gets to read its backlog and the close frame before it is cut off. */
  slowCloseGraceMs: number;
  clock: Clock;
  telemetry: Telemetry;
}

export interface ClientOptions {
  /** `address:port`, for log lines. */
  remote: string;
  /** `?match=` tag patterns (Match rules); empty means every tag. */
  patterns: readonly string[];
}

interface Client {
  readonly ws: WebSocket;
  /** The upgraded socket, shared with ws: batches of whole frames are written to it directly. */
  readonly socket: Duplex;
  readonly remote: string;
  readonly patterns: readonly string[];
  /** Cleared when a ping is sent, set again by the pong. */
  alive: boolean;
  closeTimer: TimerHandle | null;
}

/** The newest `capacity` messages with their tags, oldest first; copies, so no flush buffer is pinned. */
class ReplayRing {
  private readonly entries: Array<{ tag: string; data: Buffer } | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.entries = new Array<{ tag: string; data: Buffer } | undefined>(capacity);
  }

  push(tag: string, messages: readonly Buffer[]): void {
    if (this.capacity === 0) return;
    for (let i = Math.max(0, messages.length - this.capacity); i < messages.length; i++) {
      this.entries[this.next] = { tag, data: Buffer.from(messages[i]!) };
      this.next = (this.next + 1) % this.capacity;
      this.count = Math.min(this.count + 1, this.capacity);
    }
  }

  /** Messages whose tag passes `keep`, oldest first. */
  select(keep: (tag: string) => boolean): Buffer[] {
    const out: Buffer[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const entry = this.entries[(first + i) % this.capacity];
      if (entry !== undefined && keep(entry.tag)) out.push(entry.data);
    }
    return out;
  }
}

export class Broadcaster {
  private readonly clients = new Set<Client>();
  /** Clients closed by us (slow or dead) whose sockets have not gone yet; stop() cuts them off. */
  private readonly leaving = new Set<Client>();
  private readonly replay: ReplayRing;
  private readonly opcode: number;

  constructor(private readonly options: BroadcasterOptions) {
    this.replay = new ReplayRing(Math.max(0, options.replayMessages));
    // RFC 6455 5.2: FIN set, no RSV bits, opcode 0x1 text or 0x2 binary.
    this.opcode = options.binary ? 0x82 : 0x81;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether a chunk of this tag has anywhere to go: a client that takes it, or the replay. */
  wants(tag: string): boolean {
    if (this.replay.capacity > 0) return true;
    for (const client of this.clients) if (matches(client, tag)) return true;
    return false;
  }

  /** Takes over an upgraded connection: sends it the replay, then every broadcast it matches. */
  add(ws: WebSocket, socket: Duplex, options: ClientOptions): void {
    const client: Client = { ws, socket, remote: options.remote, patterns: options.patterns, alive: true, closeTimer: null };
    const { telemetry } = this.options;
    this.clients.add(client);
    telemetry.gauge('wsbit_output_connected', this.clients.size);
    const filter = client.patterns.length > 0 ? ` with match ${client.patterns.join(',')}` : '';
    telemetry.event('info', `client ${client.remote} connected${filter} (${this.describeCount()})`, 'wsbit_output_connections_total');

    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (error) => telemetry.logger.debug(`client ${client.remote}: ${error.message}`));
    ws.on('close', (code) => {
      client.closeTimer?.cancel();
      this.leaving.delete(client);
      if (this.clients.delete(client)) telemetry.gauge('wsbit_output_connected', this.clients.size);
      telemetry.event('info', `client ${client.remote} disconnected (code ${code}; ${this.describeCount()})`, 'wsbit_output_disconnects_total');
    });

    const backlog = this.replay.select((tag) => matches(client, tag));
    if (backlog.length > 0) this.send(client, this.frames(backlog));
  }

  /**
   * Queues `messages` (all of one chunk, so of one tag) on every client whose filter takes the tag;
   * returns how many clients that was. Also keeps them for the replay.
   */
  broadcast(tag: string, messages: readonly Buffer[]): number {
    let reached = 0;
    let batch: Buffer | null = null;
    for (const client of this.clients) {
      if (!matches(client, tag)) continue;
      batch ??= this.frames(messages);
      if (this.send(client, batch)) reached++;
    }
    if (reached > 0) this.options.telemetry.count('wsbit_output_frames_total', reached * messages.length);
    this.replay.push(tag, messages);
    return reached;
  }

  /** One ping round: a client that did not answer the previous ping is cut off. */
  heartbeat(intervalSeconds: number): void {
    for (const client of [...this.clients]) {
      if (!client.alive) {
        this.options.telemetry.logger.info(`client ${client.remote} did not answer a ping within ${intervalSeconds}s; dropping it`);
        this.forget(client);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** Closes every client with `code`; those that do not finish the close handshake in `timeoutMs` are cut off. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    const closing = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once('close', () => resolve());
          client.ws.close(code, reason);
        }),
    );
    let cancelTimeout = (): void => undefined;
    const timedOut = new Promise<void>((resolve) => {
      const timer = this.options.clock.setTimeout(resolve, timeoutMs);
      cancelTimeout = () => timer.cancel();
    });
    await Promise.race([Promise.all(closing), timedOut]);
    cancelTimeout();
    for (const client of [...this.clients, ...this.leaving]) client.ws.terminate();
    this.clients.clear();
    this.leaving.clear();
    this.options.telemetry.gauge('wsbit_output_connected', 0);
  }

  /** Every message as an unmasked, unfragmented data frame (a server's, RFC 6455 5.1), in one buffer. */
  private frames(messages: readonly Buffer[]): Buffer {
    let total = 0;
    for (const message of messages) total += frameHeaderLength(message.length, false) + message.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const message of messages) {
      const length = message.length;
      out[at] = this.opcode;
      // 5.2: a 7-bit length, or 126 and 16 bits, or 127 and 64 bits, always the shortest that fits.
      if (length < 126) {
        out[at + 1] = length;
        at += 2;
      } else if (length <= 0xffff) {
        out[at + 1] = 126;
        out.writeUInt16BE(length, at + 2);
        at += 4;
      } else {
        out[at + 1] = 127;
        out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
        out.writeUInt32BE(length >>> 0, at + 6);
        at += 10;
      }
      message.copy(out, at);
      at += length;
    }
    return out;
  }

  /** Queues a batch of frames on one client; false when it is closing or was closed for falling behind. */
  private send(client: Client, batch: Buffer): boolean {
    // Once ws has left OPEN it may have written its close frame: nothing may follow it.
    if (client.ws.readyState !== client.ws.OPEN || !client.socket.writable) return false;
    client.socket.write(batch);
    const limit = this.options.maxClientBufferBytes;
    if (limit > 0 && client.ws.bufferedAmount > limit) {
      this.dropSlow(client);
      return false;
    }
    return true;
  }

  private dropSlow(client: Client): void {
    const { telemetry, slowCloseGraceMs } = this.options;
    const unsent = client.ws.bufferedAmount;
    this.forget(client);
    telemetry.event(
      'warn',
      `client ${client.remote} fell behind (${unsent} bytes unsent, max_client_buffer ${this.options.maxClientBufferBytes}); closing it with 1013`,
      'wsbit_output_broadcast_slow_clients_total',
    );
    // The close frame waits behind the backlog: a client that is merely slow still reads 1013, one
    // that has stopped reading is cut off after the grace period, which frees its buffer.
    client.ws.close(CLOSE_TRY_AGAIN_LATER, 'client too slow');
    client.closeTimer = this.options.clock.setTimeout(() => client.ws.terminate(), slowCloseGraceMs);
  }

  /** Stops sending to a client we are closing; its 'close' event comes later. */
  private forget(client: Client): void {
    this.clients.delete(client);
    this.leaving.add(client);
    this.options.telemetry.gauge('wsbit_output_connected', this.clients.size);
  }

  private describeCount(): string {
    return `${this.clients.size} client${this.clients.size === 1 ? '' : 's'}`;
  }
}

function matches(client: Client, tag: string): boolean {
  if (client.patterns.length === 0) return true;
  for (const pattern of client.patterns) if (wildcardMatches(pattern, tag)) return true;
  return false;
}
