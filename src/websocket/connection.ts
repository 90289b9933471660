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
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { WsbitError, errorMessage } from '../base/errors.js';
import { ProxyError } from '../base/proxy-tunnel.js';
import { dial, type WebSocketConnectionOptions } from './dial.js';
import { CloseCode, encodeCloseFrame, encodePing, type DataOpcode } from './frame.js';
import { MessageDeflater, MessageInflater, formatDeflateOffer, negotiateDeflate, type DeflateAgreement } from './deflate.js';
import { HandshakeResponseParser, createHandshakeRequest, validateHandshakeResponse } from './handshake.js';
import { ControlFrameBudget, PendingPings } from './pings.js';
import { FrameReader, type ReaderEvent } from './reader.js';
import { WebSocketSender, connectionLost, type FragmentedMessage } from './sender.js';

export type { WebSocketConnectionOptions } from './dial.js';

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

type ConnectionState =
  | { kind: 'idle' }
  | { kind: 'connecting'; socket: Socket; sender: WebSocketSender; opening: Deferred; timer: NodeJS.Timeout; tcpConnected: boolean; handshake: { request: Buffer; key: string } }
  | { kind: 'handshaking'; socket: Socket; sender: WebSocketSender; opening: Deferred; timer: NodeJS.Timeout; parser: HandshakeResponseParser; key: string }
  | { kind: 'open'; socket: Socket; sender: WebSocketSender; reader: FrameReader; pings: PendingPings }
  | { kind: 'closing'; socket: Socket; sender: WebSocketSender; reader: FrameReader; pings: PendingPings; timer: NodeJS.Timeout; reason: WsbitError }
  | { kind: 'closed'; reason: WsbitError };

export type ConnectionStateKind = ConnectionState['kind'];

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND = 100;
const DEFAULT_WRITE_STALL_TIMEOUT_MS = 30_000;
/**
 * Frames handled before the socket is paused until the next turn of the event loop: a server that floods
 * frames cannot starve timers and signal handlers (a SIGTERM is still honoured within Grace), and the
 * pause pushes back on it through TCP instead of growing our buffers.
 */
const FRAMES_PER_BATCH = 512;

export class WebSocketClientConnection extends EventEmitter<WebSocketConnectionEvents> {
  readonly #options: WebSocketConnectionOptions;
  readonly #target: string;
  #state: ConnectionState = { kind: 'idle' };
  #messagesReceived = 0;
  /** Control frames that prove nothing about our data: the server's pings, and pongs that answer none of ours. */
  #strayPings = 0;
  #strayPongs = 0;
  /** The sender of the states above, kept once the connection is down for its counters. */
  #sender: WebSocketSender | null = null;
  readonly #unaskedControlFrames: ControlFrameBudget;
  /** Frames handled in this turn of the event loop, and whether the reset is scheduled. */
  #batchFrames = 0;
  #batchResetScheduled = false;
  #lingerTimer: NodeJS.Timeout | undefined;
  #compression: DeflateAgreement | null = null;

  constructor(options: WebSocketConnectionOptions) {
    super();
    this.#options = options;
    this.#target = `${options.host}:${options.port}`;
    this.#unaskedControlFrames = new ControlFrameBudget(options.maxControlFramesPerSecond ?? DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND);
  }

  get state(): ConnectionStateKind {
    return this.#state.kind;
  }

  /** Why the connection ended, once it has. */
  get downReason(): WsbitError | undefined {
    return this.#state.kind === 'closed' ? this.#state.reason : undefined;
  }

  /** What permessage-deflate the handshake settled; null when not offered or declined. */
  get compression(): DeflateAgreement | null {
    return this.#compression;
  }

  get messagesReceived(): number {
    return this.#messagesReceived;
  }

