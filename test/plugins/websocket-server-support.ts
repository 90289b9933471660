/**
 * Helpers for the websocket_server tests: the output driven in-process with hand-built chunks, and the
 * clients that talk to it (ws, undici, and a raw socket that can stop reading).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { WebSocket as UndiciWebSocket } from 'undici';
import { WebSocket as WsClient, type RawData } from 'ws';
import { writeEvent } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { resolveConfig, type ConfigEntry } from '../../src/config/schema.js';
import type { ChunkView } from '../../src/pipeline/chunk.js';
import { systemClock, type Clock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import {
  createWebSocketServerOutput,
  websocketServerOutput,
  type WebSocketServerConfig,
  type WebSocketServerOutput,
} from '../../src/plugins/outputs/websocket-server.js';
import type { RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';

export const INSTANCE = 'websocket_server.0';

export interface TestRecord {
  sec?: number;
  /** JSON object text. */
  body: string;
}

let chunkSequence = 0;

/** A sealed chunk as the engine hands it to an output. */
export function chunkOf(tag: string, records: readonly TestRecord[]): ChunkView {
  const writer = new MsgpackWriter();
  for (const record of records) writeEvent(writer, record.sec ?? 1364699026, 5000, null, jsonTextToMsgpack(record.body));
  return { id: `test-${chunkSequence++}.flb`, tag, inputInstance: 'dummy.0', data: writer.bytes(), records: records.length };
}

