/**
 * Shared pieces of the websocket output tests: an in-process agent built from command-line arguments
 * (as bin/wsbit builds it) whose log lines are kept, a `ws` server that counts the records it is sent
 * and can crash and come back on the same port, and a TCP feeder that writes numbered records.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeMulti } from '@msgpack/msgpack';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { LogLevel } from '../../src/base/logger.js';
import type { PluginRegistry } from '../../src/plugins/registry.js';
import { launchAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';

export type RunningTestAgent = InProcessAgent;

/** The shared in-process harness (test/helpers/pipeline.ts), as these tests call it. */
export function startTestAgent(
  argv: string[],
  options: { service?: Record<string, string>; level?: LogLevel; registry?: PluginRegistry } = {},
): Promise<RunningTestAgent> {
  return launchAgent(argv, options);
}

export type CountedFormat = 'json_lines' | 'msgpack';

export interface ServerMessage {
  connection: number;
  isBinary: boolean;
  data: Buffer;
}

/**
 * A `ws` server (the independent peer) that decodes every message as json_lines or msgpack and
 * counts records by their `seq` field. It answers pings itself, as `ws` always does. `crash()` drops
 * every connection without a close frame and stops listening, as a killed server process would;
 * `start()` listens again on the same port.
 */
export class CountingServer {
  port = 0;
  /** Records received, duplicates included. */
  records = 0;
  /** How many times each seq was received. */
  readonly seqs = new Map<number, number>();
  readonly messages: ServerMessage[] = [];
  readonly requests: IncomingMessage[] = [];
  /** Close codes the clients sent, in order. */
  readonly closeCodes: number[] = [];
  /** Each connection's message count, by connection number. */
  readonly messagesPerConnection: number[] = [];
  /** Date.now() of the last (re)start, and of the first message after it. */
  startedAtMs = 0;
  /** HTTP requests that were not upgrades, and bytes the HTTP parser could not read (frames on a socket that never upgraded). */
  badRequests = 0;
  firstMessageAfterStartMs: number | null = null;
  private http: HttpServer | null = null;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  readonly clients = new Set<WebSocket>();
  private readingPaused = false;

  /** Bytes read from the sockets that have closed; the open ones are added by wireBytes. */
  private closedSocketBytes = 0;

  constructor(
    readonly format: CountedFormat,
    private readonly keepMessages = false,
    serverOptions: Pick<ServerOptions, 'perMessageDeflate'> = {},
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024, ...serverOptions });
  }

  /** Every byte received on the wire so far: handshakes, frame headers and (compressed) payloads. */
  get wireBytes(): number {
    let open = 0;
    for (const socket of this.sockets) open += socket.bytesRead;
    return this.closedSocketBytes + open;
  }

  get handshakes(): number {
    return this.requests.length;
  }

  get unique(): number {
    return this.seqs.size;
  }

  get duplicates(): number {
    return this.records - this.seqs.size;
  }

  async start(): Promise<void> {
    if (this.http !== null) return;
    const http = createHttpServer((_request, response) => {
      this.badRequests++;
      response.writeHead(426).end();
    });
    http.on('clientError', (_error, socket: Socket) => {
      this.badRequests++;
      socket.destroy();
    });
    http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => {
        if (this.sockets.delete(socket)) this.closedSocketBytes += socket.bytesRead;
      });
    });
    http.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
      this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, request, socket));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.http = http;
    this.port = (http.address() as AddressInfo).port;
    this.startedAtMs = Date.now();
    this.firstMessageAfterStartMs = null;
  }

  /** Drops every connection (no close frame) and stops listening. */
  async crash(): Promise<void> {
    const http = this.http;
    this.http = null;
    for (const socket of this.sockets) socket.destroy();
    this.clients.clear();
    if (http !== null) await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  async restart(downMs: number): Promise<void> {
    await this.crash();
    await sleep(downMs);
    await this.start();
  }

  /** Two restarts of 100 ms within half a second, up just long enough between them for a flush (every 250 ms) to connect again; returns how long they took. */
  async restartTwice(): Promise<number> {
    const started = Date.now();
    await this.restart(100);
    await sleep(230);
    await this.restart(100);
    return Date.now() - started;
  }

  /** Stops reading the sockets, so the client's data piles up in the kernel buffers. */
  pauseReading(): void {
    this.readingPaused = true;
    for (const ws of this.clients) rawSocket(ws).pause();
  }

  resumeReading(): void {
    this.readingPaused = false;
    for (const ws of this.clients) rawSocket(ws).resume();
  }

  /** Records with seq 1..sent: how many never arrived. */
  lost(sent: number): number {
    let lost = 0;
    for (let seq = 1; seq <= sent; seq++) if (!this.seqs.has(seq)) lost++;
    return lost;
  }

  async close(): Promise<void> {
    await this.crash();
    this.wss.close();
  }

  private onConnection(ws: WebSocket, request: IncomingMessage, socket: Socket): void {
    const connection = this.requests.length;
    this.requests.push(request);
    this.messagesPerConnection.push(0);
    this.clients.add(ws);
    if (this.readingPaused) socket.pause();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.firstMessageAfterStartMs ??= Date.now();
      this.messagesPerConnection[connection] = (this.messagesPerConnection[connection] ?? 0) + 1;
      if (this.keepMessages) this.messages.push({ connection, isBinary, data: Buffer.from(data) });
      for (const record of decodeRecords(this.format, data)) {
        this.records++;
        const seq = record['seq'];
        if (typeof seq === 'number') this.seqs.set(seq, (this.seqs.get(seq) ?? 0) + 1);
      }
    });
    ws.on('close', (code: number) => {
      this.closeCodes.push(code);
      this.clients.delete(ws);
    });
    ws.on('error', () => undefined);
  }
}

