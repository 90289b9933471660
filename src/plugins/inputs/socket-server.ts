import fs from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import { boundPort, hostPort, listenOn, type ListenAddress } from '../../base/listen.js';
import { tlsModule } from '../../base/openssl.js';
import type { InputContext, InputInstance, ListenerHandle } from '../../pipeline/contracts.js';
import { Adoption } from './adoption.js';
import { countTlsFailures } from '../tls-server.js';
import { Connections } from './connections.js';

/** What reads one connection for a pipeline. */
export interface ConnectionReader {
  /**
   * Hot reload: removes every listener it put on the socket and returns the bytes read that no record
   * holds yet (a partial line or frame), for the next pipeline to parse first; null when the connection
   * is in a state that cannot pass (a handshake under way), and is drained instead.
   */
  detach(): Buffer | null;
}

/** `adopted`: the connection comes from the previous pipeline, past any handshake. */
export type ConnectionHandler = (socket: net.Socket, adopted: boolean) => ConnectionReader;

/** How long a draining connection may stay silent before its peer counts as done sending. */
const DRAIN_QUIET_MS = 300;

/** Counts the records an input emits, so that a drain can say how many it saved. */
export class EmitCounter<Context extends Pick<InputContext<unknown>, 'emit'>> {
  records = 0;
  readonly context: Context;

  constructor(context: Context) {
    this.context = {
      ...context,
      // The engine's answer (stored in a chunk file or not) decides whether an input may acknowledge.
      emit: (events: Buffer, records: number, tag?: string): boolean => {
        this.records += records;
        return context.emit(events, records, tag);
      },
    };
  }
}

/** A socket input's listener between pipelines: sockets accepted meanwhile wait, paused. */
class SocketListener implements ListenerHandle {
  readonly waiting: Array<{ socket: net.Socket; carried: Buffer }> = [];
  readonly park = (socket: net.Socket): void => {
    socket.pause();
    socket.on('error', () => undefined);
    this.waiting.push({ socket, carried: Buffer.alloc(0) });
  };

  constructor(
    readonly server: net.Server,
    readonly address: string,
  ) {}

  get connections(): number {
    return this.waiting.length;
  }
}

/**
 * The server of a socket input (tcp, forward): listens on TCP or a Unix socket, hands each connection
 * to `handleConnection`, pauses and resumes reading from all of them with the input. At stop it stops
 * accepting and drains its connections (reads until each peer has been quiet for a moment, or Grace
 * runs out) before it closes them; on a hot reload that keeps it, it hands the listener and its
 * connections to the next pipeline instead.
 */
export class SocketInputServer implements InputInstance {
  private readonly connections = new Connections();
  /** Weak: a closed connection's reader goes with it, without one more close listener per reload. */
  private readonly readers = new WeakMap<net.Socket, ConnectionReader>();
  private server: net.Server | null = null;
  private readonly adoption = new Adoption(SocketListener);
  private readonly accept = (socket: net.Socket): void => this.attach(socket, Buffer.alloc(0), false);
  /** A TLS server hands over its connections once their handshake is done. */
  private readonly acceptEvent: 'connection' | 'secureConnection';

  /** `unixPerm`: the mode given to a Unix socket once it listens (null leaves the umask's). */
  constructor(
    private readonly address: ListenAddress,
    private readonly unixPerm: number | null,
    private readonly handleConnection: ConnectionHandler,
    private readonly context: Pick<InputContext<unknown>, 'instance' | 'telemetry' | 'service'>,
    private readonly counter: { records: number } = { records: 0 },
    /** With the tls keys: a TLS server (tls-server.ts); null: plain TCP. */
    private readonly tlsOptions: tls.TlsOptions | null = null,
  ) {
    this.acceptEvent = tlsOptions === null ? 'connection' : 'secureConnection';
  }