export interface ServerHarness {
  output: WebSocketServerOutput;
  config: WebSocketServerConfig;
  port: number;
  logLines: string[];
  metrics: MetricsRegistry;
  /** ws://127.0.0.1:PORT + path (wss with tls on). */
  url(path?: string): string;
  /** http://127.0.0.1:PORT + path (https with tls on). */
  httpUrl(path?: string): string;
  flush(tag: string, records: readonly TestRecord[]): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ServerHarness>();

/** Stops every server a test left running (call from afterEach). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((harness) => harness.stop()));
}

/** Starts the output on 127.0.0.1, port 0, with the given keys on top of the defaults. */
export async function startServer(settings: Record<string, string | number | boolean> = {}, clock: Clock = systemClock): Promise<ServerHarness> {
  const entries: ConfigEntry[] = Object.entries({ host: '127.0.0.1', port: 0, ...settings }).map(([key, value]) => ({
    key,
    value: typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value),
  }));
  const { config } = resolveConfig(websocketServerOutput.schema, entries, { instance: INSTANCE, kind: 'output' });
  const logLines: string[] = [];
  const root = new LogRoot({ level: 'debug', sink: { write: (line) => logLines.push(line) } });
  const logger = root.scoped(`output:websocket_server:${INSTANCE}`);
  const metrics = new MetricsRegistry();
  const output = createWebSocketServerOutput({
    instance: INSTANCE,
    config,
    logger,
    telemetry: new Telemetry(INSTANCE, logger, metrics),
    clock,
    service: { flushSeconds: 1, graceSeconds: 5, escapeUnicode: true, convertNanToNull: false },
    notifyReady: () => undefined,
  });
  await output.start?.();
  const port = output.listeningPort();
  if (port === null) throw new Error('websocket_server did not report its port');
  let stopped = false;
  const harness: ServerHarness = {
    output,
    config,
    port,
    logLines,
    metrics,
    url: (path = '/') => `${config.tls ? 'wss' : 'ws'}://127.0.0.1:${port}${path}`,
    httpUrl: (path = '/') => `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`,
    async flush(tag, records) {
      const result = await output.flush(chunkOf(tag, records));
      if (result !== 'ok') throw new Error(`flush returned ${result}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(harness);
      await output.stop?.(true);
    },
  };
  running.add(harness);
  return harness;
}

export interface Frame {
  data: Buffer;
  binary: boolean;
}

/** What every test client offers: the frames received so far and how the connection ended. */
export interface TestClient {
  readonly frames: Frame[];
  readonly closeCode: number | undefined;
  waitForFrames(count: number, timeoutMs?: number): Promise<void>;
  waitForClose(timeoutMs?: number): Promise<number>;
  close(): void;
}

const openClients = new Set<TestClient>();

export function closeAllClients(): void {
  for (const client of openClients) client.close();
  openClients.clear();
}

function toBuffer(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

function trackedClient(closeClient: () => void): {
  client: TestClient;
  received(frame: Frame): void;
  closed(code: number): void;
} {
  const frames: Frame[] = [];
  let closeCode: number | undefined;
  const client: TestClient = {
    frames,
    get closeCode() {
      return closeCode;
    },
    waitForFrames: (count, timeoutMs = 10_000) => waitFor(() => frames.length >= count, `${count} frames (have ${frames.length})`, timeoutMs, 2),
    async waitForClose(timeoutMs = 10_000) {
      await waitFor(() => closeCode !== undefined, 'the connection to close', timeoutMs);
      return closeCode ?? -1;
    },
    close: closeClient,
  };
  openClients.add(client);
  return {
    client,
    received: (frame) => frames.push(frame),
    closed: (code) => {
      closeCode = code;
      openClients.delete(client);
    },
  };
}

/** A client built on the `ws` package. */
export function wsClient(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const ws = new WsClient(url, { headers });
  const tracked = trackedClient(() => ws.terminate());
  ws.on('message', (data, isBinary) => tracked.received({ data: toBuffer(data), binary: isBinary }));
  ws.on('close', (code) => tracked.closed(code));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(tracked.client));
    ws.once('error', reject);
  });
}

/** A client built on undici's WHATWG WebSocket (headers are undici's extension to the constructor). */
export function undiciClient(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const ws = new UndiciWebSocket(url, { headers });
  ws.binaryType = 'arraybuffer';
  const tracked = trackedClient(() => ws.close());
  ws.addEventListener('message', (event: { data: unknown }) => {
    const data = event.data;
    if (typeof data === 'string') tracked.received({ data: Buffer.from(data, 'utf8'), binary: false });
    else if (data instanceof ArrayBuffer) tracked.received({ data: Buffer.from(data), binary: true });
  });
  ws.addEventListener('close', (event: { code: number }) => tracked.closed(event.code));
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(tracked.client));
    ws.addEventListener('error', () => reject(new Error(`undici WebSocket could not connect to ${url}`)));
  });
}

/** Opens with `ws` expecting a refusal before the upgrade; resolves with the HTTP status and body. */
export function expectRefused(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const ws = new WsClient(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`expected ${url} to be refused, but the upgrade succeeded`));
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body += text));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }));
    });
    ws.once('error', () => undefined);
  });
}

export interface RawClient {
  socket: Socket;
  /** Bytes after the 101 response: the start of the frame stream. */
  rest: Buffer;
  /** The 101 response's head, without its blank line. */
  response: string;
}

/**
 * A WebSocket client by hand that reads nothing after the handshake (a reader that stalls);
 * `extraHeaders` (each ending in CRLF) go into its request, such as an extension offer.
 */
export function rawClient(port: number, path = '/', extraHeaders = ''): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
      ),
    );
    const onData = (data: Buffer): void => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`raw client refused: ${head.subarray(0, end).toString('latin1')}`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + 4), response: head.subarray(0, end).toString('latin1') });
    };
    socket.on('data', onData);
  });
}

export function metric(harness: ServerHarness, name: Parameters<MetricsRegistry['get']>[0]): number {
  return harness.metrics.get(name, INSTANCE);
}

/**
 * Drives a running http-to-browser example: finds its port in the log, reads records of both tags with
 * a ws client and loads the live page. Exported so the conf/ end-to-end suite can run it as documented.
 */
export async function httpToBrowserScenario(agent: RunningAgent): Promise<{ port: number }> {
  const listening = /\[output:websocket_server:websocket_server\.0\] listening on 127\.0\.0\.1:(\d+), live page at http:\/\/127\.0\.0\.1:\d+\//;
  await agent.waitForOutput(listening, 'the listening line');
  const port = Number(listening.exec(agent.stderr())?.[1]);
  const httpListening = /\[input:http:http\.0\] listening on 127\.0\.0\.1:(\d+)/;
  await agent.waitForOutput(httpListening, 'the http input listening');
  const httpPort = Number(httpListening.exec(agent.stderr())?.[1]);
  const client = await wsClient(`ws://127.0.0.1:${port}/`);
  // The file's curl line: curl -X POST -d 'json={"action":"login","user":6}' http://127.0.0.1:8888/foo/bar
  const posted = await fetch(`http://127.0.0.1:${httpPort}/foo/bar`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'json={"action":"login","user":6}',
  });
  assert.equal(posted.status, 201);
  const parsed = () => client.frames.map((frame) => JSON.parse(frame.data.toString()) as [string, number, Record<string, unknown>]);
  await waitFor(() => new Set(parsed().map(([tag]) => tag)).size === 2 && parsed().length >= 4, 'web.access and foo.bar records', 10_000);
  const messages = parsed();
  const tags = new Set(messages.map(([tag]) => tag));
  assert.deepEqual([...tags].sort(), ['foo.bar', 'web.access']);
  for (const [tag, time, record] of messages) {
    assert.ok(Number.isInteger(time) && Math.abs(time - Date.now() / 1000) < 60, `time ${time}`);
    assert.deepEqual(record, tag === 'foo.bar' ? { action: 'login', user: 6 } : { method: 'GET', path: '/index.html', status: 200, bytes: 5120, agent: 'curl/8.5.0' });
  }
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /wsbit live/);
  return { port };
}
