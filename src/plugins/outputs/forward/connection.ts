/**
 * One connection of the forward output to one server: TCP or TLS, the shared-key handshake when a
 * key is set, then messages, each confirmed by the server's ack when `require_ack_response` is on.
 * The socket is read all the time, so an EOF or a reset is noticed between flushes and the
 * connection is dropped from the pool rather than written into.
 */
import net from 'node:net';
import { findEntry, mapEntries, readStr } from '../../../codec/msgpack-map.js';
import { WsbitError, errorMessage } from '../../../base/errors.js';
import { FrameScanner } from '../../../forward/frame-scanner.js';
import { buildPing, checkPong, readHelo, type ClientHandshakeConfig } from '../../../forward/handshake.js';
import type { ProxyServer } from '../../../base/proxy.js';
import { ProxyError, connectThroughProxy, tlsThroughTunnel } from '../../../base/proxy-tunnel.js';
import { tlsModule } from '../../../base/openssl.js';
import { tlsConnectOptions, type TlsSettings } from '../../../base/tls.js';

/** Server messages are small (HELO, PONG, acks); anything bigger is not a forward server. */
const MAX_SERVER_MESSAGE_BYTES = 64 * 1024;
const KEY_ACK = Buffer.from('ack');

export interface ForwardConnectionOptions {
  host: string;
  port: number;
  /** unix_path: a Unix socket instead of host and port (plain, as Fluent Bit connects to it). */
  unixPath: string | null;
  tls: TlsSettings | null;
  /** Through this proxy's CONNECT tunnel (TLS inside it), or direct when null. */
  proxy: ProxyServer | null;
  sourceAddress: string | null;
  connectTimeoutMs: number;
  /** Handshake (HELO to PONG) and ack waits. */
  responseTimeoutMs: number;
  handshake: ClientHandshakeConfig | null;
}

type Waiter = { accept: (frame: Buffer) => boolean; resolve: (frame: Buffer) => void; reject: (error: Error) => void };

export class ForwardConnection {
  private socket: net.Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly scanner = new FrameScanner();
  private readonly frames: Buffer[] = [];
  private waiter: Waiter | null = null;
  private failure: Error | null = null;
  /** Messages sent on this connection (for `net.keepalive_max_recycle`). */
  sent = 0;
  lastUsedMs = 0;

  constructor(private readonly options: ForwardConnectionOptions) {}

  get alive(): boolean {
    return this.socket !== null && this.failure === null && !this.socket.destroyed;
  }