  async start(): Promise<void> {
    const { address, unixPerm } = this;
    const { instance, telemetry } = this.context;
    const adopted = this.adoption.take();
    if (adopted !== null) {
      adopted.server.off(this.acceptEvent, adopted.park);
      adopted.server.on(this.acceptEvent, this.accept);
      this.server = adopted.server;
      for (const { socket, carried } of adopted.waiting) {
        if (!socket.destroyed) this.attach(socket, carried, true);
      }
      const port = boundPort(adopted.server);
      const where = 'path' in address || port === null ? adopted.address : hostPort(address.host, port);
      telemetry.logger.info(`listening on ${where} (kept across the reload with ${adopted.waiting.length} connections)`);
      return;
    }
    let listening: net.Server;
    if (this.tlsOptions === null) listening = net.createServer(this.accept);
    else {
      const secure = tlsModule().createServer(this.tlsOptions, this.accept);
      countTlsFailures(secure, telemetry, 'wsbit_tls_handshake_failures_total');
      listening = secure;
    }
    // A socket file left by an earlier run would make listen fail; Fluent Bit unlinks it too.
    if ('path' in address) fs.rmSync(address.path, { force: true });
    const port = await listenOn(listening, address, { code: 'WSBIT_INPUT_LISTEN', instance }, telemetry.logger);
    this.server = listening;
    if ('path' in address && unixPerm !== null) fs.chmodSync(address.path, unixPerm);
    telemetry.logger.info(`listening on ${'path' in address ? `unix://${address.path}` : hostPort(address.host, port)}${this.tlsOptions === null ? '' : ' (TLS)'}`);
  }

  listenerAddress(): string {
    const { address } = this;
    return 'path' in address ? `unix://${address.path}` : hostPort(address.host, address.port);
  }

  handOver(): ListenerHandle | null {
    return this.adoption.take() ?? this.detachListener();
  }

  private detachListener(): SocketListener | null {
    const server = this.server;
    this.server = null;
    if (server === null) return null;
    server.off(this.acceptEvent, this.accept);
    const handle = new SocketListener(server, this.listenerAddress());
    server.on(this.acceptEvent, handle.park);
    for (const socket of this.connections.release()) {
      // Paused from here until the next pipeline reads it: what the peer sends meanwhile waits in the kernel.
      socket.pause();
      const carried = this.readers.get(socket)?.detach() ?? null;
      this.readers.delete(socket);
      if (carried !== null) {
        handle.waiting.push({ socket, carried });
      } else {
        // What cannot pass is drained by stop(), like the connections of an input that goes away.
        this.connections.add(socket);
        socket.resume();
      }
    }
    return handle;
  }

  adopt(handle: ListenerHandle): boolean {
    return this.adoption.offer(handle);
  }

  pause(): void {
    this.connections.pause();
  }

  resume(): void {
    this.connections.resume();
  }

  async stop(): Promise<void> {
    // A handle nobody started (the new pipeline failed before its inputs) still closes.
    const orphan = this.adoption.take();
    if (orphan !== null) {
      for (const { socket, carried } of orphan.waiting) this.attach(socket, carried, true);
      orphan.server.off('connection', orphan.park);
      this.server = orphan.server;
    }
    const closing = this.server;
    this.server = null;
    // Stop accepting now; the server's close completes once the drained connections are gone.
    const closed = closing === null ? Promise.resolve() : new Promise<void>((resolve) => closing.close(() => resolve()));
    await this.drain();
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  listeningPort(): number | null {
    return boundPort(this.server);
  }

  private attach(socket: net.Socket, carried: Buffer, adopted: boolean): void {
    // Errors between two readers (during a reload) would otherwise be unhandled.
    if (!adopted) socket.on('error', () => undefined);
    this.connections.add(socket);
    if (carried.length > 0) socket.unshift(carried);
    this.readers.set(socket, this.handleConnection(socket, adopted));
    if (adopted && !this.connections.paused) socket.resume();
  }

  /**
   * Reads what the peers of the open connections still send until each has been quiet for
   * DRAIN_QUIET_MS or has closed, within Grace, then ends them: records a sender wrote before the
   * listener went away are not thrown away with the socket. Logs what it read.
   */
  private async drain(): Promise<void> {
    const open = [...this.connections].filter((socket) => !socket.destroyed);
    if (open.length === 0) return;
    const { logger } = this.context.telemetry;
    const before = this.counter.records;
    // A paused input (a buffer limit) still has to read: the engine takes records until it stops.
    this.connections.resume();
    const deadline = Date.now() + this.context.service.graceSeconds * 1000;
    let cutShort = 0;
    await Promise.all(
      open.map(
        (socket) =>
          new Promise<void>((resolve) => {
            let quiet: NodeJS.Timeout | null = null;
            const done = (): void => {
              if (quiet !== null) clearTimeout(quiet);
              clearTimeout(limit);
              socket.off('data', restart);
              resolve();
            };
            const restart = (): void => {
              quiet?.refresh();
            };
            quiet = setTimeout(done, DRAIN_QUIET_MS);
            const limit = setTimeout(() => {
              cutShort++;
              done();
            }, Math.max(0, deadline - Date.now()));
            socket.on('data', restart);
            socket.once('close', done);
            socket.once('end', done);
          }),
      ),
    );
    const read = this.counter.records - before;
    const text = `closed ${open.length} connection(s) after draining them: ${read} record(s) read after the listener stopped`;
    if (cutShort > 0) logger.warn(`${text}; ${cutShort} still sending when Grace (${this.context.service.graceSeconds} s) ran out`);
    else logger.info(text);
    for (const socket of open) socket.end();
  }
}
