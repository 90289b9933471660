/**
 * The http input's server: admits connections up to max_connections, streams request bodies into
 * pooled blocks under a shared budget, and refuses (with a logged, counted reason) what is too big,
 * too slow or too many.
 */
import http from 'node:http';
import type net from 'node:net';
import { BufferPool } from '../../../base/buffer-pool.js';
import { errorMessage } from '../../../base/errors.js';
import { boundPort, hostPort, listenOn } from '../../../base/listen.js';
import { quoteUntrusted } from '../../../base/logger.js';
import { httpsModule } from '../../../base/openssl.js';
import { eventTimeNow } from '../../../base/record.js';
import type { InputContext, InputInstance, ListenerHandle } from '../../../pipeline/contracts.js';
import { Adoption } from '../adoption.js';
import { countTlsFailures } from '../../tls-server.js';
import { Connections } from '../connections.js';
import { BODY_BLOCK_BYTES, BodyCollector, PendingBudget } from './body.js';
import { RequestIngester, RequestRejected, STORAGE_FAILING_TEXT } from './ingest.js';
import { REQUEST_TIMEOUT_MS, type HttpInputOptions } from './options.js';

/** A request whose body is streaming in. */
interface PendingRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: BodyCollector;
  idleTimer: NodeJS.Timeout | null;
  /** Answered already (refused); later data is ignored. */
  done: boolean;
}

/** How long a refused client is told to wait before it tries again. */
const RETRY_AFTER_SECONDS = 5;

const REJECTED_METRIC = 'wsbit_input_rejected_records_total';

/** What Fluent Bit's http input says at /health. */
const HEALTH_MESSAGE = "I can only show you the door. You're the one that has to walk through it.";

type ServerContext = Pick<InputContext<unknown>, 'instance' | 'tag' | 'telemetry' | 'emit' | 'admit'> & Partial<Pick<InputContext<unknown>, 'service'>>;

/**
 * The http input's server between two pipelines (hot reload): connections accepted meanwhile and
 * requests whose headers came in wait here, their bodies unread, for the next pipeline.
 */
class HttpListener implements ListenerHandle {
  readonly requests: Array<{ req: http.IncomingMessage; res: http.ServerResponse }> = [];
  readonly park = {
    connection: (socket: net.Socket): void => this.sockets.add(socket),
    request: (req: http.IncomingMessage, res: http.ServerResponse): void => {
      req.pause();
      this.requests.push({ req, res });
    },
    clientError: (_error: Error, socket: net.Socket): void => {
      socket.destroy();
    },
  };

  constructor(
    readonly server: http.Server,
    readonly address: string,
    readonly sockets: Connections,
    /** `secureConnection` for HTTPS: the TLS socket is the one requests arrive on. */
    readonly connectionEvent: 'connection' | 'secureConnection' = 'connection',
  ) {}

  get connections(): number {
    return [...this.sockets].length;
  }

  attach(): void {
    this.server.on(this.connectionEvent, this.park.connection);
    this.server.on('request', this.park.request);
    this.server.on('clientError', this.park.clientError);
  }

  detach(): void {
    this.server.off(this.connectionEvent, this.park.connection);
    this.server.off('request', this.park.request);
    this.server.off('clientError', this.park.clientError);
  }
}

export class HttpInputServer implements InputInstance {
  private readonly active = new Set<http.IncomingMessage>();
  /** Each open socket with its close listener (removed when the socket passes to the next pipeline). */
  private readonly sockets = new Map<net.Socket, () => void>();
  /** Sockets accepted beyond max_connections: their request gets a 503 and the socket is closed. */
  private readonly overLimit = new WeakSet<net.Socket>();
  /** Sockets whose request headers are in and whose body is being read: Node's timeout on them is requestTimeout, not the header one. */
  private readonly readingBody = new WeakSet<net.Socket>();
  private admitted = 0;
  private readonly budget: PendingBudget<PendingRequest>;
  private readonly blocks: BufferPool;
  private readonly ingester: RequestIngester;
  private paused = false;
  private server: http.Server | null = null;
  private readonly adoption = new Adoption(HttpListener);
  /** Called when the last request in flight has been answered (stop waits for that). */
  private idleWaiters: Array<() => void> = [];
  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handleRequest(req, res);
  private readonly onConnection = (socket: net.Socket): void => this.admit(socket);
  /** An HTTPS server's requests arrive on the TLS socket, which `secureConnection` hands over. */
  private readonly connectionEvent: 'connection' | 'secureConnection';
  // Node's own answers (408 after header_timeout, 431, 400), now logged and counted too.
  private readonly onClientError = (error: NodeJS.ErrnoException, socket: net.Socket): void => this.clientError(error, socket);