  /**
   * The server's pings and its pongs that answered none of ours, so far. They keep a connection busy
   * without confirming anything, so a delivery watchdog names them but never counts them as progress.
   */
  get strayControlFrames(): { pings: number; pongs: number } {
    return { pings: this.#strayPings, pongs: this.#strayPongs };
  }

  /** Server pings left unanswered because a later ping was answered instead (§5.5.3), while we could not write. */
  get pongsCoalesced(): number {
    return this.#sender?.pongsCoalesced ?? 0;
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
      let sender: WebSocketSender;
      try {
        // Built first, so that a bad uri or header fails without opening a TCP connection.
        const { host, port, tls, uri, headers, subprotocol, keepaliveHeader, compression } = this.#options;
        handshake = createHandshakeRequest({
          host,
          port,
          tls: tls !== undefined && tls !== null,
          uri,
          headers,
          keepaliveHeader,
          subprotocol,
          ...(compression !== undefined ? { extensions: formatDeflateOffer(compression) } : {}),
        });
        socket = dial(this.#options);
        sender = this.#sender = new WebSocketSender(socket, {
          target: this.#target,
          ioTimeoutMs: this.#options.ioTimeoutMs,
          writeStallTimeoutMs: this.#options.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_MS,
          onFatal: (reason) => this.#goDown(reason),
          ...(this.#options.framePool !== undefined ? { framePool: this.#options.framePool } : {}),
        });
      } catch (error) {
        reject(this.#goDown(error instanceof WsbitError ? error : new WsbitError('WSBIT_CONNECT_FAILED', `cannot connect to ${this.#target}: ${errorMessage(error)}`, { cause: error })));
        return;
      }
      const timer = setTimeout(() => {
        this.#goDown(new WsbitError('WSBIT_CONNECT_TIMEOUT', `connect to ${this.#target} timed out after ${this.#options.connectTimeoutMs} ms`));
      }, this.#options.connectTimeoutMs);
      this.#state = { kind: 'connecting', socket, sender, opening, timer, tcpConnected: false, handshake };
      this.#attach(socket);
    });
  }

  /**
   * Write one data message: one frame, or one per piece of a FragmentedMessage. Resolves once it is handed to the socket, not when it is read.
   * `ownsPayload`: the payload is the caller's private copy, which may be masked in place (WebSocketSender.sendData).
   */
  send(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[] | FragmentedMessage, ownsPayload = false): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    return state.sender.sendData(opcode, payload, ownsPayload);
  }

