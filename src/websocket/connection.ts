/**
 * One RFC 6455 client connection over TCP or TLS: connect, handshake once, then frames.
 *
 * The "upgraded" state lives here, in this object's state union, and nowhere else (SPEC Part A point 1): a
 * connection object handshakes exactly once, before any data frame, and is never reused once it is down. A
 * new TCP connection is always a new object, so a frame can never reach a socket that was not upgraded (the
 * root of Fluent Bit's "server flaps → malfunction until restart" bug, SPEC §1.9).
 *
 * The socket is read the whole time (SPEC Part A point 2): pings are answered, a server Close is answered and
 * ends the connection, and EOF, RST, socket errors and protocol errors all end it at once. `down` is emitted
 * exactly once per object, whatever the cause (a failed open() and a local close() included); listen for it
 * before calling open(), since bytes that arrive with the 101 can end the connection before open() returns.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tlsConnectOptions, type TlsSettings } from '../base/tls.js';
import { BufferPool } from '../base/buffer-pool.js';
import { WsbitError, errorMessage } from '../base/errors.js';
import { CloseCode, encodeCloseFrame, encodeFrame, encodePing, encodePong, type DataOpcode } from './frame.js';
import {
  HandshakeResponseParser,
  createHandshakeRequest,
  validateHandshakeResponse,
  type HttpHeader,
} from './handshake.js';
import { FrameReader, type ReaderEvent } from './reader.js';

export interface WebSocketConnectionOptions {
  host: string;
  port: number;
  uri: string;
  /** `null` or absent: plain TCP. The `tls*` keys, as every output that opens its own sockets reads them. */
  tls?: TlsSettings | null;
  headers: readonly HttpHeader[];
  subprotocol?: string;
  /** TCP connect plus TLS handshake, as Fluent Bit's `net.connect_timeout`. */
  connectTimeoutMs: number;
  /** From the upgrade request written to a complete 101 response. */
  handshakeTimeoutMs: number;
  /** Longest a single write may take to reach the socket; 0 = no limit (Fluent Bit's `net.io_timeout`). */
  ioTimeoutMs: number;
  /** How long close() waits for the server's Close before dropping the socket; default 1000. */
  closeTimeoutMs?: number;
  sourceAddress?: string;
  keepaliveHeader: boolean;
  /** Idle time before the first TCP keepalive probe; default 30000. */
  tcpKeepaliveInitialDelayMs?: number;
  /** Largest message accepted from the server (they are ignored anyway); default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Most control frames the server may send per second that we did not ask for (its pings, and pongs that
   * answer none of our pings) before the connection is dropped as hostile; 0 = no limit. Default 100: real
   * servers ping every few seconds at most.
   */
  maxControlFramesPerSecond?: number;
  /**
   * Drop the connection when our unsent bytes stay above WRITE_BACKLOG_BOUND_BYTES this long (a server that
   * does not read); 0 = never. Default 30000.
   */
  writeStallTimeoutMs?: number;
}

/** The server closed the WebSocket with a Close frame (RFC 6455 §5.5.1). */
export class WebSocketClosedError extends WsbitError {
  readonly closeCode: number | undefined;
  readonly closeReason: string;