  constructor(
    private readonly options: HttpInputOptions,
    private readonly context: ServerContext,
  ) {
    this.budget = new PendingBudget<PendingRequest>(options.totalBodyLimitBytes);
    // Enough idle blocks to refill the whole budget: after a burst, up to buffer_total_limit stays allocated for reuse.
    this.blocks = new BufferPool(options.totalBodyLimitBytes > 0 ? Math.ceil(options.totalBodyLimitBytes / BODY_BLOCK_BYTES) : 64, BODY_BLOCK_BYTES);
    this.ingester = new RequestIngester(options, context);
    this.connectionEvent = options.tls === null ? 'connection' : 'secureConnection';
  }

  async start(): Promise<void> {
    const { headerTimeoutMs } = this.options;
    const { listen, port } = this.options;
    const { instance, telemetry } = this.context;
    const adopted = this.adoption.take();
    if (adopted !== null) {
      this.takeOver(adopted);
      return;
    }
    const serverOptions: http.ServerOptions = {
      // 0 turns Node's header timer off.
      headersTimeout: headerTimeoutMs,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // Node checks these timers only this often (30 s by default), which would stretch a short header_timeout.
      connectionsCheckingInterval: headerTimeoutMs > 0 ? Math.max(100, Math.min(1000, Math.floor(headerTimeoutMs / 2))) : 30_000,
    };
    const { tls } = this.options;
    let listening: http.Server;
    if (tls === null) listening = http.createServer(serverOptions);
    else {
      const secure = httpsModule().createServer({ ...serverOptions, ...tls });
      countTlsFailures(secure, telemetry, 'wsbit_tls_handshake_failures_total');
      listening = secure;
    }
    this.attachTo(listening);
    const bound = await listenOn(listening, { host: listen, port }, { code: 'WSBIT_INPUT_LISTEN', instance }, telemetry.logger);
    this.server = listening;
    telemetry.logger.info(`listening on ${hostPort(listen, bound)}${tls === null ? '' : ' (TLS)'}`);
  }

  pause(): void {
    // Bodies stop being read, so clients feel TCP backpressure; nothing is refused.
    this.paused = true;
    for (const req of this.active) req.pause();
  }

  resume(): void {
    this.paused = false;
    for (const req of this.active) req.resume();
  }

  listenerAddress(): string {
    return hostPort(this.options.listen, this.options.port);
  }

  handOver(): ListenerHandle | null {
    return this.adoption.take() ?? this.detachListener();
  }

  /** Takes this pipeline's handlers off the server; sockets accepted and requests received from now on wait in the handle. */
  private detachListener(): HttpListener | null {
    const server = this.server;
    this.server = null;
    if (server === null) return null;
    server.off('request', this.onRequest);
    server.off(this.connectionEvent, this.onConnection);
    server.off('clientError', this.onClientError);
    const passing = new Connections();
    for (const [socket, forget] of this.sockets) {
      socket.off('close', forget);
      passing.add(socket);
    }
    // The requests in flight stay: this pipeline answers them before it stops. The sockets do not.
    this.sockets.clear();
    this.admitted = 0;
    const handle = new HttpListener(server, this.listenerAddress(), passing, this.connectionEvent);
    handle.attach();
    return handle;
  }

  adopt(handle: ListenerHandle): boolean {
    return this.adoption.offer(handle);
  }

  /**
   * Answers the requests in flight (within Grace) before it closes what is left, so that no client gets
   * a broken pipe from a stop or a reload. After a hand-over the server and its connections live on.
   */
  async stop(): Promise<void> {
    const orphan = this.adoption.take();
    if (orphan !== null) this.takeOver(orphan);
    const closing = this.server;
    this.server = null;
    // Stop accepting first (Node also closes the idle keep-alive connections here).
    const closed = closing === null ? Promise.resolve() : new Promise<void>((resolve) => closing.close(() => resolve()));
    await this.inFlightAnswered();
    if (closing !== null) closing.closeAllConnections();
    for (const socket of this.sockets.keys()) socket.destroy();
    await closed;
  }

  listeningPort(): number | null {
    return boundPort(this.server);
  }

  private attachTo(server: http.Server): void {
    server.on('request', this.onRequest);
    server.on(this.connectionEvent, this.onConnection);
    server.on('clientError', this.onClientError);
  }