  /**
   * Write a data frame, then a ping, and resolve when the matching pong arrives. TCP keeps order and a server
   * reads frames in order, so that pong proves the server read the data frame (SPEC Part A point 6).
   * Rejects with WSBIT_CONNECTION_LOST if the connection ends first, or WSBIT_PING_TIMEOUT (and the connection
   * is dropped) if no pong comes within `timeoutMs`, counted from this call, so it covers writing the frame too.
   */
  sendAndConfirm(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[] | FragmentedMessage, timeoutMs: number, ownsPayload = false): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    state.socket.cork();
    const written = state.sender.sendData(opcode, payload, ownsPayload);
    const confirmed = this.#sendPing(state, timeoutMs);
    state.socket.uncork();
    return Promise.all([written, confirmed]).then(() => undefined);
  }

  /**
   * Writes several data frames, one message each, then (with a `confirmTimeoutMs`) one ping after the
   * last: its pong proves the server read them all, as sendAndConfirm's does for one. For an output that
   * sends one message per record and confirms the chunk as a whole.
   */
  sendMessages(opcode: DataOpcode, messages: readonly Uint8Array[], confirmTimeoutMs: number | null): Promise<void> {
    const state = this.#state;
    if (state.kind !== 'open') return Promise.reject(this.#notOpen(state));
    state.socket.cork();
    const pending = [state.sender.sendDataMessages(opcode, messages)];
    if (confirmTimeoutMs !== null) pending.push(this.#sendPing(state, confirmTimeoutMs));
    state.socket.uncork();
    return Promise.all(pending).then(() => undefined);
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
        this.#state = { kind: 'closing', socket: state.socket, sender: state.sender, reader: state.reader, pings: state.pings, timer, reason: down };
        // §5.5.1: after sending Close we send no more data frames; send()/ping() reject from here on. The
        // Close still follows data being compressed: the sender queues it behind.
        state.sender.sendControl(frame);
        return this.#whenDown();
      }
    }
  }

  /** Drop the connection at once, without a closing handshake. */
  destroy(reason?: WsbitError): void {
    if (this.#state.kind === 'closed') return;
    this.#goDown(reason ?? new WsbitError('WSBIT_CONNECTION_CLOSED', `connection to ${this.#target} destroyed by wsbit`));
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
    socket.on('drain', () => {
      const state = this.#state;
      if (state.kind === 'open' || state.kind === 'closing') state.sender.onDrain(state.kind === 'open');
    });
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
    const { socket, sender, opening, handshake } = state;
    this.#state = { kind: 'handshaking', socket, sender, opening, timer, parser: new HandshakeResponseParser(), key: handshake.key };
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

  /**
   * Counts a control frame we did not ask for; true (and the connection is failed) once the server sends
   * more in one second than maxControlFramesPerSecond allows.
   */
  #controlFlood(): boolean {
    if (!this.#unaskedControlFrames.exceeded()) return false;
    const error = new WsbitError(
      'WSBIT_WS_CONTROL_FLOOD',
      `${this.#target} sent more than ${this.#unaskedControlFrames.perSecond} pings or unsolicited pongs within one second; dropping the connection`,
    );
    const state = this.#state;
    this.#goDown(error, state.kind === 'open' ? encodeCloseFrame(CloseCode.PolicyViolation, 'control frame flood', true) : undefined);
    // Nothing more is read from it: the flood would go on until the linger timer ends the socket.
    if (state.kind === 'open' || state.kind === 'closing') state.socket.pause();
    return true;
  }

  #onHandshakeData(state: Extract<ConnectionState, { kind: 'handshaking' }>, chunk: Buffer): void {
    let rest: Buffer;
    const offer = this.#options.compression;
    try {
      const result = state.parser.push(chunk);
      if (!result.done) return;
      validateHandshakeResponse(result.response, state.key, this.#options.subprotocol, result.rest, offer !== undefined);
      this.#compression = negotiateDeflate(result.response.headers.get('sec-websocket-extensions') ?? [], offer);
      rest = result.rest;
    } catch (error) {
      this.#goDown(error instanceof WsbitError ? error : new WsbitError('WSBIT_HANDSHAKE_MALFORMED', errorMessage(error), { cause: error }));
      return;
    }
    clearTimeout(state.timer);
    const agreement = this.#compression;
    if (agreement !== null) {
      const onCompressed = this.#options.onCompressed;
      state.sender.compressWith({ deflater: new MessageDeflater(agreement), threshold: agreement.threshold, ...(onCompressed !== undefined ? { onCompressed } : {}) });
    }
    const reader = new FrameReader({
      role: 'client',
      maxMessageBytes: this.#options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ...(agreement !== null ? { inflater: new MessageInflater(agreement) } : {}),
    });
    const open: ConnectionState = { kind: 'open', socket: state.socket, sender: state.sender, reader, pings: new PendingPings() };
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
        this.#strayPings++;
        if (this.#controlFlood()) return;
        // §5.5.2: answer with a Pong carrying the same payload, unless we already sent our Close (§5.5.1).
        if (state.kind === 'open') state.sender.pong(event.data);
        return;
      }
      case 'pong':
        // A pong that answers none of our pings proves nothing; a stream of them is a hostile server.
        if (!state.pings.settle(event.data)) {
          this.#strayPongs++;
          this.#controlFlood();
        }
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
    const { payload, confirmed } = state.pings.add(
      timeoutMs,
      () => new WsbitError('WSBIT_PING_TIMEOUT', `no pong from ${this.#target} within ${timeoutMs} ms`),
      (error) => this.#goDown(error),
    );
    state.sender.sendControl(encodePing(payload, true));
    return confirmed;
  }

  #onSocketError(error: Error): void {
    const state = this.#state;
    const detail = errorMessage(error);
    switch (state.kind) {
      case 'connecting':
        // The proxy failed, not the target: its error already names it and its status.
        if (error instanceof ProxyError) {
          this.#goDown(error);
        } else if ((this.#options.tls ?? null) !== null && state.tcpConnected) {
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
    if (state.kind === 'closed' || state.kind === 'closing') return connectionLost(state.reason);
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
    if (state.kind !== 'idle') {
      if (state.kind !== 'open') clearTimeout(state.timer);
      if (state.kind === 'connecting' || state.kind === 'handshaking') state.opening.reject(reason);
      if (state.kind === 'open' || state.kind === 'closing') state.pings.rejectAll(connectionLost(reason));
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
    this.#sender?.fail(reason);
    this.emit('down', reason);
    return reason;
  }
}