  constructor(closeCode: number | undefined, closeReason: string) {
    const detail = closeCode === undefined ? 'no code' : `code ${closeCode}`;
    super('WSBIT_WS_SERVER_CLOSED', `server closed the WebSocket (${detail}${closeReason ? `, reason ${JSON.stringify(closeReason)}` : ''})`);
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

export interface WebSocketConnectionEvents {
  /** Exactly once per connection, with the reason it ended. */
  down: [reason: WsbitError];
  /** A data message from the server. The log shipper ignores them; they are counted. */
  message: [opcode: DataOpcode, data: Buffer];
}

interface Deferred {
  resolve: () => void;
  reject: (error: WsbitError) => void;
}

interface PendingPing extends Deferred {
  payload: Buffer;
  timer: NodeJS.Timeout;
}

type ConnectionState =
  | { kind: 'idle' }
  | { kind: 'connecting'; socket: Socket; opening: Deferred; timer: NodeJS.Timeout; tcpConnected: boolean; handshake: { request: Buffer; key: string } }
  | { kind: 'handshaking'; socket: Socket; opening: Deferred; timer: NodeJS.Timeout; parser: HandshakeResponseParser; key: string }
  | { kind: 'open'; socket: Socket; reader: FrameReader; pings: PendingPing[] }
  | { kind: 'closing'; socket: Socket; reader: FrameReader; pings: PendingPing[]; timer: NodeJS.Timeout; reason: WsbitError }
  | { kind: 'closed'; reason: WsbitError };

export type ConnectionStateKind = ConnectionState['kind'];

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND = 100;
const DEFAULT_WRITE_STALL_TIMEOUT_MS = 30_000;
/**
 * Unsent bytes above which pongs are coalesced (RFC 6455 §5.5.3 allows answering only the latest ping) and
 * the write-stall clock runs. Above the socket's 16 KiB high-water mark, so crossing it always arms 'drain'.
 */
const WRITE_BACKLOG_BOUND_BYTES = 64 * 1024;
/**
 * Frames handled before the socket is paused until the next turn of the event loop: a server that floods
 * frames cannot starve timers and signal handlers (a SIGTERM is still honoured within Grace), and the
 * pause pushes back on it through TCP instead of growing our buffers.
 */
const FRAMES_PER_BATCH = 512;
/** Bytes of our own ping payloads: random per ping, so a server cannot answer pings it never read. */
const PING_PAYLOAD_BYTES = 8;

function lost(reason: WsbitError): WsbitError {
  if (reason.code === 'WSBIT_CONNECTION_LOST') return reason;
  return new WsbitError('WSBIT_CONNECTION_LOST', `connection is down: ${reason.message}`, { cause: reason });
}

export class WebSocketClientConnection extends EventEmitter<WebSocketConnectionEvents> {
  readonly #options: WebSocketConnectionOptions;
  readonly #target: string;
  #state: ConnectionState = { kind: 'idle' };
  #messagesReceived = 0;
  /** The latest server ping not yet answered because the write buffer is full; answered on 'drain'. */
  #deferredPong: Buffer | undefined;
  #pongsCoalesced = 0;
  #writeStallTimer: NodeJS.Timeout | undefined;
  /** Unasked-for control frames in the current one-second window. */
  #controlWindowStartMs = 0;
  #controlFramesInWindow = 0;
  /** Frames handled in this turn of the event loop, and whether the reset is scheduled. */
  #batchFrames = 0;
  #batchResetScheduled = false;
  #pendingWrites = new Set<(error: WsbitError) => void>();
  /** Large data frames; one is written while the next may be built. */
  readonly #framePool = new BufferPool(2);
  #lingerTimer: NodeJS.Timeout | undefined;

  constructor(options: WebSocketConnectionOptions) {
    super();
    this.#options = options;
    this.#target = `${options.host}:${options.port}`;
  }

  get state(): ConnectionStateKind {
    return this.#state.kind;
  }

  /** Why the connection ended, once it has. */
  get downReason(): WsbitError | undefined {
    return this.#state.kind === 'closed' ? this.#state.reason : undefined;
  }

  get messagesReceived(): number {
    return this.#messagesReceived;
  }

  /** Server pings left unanswered because a later ping was answered instead (§5.5.3), while we could not write. */
  get pongsCoalesced(): number {
    return this.#pongsCoalesced;
  }

  /** Connect (TCP, then TLS if enabled) and perform the opening handshake. Callable once. */
  open(): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'idle') {
      return Promise.reject(new WsbitError('WSBIT_INVALID_STATE', `open() on a connection that is ${state.kind}; create a new connection instead`));
    }
    return new Promise<void>((resolve, reject) => {
      const opening: Deferred = { resolve, reject };
      let handshake: { request: Buffer; key: string };
      let socket: Socket;
      try {
        // Built first, so that a bad uri or header fails without opening a TCP connection.
        const { host, port, tls, uri, headers, subprotocol, keepaliveHeader } = this.#options;
        handshake = createHandshakeRequest({ host, port, tls: tls !== undefined && tls !== null, uri, headers, keepaliveHeader, subprotocol });
        socket = this.#connect();
      } catch (error) {
        reject(this.#goDown(error instanceof WsbitError ? error : new WsbitError('WSBIT_CONNECT_FAILED', `cannot connect to ${this.#target}: ${errorMessage(error)}`, { cause: error })));
        return;
      }
      const timer = setTimeout(() => {
        this.#goDown(new WsbitError('WSBIT_CONNECT_TIMEOUT', `connect to ${this.#target} timed out after ${this.#options.connectTimeoutMs} ms`));
      }, this.#options.connectTimeoutMs);
      this.#state = { kind: 'connecting', socket, opening, timer, tcpConnected: false, handshake };
      this.#attach(socket);
    });
  }

  /** Write one unfragmented data frame. Resolves once the frame is handed to the socket, not when it is read. */
  send(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    return this.#write(state.socket, encodeFrame(opcode, payload, { mask: true, pool: this.#framePool }));
  }

  /**
   * Write a data frame, then a ping, and resolve when the matching pong arrives. TCP keeps order and a server
   * reads frames in order, so that pong proves the server read the data frame (SPEC Part A point 6).
   * Rejects with WSBIT_CONNECTION_LOST if the connection ends first, or WSBIT_PING_TIMEOUT (and the connection
   * is dropped) if no pong comes within `timeoutMs`, counted from this call, so it covers writing the frame too.
   */
  sendAndConfirm(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[], timeoutMs: number): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    const frame = encodeFrame(opcode, payload, { mask: true, pool: this.#framePool });
    state.socket.cork();
    const written = this.#write(state.socket, frame);
    const confirmed = this.#sendPing(state, timeoutMs);
    state.socket.uncork();
    return Promise.all([written, confirmed]).then(() => undefined);
  }

  /** A keepalive ping: resolves on its pong; on timeout rejects with WSBIT_PING_TIMEOUT and drops the connection. */
  ping(timeoutMs: number): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    return this.#sendPing(state, timeoutMs);
  }

  /**
   * The closing handshake (RFC 6455 §7.1.2): send Close, wait up to closeTimeoutMs for the server's Close,
   * then end the socket. Before the connection is open this aborts it. Resolves when the connection is down.
   */
  close(code: number = CloseCode.Normal, reason = ''): Promise<void> {
    const state = this.#state;
    switch (state.kind) {
      case 'closed':
        return Promise.resolve();
      case 'closing':
        return this.#whenDown();
      case 'idle':
      case 'connecting':
      case 'handshaking':
        this.#goDown(new WsbitError('WSBIT_CONNECTION_CLOSED', `connection to ${this.#target} closed before it was open`));
        return Promise.resolve();
      case 'open': {
        let frame: Buffer;
        try {
          frame = encodeCloseFrame(code, reason, true);
        } catch (error) {
          return Promise.reject(error);
        }
        const down = new WsbitError('WSBIT_CONNECTION_CLOSED', `connection to ${this.#target} closed by wsbit (code ${code})`);
        const timer = setTimeout(() => this.#goDown(down), this.#options.closeTimeoutMs ?? 1000);
        this.#state = { kind: 'closing', socket: state.socket, reader: state.reader, pings: state.pings, timer, reason: down };
        // §5.5.1: after sending Close we send no more data frames; send()/ping() reject from here on.
        state.socket.write(frame);
        return this.#whenDown();
      }
    }
  }

  /** Drop the connection at once, without a closing handshake. */
  destroy(reason?: WsbitError): void {
    if (this.#state.kind === 'closed') return;
    this.#goDown(reason ?? new WsbitError('WSBIT_CONNECTION_CLOSED', `connection to ${this.#target} destroyed by wsbit`));
  }

  #connect(): Socket {
    const { host, port, tls, sourceAddress } = this.#options;
    // Node merges connect options over its defaults, so an explicit `undefined` would erase a default
    // (tls.checkServerIdentity, for one): only keys with values are passed. tls.connect also accepts the
    // net.connect options such as localAddress, though its typings omit them.
    const tcp = { host, port, ...(sourceAddress !== undefined ? { localAddress: sourceAddress } : {}) };
    if (tls === undefined || tls === null) return netConnect(tcp);
    return tlsConnect({
      ...tcp,
      ...tlsConnectOptions(tls, host),
      ALPNProtocols: ['http/1.1'],
    });
  }

  #attach(socket: Socket): void {
    const secure = (this.#options.tls ?? null) !== null;
    socket.on('connect', () => {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, this.#options.tcpKeepaliveInitialDelayMs ?? 30_000);
      const state = this.#state;
      if (state.kind !== 'connecting') return;
      state.tcpConnected = true;
      if (!secure) this.#startHandshake(state);
    });
    if (secure) {
      socket.on('secureConnect', () => {
        const state = this.#state;
        if (state.kind === 'connecting') this.#startHandshake(state);
      });
    }
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('drain', () => this.#onDrain(socket));
    socket.on('end', () => this.#onSocketEnd(new WsbitError('WSBIT_CONNECTION_LOST', this.#endMessage('closed the TCP connection'))));
    // Never removed: a late error on a socket we already gave up must not become an uncaught exception.
    socket.on('error', (error: Error) => this.#onSocketError(error));
    socket.on('close', () => {
      if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
      this.#onSocketEnd(new WsbitError('WSBIT_CONNECTION_LOST', this.#endMessage('connection closed')));
    });
  }

  #endMessage(what: string): string {
    const state = this.#state;
    const phase = state.kind === 'open' ? 'without a close frame' : `during ${state.kind}`;
    return `${this.#target} ${what} ${phase}`;
  }

  #startHandshake(state: Extract<ConnectionState, { kind: 'connecting' }>): void {
    clearTimeout(state.timer);
    const timer = setTimeout(() => {
      this.#goDown(new WsbitError('WSBIT_HANDSHAKE_TIMEOUT', `no WebSocket handshake response from ${this.#target} within ${this.#options.handshakeTimeoutMs} ms`));
    }, this.#options.handshakeTimeoutMs);
    const { socket, opening, handshake } = state;
    this.#state = { kind: 'handshaking', socket, opening, timer, parser: new HandshakeResponseParser(), key: handshake.key };
    socket.write(handshake.request);
  }

  #onData(socket: Socket, chunk: Buffer): void {
    const state = this.#state;
    switch (state.kind) {
      case 'handshaking':
        this.#onHandshakeData(state, chunk);
        return;
      case 'open':
      case 'closing':
        this.#feed(state, chunk);
        this.#endBatchIfFull(socket);
        return;
      default:
        return;
    }
  }

  /** Bounded batches: after FRAMES_PER_BATCH frames, stop reading until the event loop has turned once. */
  #endBatchIfFull(socket: Socket): void {
    if (!this.#batchResetScheduled) {
      this.#batchResetScheduled = true;
      setImmediate(() => {
        this.#batchResetScheduled = false;
        this.#batchFrames = 0;
        const kind = this.#state.kind;
        if ((kind === 'open' || kind === 'closing') && socket.isPaused()) socket.resume();
      });
    }
    if (this.#batchFrames >= FRAMES_PER_BATCH) socket.pause();
  }

  #onDrain(socket: Socket): void {
    if (this.#writeStallTimer !== undefined) {
      clearTimeout(this.#writeStallTimer);
      this.#writeStallTimer = undefined;
    }
    const pong = this.#deferredPong;
    this.#deferredPong = undefined;
    if (pong !== undefined && this.#state.kind === 'open') {
      socket.write(encodePong(pong, true));
      this.#watchBacklog(socket);
    }
  }

  /**
   * Called after every write: while our unsent bytes stay above the bound, a server that does not read
   * gets `writeStallTimeoutMs` before it is dropped ('drain' stops the clock).
   */
  #watchBacklog(socket: Socket): void {
    const stallMs = this.#options.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_MS;
    if (stallMs <= 0 || this.#writeStallTimer !== undefined || socket.writableLength <= WRITE_BACKLOG_BOUND_BYTES) return;
    this.#writeStallTimer = setTimeout(() => {
      this.#writeStallTimer = undefined;
      const unsent = socket.writableLength;
      if (unsent <= WRITE_BACKLOG_BOUND_BYTES) return;
      this.#goDown(
        new WsbitError('WSBIT_WRITE_STALLED', `${this.#target} has not read what we sent for ${stallMs} ms (${unsent} bytes unsent); dropping the connection`),
      );
    }, stallMs);
  }

  /**
   * Counts a control frame we did not ask for; true (and the connection is failed) once the server sends
   * more in one second than maxControlFramesPerSecond allows.
   */
  #controlFlood(): boolean {
    const limit = this.#options.maxControlFramesPerSecond ?? DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND;
    if (limit <= 0) return false;
    const nowMs = performance.now();
    if (nowMs - this.#controlWindowStartMs >= 1000) {
      this.#controlWindowStartMs = nowMs;
      this.#controlFramesInWindow = 0;
    }
    this.#controlFramesInWindow++;
    if (this.#controlFramesInWindow <= limit) return false;
    const error = new WsbitError(
      'WSBIT_WS_CONTROL_FLOOD',
      `${this.#target} sent more than ${limit} pings or unsolicited pongs within one second; dropping the connection`,
    );
    const state = this.#state;
    this.#goDown(error, state.kind === 'open' ? encodeCloseFrame(CloseCode.PolicyViolation, 'control frame flood', true) : undefined);
    // Nothing more is read from it: the flood would go on until the linger timer ends the socket.
    if (state.kind === 'open' || state.kind === 'closing') state.socket.pause();
    return true;
  }

  #onHandshakeData(state: Extract<ConnectionState, { kind: 'handshaking' }>, chunk: Buffer): void {
    let rest: Buffer;
    try {
      const result = state.parser.push(chunk);
      if (!result.done) return;
      validateHandshakeResponse(result.response, state.key, this.#options.subprotocol, result.rest);
      rest = result.rest;
    } catch (error) {
      this.#goDown(error instanceof WsbitError ? error : new WsbitError('WSBIT_HANDSHAKE_MALFORMED', errorMessage(error), { cause: error }));
      return;
    }
    clearTimeout(state.timer);
    const reader = new FrameReader({ role: 'client', maxMessageBytes: this.#options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES });
    const open: ConnectionState = { kind: 'open', socket: state.socket, reader, pings: [] };
    this.#state = open;
    state.opening.resolve();
    // A server may send its first frames in the same packet as the 101; they belong to the frame reader.
    if (rest.length > 0) this.#feed(open, rest);
  }

  #feed(state: Extract<ConnectionState, { kind: 'open' | 'closing' }>, chunk: Buffer): void {
    const { events, error } = state.reader.push(chunk);
    this.#batchFrames += events.length;
    for (const event of events) {
      this.#onFrame(event);
      if (this.#state.kind === 'closed') return;
    }
    if (error === undefined) return;
    // §7.1.7 Fail the WebSocket Connection: send a Close with the matching code (if we still may), then drop.
    const current = this.#state;
    this.#goDown(error, current.kind === 'open' ? encodeCloseFrame(error.closeCode, error.message, true) : undefined);
  }

  #onFrame(event: ReaderEvent): void {
    const state = this.#state;
    if (state.kind !== 'open' && state.kind !== 'closing') return;
    switch (event.type) {
      case 'message':
        this.#messagesReceived++;
        this.emit('message', event.opcode, event.data);
        return;
      case 'ping': {
        if (this.#controlFlood()) return;
        // §5.5.2: answer with a Pong carrying the same payload, unless we already sent our Close (§5.5.1).
        if (state.kind !== 'open') return;
        const socket = state.socket;
        if (socket.writableLength > WRITE_BACKLOG_BOUND_BYTES) {
          // §5.5.3: only the latest ping needs an answer; it goes out on 'drain'. A copy, so the read
          // buffer it came in is not kept alive.
          if (this.#deferredPong !== undefined) this.#pongsCoalesced++;
          this.#deferredPong = Buffer.from(event.data);
          this.#watchBacklog(socket);
          return;
        }
        socket.write(encodePong(event.data, true));
        this.#watchBacklog(socket);
        return;
      }
      case 'pong':
        // A pong that answers none of our pings proves nothing; a stream of them is a hostile server.
        if (!this.#onPong(state.pings, event.data)) this.#controlFlood();
        return;
      case 'close':
        if (state.kind === 'closing') {
          // The server's answer to our Close: the closing handshake is complete.
          this.#goDown(state.reason, Buffer.alloc(0));
        } else {
          // §5.5.1: answer a Close with a Close, echoing the code (§7.4: an empty body stays empty).
          this.#goDown(new WebSocketClosedError(event.code, event.reason), encodeCloseFrame(event.code, '', true));
        }
        return;
    }
  }

  #sendPing(state: Extract<ConnectionState, { kind: 'open' }>, timeoutMs: number): Promise<void> {
    // Unpredictable, so only a server that read this ping (and so everything before it) can answer it.
    const payload = randomBytes(PING_PAYLOAD_BYTES);
    const confirmed = new Promise<void>((resolve, reject) => {
      const pending: PendingPing = {
        payload,
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = state.pings.indexOf(pending);
          if (index >= 0) state.pings.splice(index, 1);
          const error = new WsbitError('WSBIT_PING_TIMEOUT', `no pong from ${this.#target} within ${timeoutMs} ms`);
          reject(error);
          this.#goDown(error);
        }, timeoutMs),
      };
      state.pings.push(pending);
    });
    state.socket.write(encodePing(payload, true));
    this.#watchBacklog(state.socket);
    return confirmed;
  }

  /**
   * A pong answers the ping with the same payload. §5.5.3 lets a server answer only the latest of several
   * pings, and a pong for ping N proves everything before ping N was read too, so it settles every earlier
   * ping as well. Unknown pongs are unsolicited heartbeats (§5.5.3): they confirm nothing. False for those.
   */
  #onPong(pings: PendingPing[], payload: Buffer): boolean {
    const index = pings.findIndex((ping) => ping.payload.equals(payload));
    if (index < 0) return false;
    for (const ping of pings.splice(0, index + 1)) {
      clearTimeout(ping.timer);
      ping.resolve();
    }
    return true;
  }

  #write(socket: Socket, data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ioTimeoutMs = this.#options.ioTimeoutMs;
      const fail = (error: WsbitError): void => {
        settle();
        reject(lost(error));
      };
      const timer =
        ioTimeoutMs > 0
          ? setTimeout(() => this.#goDown(new WsbitError('WSBIT_IO_TIMEOUT', `write to ${this.#target} did not complete within ${ioTimeoutMs} ms`)), ioTimeoutMs)
          : undefined;
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#pendingWrites.delete(fail);
      };
      this.#pendingWrites.add(fail);
      socket.write(data, (error) => {
        // The socket is done with the bytes, whether written or not: a pooled frame may be reused.
        this.#framePool.give(data);
        if (error === undefined || error === null) {
          settle();
          resolve();
        } else {
          const state = this.#state;
          fail(state.kind === 'closed' ? state.reason : new WsbitError('WSBIT_CONNECTION_LOST', `write to ${this.#target} failed: ${error.message}`, { cause: error }));
        }
      });
      this.#watchBacklog(socket);
    });
  }

  #onSocketError(error: Error): void {
    const state = this.#state;
    const detail = errorMessage(error);
    switch (state.kind) {
      case 'connecting':
        if ((this.#options.tls ?? null) !== null && state.tcpConnected) {
          this.#goDown(new WsbitError('WSBIT_TLS_FAILED', `TLS handshake with ${this.#target} failed: ${detail}`, { cause: error }));
        } else {
          this.#goDown(new WsbitError('WSBIT_CONNECT_FAILED', `cannot connect to ${this.#target}: ${detail}`, { cause: error }));
        }
        return;
      case 'handshaking':
      case 'open':
        this.#goDown(new WsbitError('WSBIT_CONNECTION_LOST', `connection to ${this.#target} failed during ${state.kind}: ${detail}`, { cause: error }));
        return;
      case 'closing':
        this.#goDown(state.reason);
        return;
      case 'idle':
      case 'closed':
        return;
    }
  }

  #onSocketEnd(reason: WsbitError): void {
    const state = this.#state;
    if (state.kind === 'closed' || state.kind === 'idle') return;
    if (state.kind === 'closing') this.#goDown(state.reason);
    else if (state.kind === 'connecting') this.#goDown(new WsbitError('WSBIT_CONNECT_FAILED', reason.message, { cause: reason }));
    else this.#goDown(reason);
  }

  #notOpen(state: ConnectionState): WsbitError {
    if (state.kind === 'closed' || state.kind === 'closing') return lost(state.reason);
    return new WsbitError('WSBIT_NOT_OPEN', `connection to ${this.#target} is ${state.kind}, not open`);
  }

  #whenDown(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#state.kind === 'closed') resolve();
      else this.once('down', () => resolve());
    });
  }

  /**
   * The single way into `closed`. With `finalBytes` the socket is ended gracefully after writing them (a Close
   * frame, possibly empty) and destroyed if the server has not closed within closeTimeoutMs; without, it is
   * destroyed at once. Rejects every pending promise, then emits `down`. Returns the reason.
   */
  #goDown(reason: WsbitError, finalBytes?: Buffer): WsbitError {
    const state = this.#state;
    if (state.kind === 'closed') return state.reason;
    this.#state = { kind: 'closed', reason };
    if (this.#writeStallTimer !== undefined) clearTimeout(this.#writeStallTimer);
    this.#writeStallTimer = undefined;
    this.#deferredPong = undefined;
    if (state.kind !== 'idle') {
      if (state.kind !== 'open') clearTimeout(state.timer);
      if (state.kind === 'connecting' || state.kind === 'handshaking') state.opening.reject(reason);
      if (state.kind === 'open' || state.kind === 'closing') {
        for (const ping of state.pings.splice(0)) {
          clearTimeout(ping.timer);
          ping.reject(lost(reason));
        }
      }
      const socket = state.socket;
      if (finalBytes !== undefined && !socket.destroyed) {
        // RFC 6455 §7.1.1: the client should let the server close TCP first; destroy only if it does not.
        socket.end(finalBytes);
        this.#lingerTimer = setTimeout(() => socket.destroy(), this.#options.closeTimeoutMs ?? 1000);
        this.#lingerTimer.unref();
      } else {
        socket.destroy();
      }
    }
    for (const fail of [...this.#pendingWrites]) fail(reason);
    this.emit('down', reason);
    return reason;
  }
}