  /** Connects and, with a shared key, runs the handshake. Rejects with a typed error. */
  async open(): Promise<void> {
    const { host, port, connectTimeoutMs } = this.options;
    const base = { host, port, ...(this.options.sourceAddress !== null ? { localAddress: this.options.sourceAddress } : {}) };
    const { unixPath } = this.options;
    const secure = unixPath === null && this.options.tls !== null;
    const socket = unixPath !== null ? net.connect({ path: unixPath }) : this.dial(base);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    // A proxy's refusal keeps its own code and message, which name the proxy rather than the server.
    socket.on('error', (error) => this.fail(error instanceof ProxyError ? error : new WsbitError('WSBIT_FORWARD_CONNECTION', errorMessage(error), { cause: error })));
    socket.on('close', () => this.fail(new WsbitError('WSBIT_FORWARD_CONNECTION', 'connection closed by the server')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new WsbitError('WSBIT_FORWARD_CONNECT_TIMEOUT', `connect timed out after ${connectTimeoutMs} ms`));
        this.destroy();
      }, connectTimeoutMs);
      const ready = secure ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(this.failure ?? new WsbitError('WSBIT_FORWARD_CONNECTION', 'connection closed'));
      });
    });
    const handshake = this.options.handshake;
    if (handshake === null) return;
    try {
      const helo = readHelo(await this.waitFor(() => true, 'HELO'));
      if (helo === null) throw new WsbitError('WSBIT_FORWARD_HANDSHAKE', 'expected HELO from the server (is shared_key set on it?)');
      const { ping, salt } = buildPing(handshake, helo);
      socket.write(ping);
      const pong = checkPong(await this.waitFor(() => true, 'PONG'), handshake, helo, salt);
      if (!pong.ok) throw new WsbitError('WSBIT_FORWARD_HANDSHAKE', pong.reason);
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
  }

  private dial(base: { host: string; port: number; localAddress?: string }): net.Socket {
    const { proxy, tls: tlsSettings, connectTimeoutMs } = this.options;
    if (proxy === null) return tlsSettings === null ? net.connect(base) : tlsModule().connect({ ...base, ...tlsConnectOptions(tlsSettings, base.host) });
    const tunnel = connectThroughProxy(proxy, base, { timeoutMs: connectTimeoutMs, ...(base.localAddress !== undefined ? { localAddress: base.localAddress } : {}) });
    if (tlsSettings === null) return tunnel;
    return tlsThroughTunnel(tlsModule().connect, tunnel, { host: base.host, ...tlsConnectOptions(tlsSettings, base.host) });
  }

  /**
   * Writes one message. With `ackId`, resolves when `{"ack": ackId}` arrives; without, when the
   * kernel has taken the bytes (Fluent Bit's meaning of delivered without acks).
   */
  async send(message: Buffer, ackId: string | null): Promise<void> {
    const socket = this.socket;
    if (socket === null || !this.alive) throw this.failure ?? new WsbitError('WSBIT_FORWARD_CONNECTION', 'not connected');
    this.sent++;
    const acked =
      ackId === null
        ? null
        : this.waitFor((frame) => {
            const entries = mapEntries(frame, 0, frame.length);
            const ack = entries === null ? undefined : findEntry(frame, entries, KEY_ACK);
            if (ack === undefined) throw new WsbitError('WSBIT_FORWARD_BAD_ACK', 'the server sent something other than an ack');
            const value = readStr(frame, ack.valueStart, ack.end);
            // An ack for another chunk is stale (from a message given up on); keep waiting.
            return value === ackId;
          }, `ack for chunk ${ackId}`);
    await new Promise<void>((resolve, reject) => {
      socket.write(message, (error) => (error ? reject(new WsbitError('WSBIT_FORWARD_CONNECTION', errorMessage(error), { cause: error })) : resolve()));
    });
    if (acked !== null) await acked;
  }

  destroy(): void {
    this.fail(new WsbitError('WSBIT_FORWARD_CONNECTION', 'connection closed by wsbit'));
  }

  /** Resolves with the first frame `accept` takes; rejects when the connection fails or `what` is late. */
  private waitFor(accept: (frame: Buffer) => boolean, what: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = this.options.responseTimeoutMs;
      const timer = setTimeout(() => {
        const error = new WsbitError('WSBIT_FORWARD_TIMEOUT', `no ${what} within ${timeoutMs} ms`);
        this.fail(error);
      }, timeoutMs);
      this.waiter = {
        accept,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (this.failure !== null) return this.failWaiter(this.failure);
      this.drainFrames();
    });
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    try {
      for (;;) {
        const length = this.scanner.scan(this.buffer, 0, this.buffer.length);
        if (length < 0) break;
        this.frames.push(this.buffer.subarray(0, length));
        this.buffer = this.buffer.subarray(length);
        this.scanner.reset();
      }
    } catch (error) {
      return this.fail(new WsbitError('WSBIT_FORWARD_BAD_RESPONSE', `the server sent bytes that are not msgpack: ${errorMessage(error)}`));
    }
    if (this.buffer.length > MAX_SERVER_MESSAGE_BYTES) {
      return this.fail(new WsbitError('WSBIT_FORWARD_BAD_RESPONSE', `the server sent a message over ${MAX_SERVER_MESSAGE_BYTES} bytes`));
    }
    this.drainFrames();
  }

  private drainFrames(): void {
    // A HELO nobody asked for: the server wants the shared-key handshake, and will drop what we send.
    if (this.options.handshake === null && this.frames.some((frame) => readHelo(frame) !== null)) {
      return this.fail(new WsbitError('WSBIT_FORWARD_HANDSHAKE', 'the server requires the shared_key handshake (it sent HELO); set shared_key'));
    }
    while (this.waiter !== null && this.frames.length > 0) {
      const frame = this.frames.shift() as Buffer;
      const waiter = this.waiter;
      let done: boolean;
      try {
        done = waiter.accept(frame);
      } catch (error) {
        return this.fail(error as Error);
      }
      if (done) {
        this.waiter = null;
        waiter.resolve(frame);
      }
    }
    // Acks nobody waits for (e.g. after a timeout) are dropped; more than a few means a confused server.
    if (this.waiter === null && this.frames.length > 16) this.frames.splice(0, this.frames.length - 16);
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    this.socket?.destroy();
    this.failWaiter(this.failure);
  }

  private failWaiter(error: Error): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }
}