/** The TCP socket under a `ws` WebSocket (not in its typings). */
function rawSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

/** The record bodies in a json_lines payload or a msgpack chunk (`[[time, metadata], body]` events). */
export function decodeRecords(format: CountedFormat, data: Buffer): Array<Record<string, unknown>> {
  if (format === 'json_lines') {
    const text = data.toString('utf8');
    if (!text.endsWith('\n')) throw new Error(`json_lines payload does not end with a newline: ${JSON.stringify(text.slice(-40))}`);
    return text
      .slice(0, -1)
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
  const bodies: Array<Record<string, unknown>> = [];
  for (const event of decodeMulti(data)) {
    const body = (event as unknown[])[1];
    bodies.push(body as Record<string, unknown>);
  }
  return bodies;
}

export async function startCountingServer(format: CountedFormat, keepMessages = false, serverOptions: Pick<ServerOptions, 'perMessageDeflate'> = {}): Promise<CountingServer> {
  const server = new CountingServer(format, keepMessages, serverOptions);
  await server.start();
  return server;
}

/**
 * Writes numbered JSON records (`{"seq":N,"pad":"..."}`) to a tcp input at a steady rate. `sent`
 * counts records handed to the socket; `done` resolves once all are written.
 */
export class TcpFeeder {
  sent = 0;
  private readonly socket: Socket;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(
    port: number,
    private readonly options: { count: number; perSecond: number; padBytes?: number; firstSeq?: number },
  ) {
    this.socket = netConnect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    this.done = this.run();
  }

  private async run(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    const pad = 'x'.repeat(this.options.padBytes ?? 60);
    const first = this.options.firstSeq ?? 1;
    const tickMs = 20;
    const started = Date.now();
    while (!this.stopped && this.sent < this.options.count) {
      // Catch up with the schedule rather than drift, so the rate holds under load.
      const due = Math.min(this.options.count, Math.floor(((Date.now() - started) / 1000) * this.options.perSecond) + 1);
      let text = '';
      for (; this.sent < due; this.sent++) text += `{"seq":${first + this.sent},"pad":"${pad}"}\n`;
      if (text !== '') this.socket.write(text);
      await sleep(tickMs);
    }
    await new Promise<void>((resolve) => this.socket.write('', () => resolve()));
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.done.catch(() => undefined);
    await new Promise<void>((resolve) => this.socket.end(() => resolve()));
  }
}

/**
 * Waits until all `sent` records have reached `peer`, and prints the figures either way (with `extra`),
 * and the agent's last log lines when some never came.
 */
export async function waitForAll(
  t: TestContext,
  name: string,
  sent: number,
  peer: CountingServer,
  running: { logs(): string },
  options: { timeoutMs?: number; extra?: () => string } = {},
): Promise<void> {
  try {
    await waitFor(() => peer.lost(sent) === 0, `all ${sent} records at the server`, options.timeoutMs ?? 20_000, 50);
  } finally {
    t.diagnostic(figures(name, sent, peer, options.extra?.() ?? ''));
    if (peer.lost(sent) !== 0) t.diagnostic(running.logs().slice(-3000));
  }
}

/** One line for the test output: what went in, what came out. */
export function figures(name: string, sent: number, server: CountingServer, extra = ''): string {
  return `${name}: sent ${sent}, received ${server.unique} distinct (${server.records} in all), lost ${server.lost(sent)}, duplicates ${server.duplicates}, handshakes ${server.handshakes}${extra ? `, ${extra}` : ''}`;
}

/**
 * conf/tcp-to-websocket.conf as its comments tell users to run it (Fluent Bit's docs test): a `ws`
 * server on 127.0.0.1:8080, the docs record into the tcp input on 5170, one JSON array out.
 * Used by test/e2e/conf.test.ts, which runs every example in conf/ with `port` mapping the file's
 * ports to free ones.
 */
export async function tcpToWebsocketScenario(
  agent: { waitForOutput(pattern: RegExp | string, what?: string, timeoutMs?: number): Promise<void> },
  port: (examplePort: number) => number,
): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: port(8080) });
  const messages: Array<{ text: string; isBinary: boolean }> = [];
  wss.on('connection', (ws) => ws.on('message', (data: Buffer, isBinary: boolean) => messages.push({ text: data.toString(), isBinary })));
  try {
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    await agent.waitForOutput(`listening on 127.0.0.1:${port(5170)}`);
    await new Promise<void>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: port(5170) }, () => socket.end('{"key 1": 123456789, "key 2": "abcdefg"}\n'));
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await waitFor(() => messages.length > 0, `a message at 127.0.0.1:${port(8080)}`);
    const [message] = messages;
    if (message?.isBinary !== false || !/^\[\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}\]$/.test(message.text)) {
      throw new Error(`unexpected message at the server: ${JSON.stringify(message)}`);
    }
  } finally {
    for (const ws of wss.clients) ws.close(1001, 'test over');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

/** test/plugins/fixtures/ws-count-server.ts (websocket-driver), as a child process. */
export class DriverServer {
  port = 0;
  readonly seqs = new Map<number, number>();
  records = 0;
  handshakes = 0;
  /** Protocol errors the driver found in what wsbit sent. */
  readonly errors: string[] = [];
  private child: ChildProcessWithoutNullStreams | null = null;

  /** `deflate`: the server accepts permessage-deflate (faye's plugin). */
  constructor(private readonly options: { deflate?: boolean } = {}) {}

  async start(): Promise<void> {
    const script = fileURLToPath(new URL('fixtures/ws-count-server.js', import.meta.url));
    const child = spawn(process.execPath, [script, String(this.port), ...(this.options.deflate === true ? ['deflate'] : [])]);
    this.child = child;
    let pending = '';
    let listening = false;
    child.stdout.on('data', (data: Buffer) => {
      pending += data.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [word, ...rest] = line.split(' ');
        if (word === 'listening') {
          this.port = Number(rest[0]);
          listening = true;
        } else if (word === 'connection') {
          this.handshakes++;
        } else if (word === 'records') {
          for (const seq of rest.map(Number)) {
            this.records++;
            this.seqs.set(seq, (this.seqs.get(seq) ?? 0) + 1);
          }
        } else if (word === 'error') {
          this.errors.push(rest.join(' '));
        }
      }
    });
    child.stderr.on('data', (data: Buffer) => process.stderr.write(`[websocket-driver] ${data.toString()}`));
    await waitFor(() => listening, 'the websocket-driver server to listen', 10_000);
  }

  /** SIGTERM: the server sends Close 1001 to its clients and exits, as a service restart does. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  lost(sent: number): number {
    let lost = 0;
    for (let seq = 1; seq <= sent; seq++) if (!this.seqs.has(seq)) lost++;
    return lost;
  }
}

type ScenarioPart = { close(): Promise<unknown> } | { stop(): Promise<unknown> } | undefined;

/** Ends what a scenario started, in the order given (the feeder first, so nothing writes to a stopped agent). */
export async function endScenario(...parts: ScenarioPart[]): Promise<void> {
  for (const part of parts) {
    if (part === undefined) continue;
    await ('stop' in part ? part.stop() : part.close());
  }
}