  /** Starts on a listener handed over by the previous pipeline: its connections, then its waiting requests. */
  private takeOver(handle: HttpListener): void {
    const { server } = handle;
    handle.detach();
    this.attachTo(server);
    server.headersTimeout = this.options.headerTimeoutMs;
    this.server = server;
    const sockets = handle.sockets.release();
    for (const socket of sockets) this.admit(socket);
    for (const { req, res } of handle.requests) {
      if (req.destroyed) continue;
      this.handleRequest(req, res);
      if (!this.paused) req.resume();
    }
    this.context.telemetry.logger.info(`listening on ${hostPort(this.options.listen, boundPort(server) ?? this.options.port)} (kept across the reload with ${sockets.length} connections)`);
  }

  private inFlightAnswered(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    const graceMs = (this.context.service?.graceSeconds ?? 5) * 1000;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private admit(socket: net.Socket): void {
    const { maxConnections } = this.options;
    const counted = maxConnections <= 0 || this.admitted < maxConnections;
    if (counted) this.admitted++;
    else this.overLimit.add(socket);
    const forget = (): void => {
      this.sockets.delete(socket);
      if (counted) this.admitted--;
    };
    this.sockets.set(socket, forget);
    socket.once('close', forget);
  }

  private clientError(error: NodeJS.ErrnoException, socket: net.Socket): void {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const reason =
      status !== 408
        ? `bad HTTP request: ${error.message}`
        : this.readingBody.has(socket)
          ? `request not complete after ${REQUEST_TIMEOUT_MS / 1000} s`
          : `headers not complete after ${this.options.headerTimeoutSeconds} s (header_timeout)`;
    this.context.telemetry.event('warn', `request from ${socket.remoteAddress ?? ''} refused: ${reason} (HTTP ${status})`, REJECTED_METRIC);
    if (socket.bytesWritten === 0) socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  }

  private reply(res: http.ServerResponse, status: number, text: string, close = false): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) };
    if (close) headers['Connection'] = 'close';
    if (status === 503) headers['Retry-After'] = RETRY_AFTER_SECONDS;
    res.writeHead(status, headers);
    res.end(text);
  }

  /** Fluent Bit's health answer, byte for byte but the time (test/fixtures/fluent-bit/http-health). */
  private answerHealth(res: http.ServerResponse): void {
    const { sec, nsec } = eventTimeNow();
    const timestamp = `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
    const body = `{\n  "status": "ok",\n  "message": "${HEALTH_MESSAGE}",\n  "timestamp": "${timestamp}"\n}\n`;
    res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Refuses a request before its body is read (or answers it: /health); true when it was. */
  private refuseEarly(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const { telemetry } = this.context;
    const { maxConnections, maxBodyBytes } = this.options;
    if (this.overLimit.has(req.socket)) {
      telemetry.event('warn', `request from ${req.socket.remoteAddress ?? ''} refused: max_connections (${maxConnections}) reached (HTTP 503)`, REJECTED_METRIC);
      this.reply(res, 503, `error: too many connections: max_connections is ${maxConnections}\n`, true);
      return true;
    }
    if (req.method === 'POST' && !this.context.admit(0)) {
      // Chunk writes fail: the body is not read, so the connection closes after the answer.
      telemetry.logger.debug(`request from ${req.socket.remoteAddress ?? ''} refused: chunk writes fail (HTTP 503)`);
      // The body is not read: it would only be thrown away, so the connection closes once answered.
      res.once('finish', () => req.socket.destroy());
      this.reply(res, 503, STORAGE_FAILING_TEXT, true);
      return true;
    }
    if (req.method === 'GET' && this.options.healthEndpoint && (req.url ?? '').split('?')[0] === '/health') {
      req.resume();
      this.answerHealth(res);
      return true;
    }
    if (req.method !== 'POST') {
      req.resume();
      telemetry.event('warn', `request to ${quoteUntrusted(req.url ?? '/')} from ${req.socket.remoteAddress ?? ''} refused: invalid HTTP method ${quoteUntrusted(req.method ?? '')}`, REJECTED_METRIC);
      this.reply(res, 400, 'error: invalid HTTP method: POST records to /tag/path\n');
      return true;
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBodyBytes) {
      telemetry.event('warn', `request from ${req.socket.remoteAddress ?? ''} refused: Content-Length ${declared} exceeds buffer_max_size (${maxBodyBytes})`, REJECTED_METRIC);
      this.reply(res, 413, `error: payload too large: ${declared} bytes, buffer_max_size is ${maxBodyBytes}\n`, true);
      return true;
    }
    return false;
  }

  private handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.refuseEarly(req, res)) return;
    const state: PendingRequest = { req, res, body: new BodyCollector(this.blocks), idleTimer: null, done: false };
    this.active.add(req);
    this.readingBody.add(req.socket);
    this.budget.open(state);
    this.touch(state);
    req.on('data', (data: Buffer) => this.bodyData(state, data));
    if (this.paused) req.pause();
    const finished = (): void => {
      if (state.idleTimer !== null) clearTimeout(state.idleTimer);
      state.idleTimer = null;
      this.budget.close(state);
      state.body.release();
      this.active.delete(req);
      this.readingBody.delete(req.socket);
      if (this.active.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
    req.on('end', () => {
      if (state.done) return;
      state.done = true;
      const body = state.body.concat();
      finished();
      this.answer(req, res, body);
    });
    req.on('error', finished);
    req.on('close', finished);
  }

  private bodyData(state: PendingRequest, data: Buffer): void {
    if (state.done) return;
    const { maxBodyBytes } = this.options;
    if (state.body.bytes + data.length > maxBodyBytes) {
      this.abandon(state, 413, `body exceeds buffer_max_size (${maxBodyBytes})`, `error: payload too large: more than buffer_max_size (${maxBodyBytes} bytes)\n`);
      return;
    }
    for (const evicted of this.budget.add(state, data)) {
      this.abandon(
        evicted,
        503,
        `bodies in flight reached buffer_total_limit (${this.options.totalBodyLimitBytes} bytes); this one held ${evicted.body.reservedBytes} bytes`,
        `error: server busy: request bodies in flight reached buffer_total_limit, retry later\n`,
      );
    }
    this.touch(state);
  }

  /** Emits the records of a complete body and answers with successful_response_code, or with why not. */
  private answer(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    try {
      this.ingester.ingest(req, body);
      res.writeHead(this.options.successStatus, this.options.successHeaders);
      res.end();
    } catch (error) {
      const rejected = error instanceof RequestRejected ? error : new RequestRejected(400, `error: unable to process records: ${errorMessage(error)}\n`);
      if (rejected.status === 503) {
        // The engine logs the disk failure once; a line per request would only repeat it.
        this.context.telemetry.logger.debug(`request from ${req.socket.remoteAddress ?? ''} refused: ${rejected.message.trim()} (HTTP 503)`);
        return this.reply(res, 503, rejected.message);
      }
      this.context.telemetry.event('warn', `request to ${quoteUntrusted(req.url ?? '/')} from ${req.socket.remoteAddress ?? ''} refused: ${rejected.message.trim()}`, REJECTED_METRIC);
      this.reply(res, rejected.status, rejected.message);
    }
  }

  /** Drops a request whose body is still coming: its memory is released and the connection closed. */
  private abandon(state: PendingRequest, status: 408 | 413 | 503, reason: string, text: string): void {
    if (state.done) return;
    state.done = true;
    if (state.idleTimer !== null) clearTimeout(state.idleTimer);
    state.idleTimer = null;
    this.budget.close(state);
    state.body.release();
    this.active.delete(state.req);
    if (this.active.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    // Stop reading the rest of the body: it would only be thrown away, and churn the heap meanwhile.
    state.req.pause();
    this.context.telemetry.event('warn', `request from ${state.req.socket.remoteAddress ?? ''} refused: ${reason} (HTTP ${status})`, REJECTED_METRIC);
    this.reply(state.res, status, text, true);
  }

  /** Restarts the no-progress timer of a body; while the input is paused, waiting is ours, not the client's. */
  private touch(state: PendingRequest): void {
    const { bodyIdleTimeoutMs, bodyIdleTimeoutSeconds } = this.options;
    if (bodyIdleTimeoutMs <= 0 || state.done) return;
    if (state.idleTimer !== null) {
      state.idleTimer.refresh();
      return;
    }
    state.idleTimer = setTimeout(() => {
      if (this.paused) return state.idleTimer?.refresh();
      this.abandon(state, 408, `no body data for ${bodyIdleTimeoutSeconds} s (body_idle_timeout)`, `error: request timeout: no body data for ${bodyIdleTimeoutSeconds} s\n`);
    }, bodyIdleTimeoutMs);
    state.idleTimer.unref();
  }
}
