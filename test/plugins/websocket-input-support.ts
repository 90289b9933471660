/**
 * Shared pieces of the websocket input tests: an in-process agent whose websocket input listens on a
 * free port and whose records land in the `capture` output, a `ws` client that can send and ping,
 * the recorded Fluent Bit bytes, and the drivers of the conf/ examples (quickstart, agent, aggregator)
 * that the conf/ end-to-end suite runs as documented.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { launchChromium } from '../helpers/browser.js';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { artifactPath, fluentBitFixtures } from '../helpers/paths.js';
import type { RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';

export const INPUT = 'websocket.0';

/** Fluent Bit 5.1.1's recordings (test/fixtures/fluent-bit). */
export function fluentBitFixture(name: 'msgpack.two_records.bin' | 'handshake_request.bin'): Buffer {
  return readFileSync(path.join(fluentBitFixtures, name));
}

export interface InputHarness {
  running: InProcessAgent;
  port: number;
  url(pathAndQuery?: string): string;
  /** Every captured event with its tag, in order. */
  events(): Array<DecodedEvent & { tag: string }>;
  /** The raw bytes of every captured chunk, joined. */
  bytes(): Buffer;
  metric(name: Parameters<InProcessAgent['agent']['metrics']['get']>[0]): number;
  logs(): string;
}

/**
 * Starts `-i websocket` with `props` (listen 127.0.0.1, port 0) → `-o capture`, flushing every 50 ms.
 * `service` adds [SERVICE] keys (storage.path).
 */
export async function startInput(t: { after(fn: () => unknown): void }, props: string[] = [], service: Record<string, string> = {}, inputKeys: string[] = []): Promise<InputHarness> {
  const argv = ['-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...[...props, ...inputKeys].flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05'];
  const running = await startAgent(argv, undefined, service);
  t.after(() => running.stop());
  const port = running.agent.input(INPUT)?.listeningPort?.();
  assert.equal(typeof port, 'number');
  return {
    running,
    port: port as number,
    url: (pathAndQuery = '/') => `ws://127.0.0.1:${port as number}${pathAndQuery}`,
    events: () => running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ ...event, tag: chunk.tag }))),
    bytes: () => Buffer.concat(running.chunks.map((chunk) => chunk.data)),
    metric: (name) => running.agent.metrics.get(name, INPUT),
    logs: () => running.lines.join(''),
  };
}

/** A `ws` client that sends and pings, and remembers how it was closed. */
export interface SendingClient {
  ws: WebSocket;
  closeCode: number | undefined;
  closeReason: string;
  pongs: string[];
  /** Sends text (a string) or a binary frame (a Buffer), or a Buffer as text with `{ text: true }`. */
  send(data: string | Buffer, options?: { text?: boolean }): Promise<void>;
  /** Pings and resolves with the pong's payload. */
  ping(payload: string, timeoutMs?: number): Promise<string>;
  waitForClose(timeoutMs?: number): Promise<number>;
  close(): void;
}

/** `perMessageDeflate` (ws's client option) offers compression; off by default. */
export function openClient(url: string, headers: Record<string, string> = {}, perMessageDeflate: ClientOptions['perMessageDeflate'] = false): Promise<SendingClient> {
  const ws = new WebSocket(url, { headers, perMessageDeflate });
  const client: SendingClient = {
    ws,
    closeCode: undefined,
    closeReason: '',
    pongs: [],
    send: (data, options = {}) =>
      new Promise((resolve, reject) => ws.send(data, { binary: typeof data !== 'string' && options.text !== true }, (error) => (error ? reject(error) : resolve()))),
    ping(payload, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no pong for ping ${payload}`)), timeoutMs);
        const onPong = (data: Buffer): void => {
          if (data.toString() !== payload) return;
          clearTimeout(timer);
          ws.off('pong', onPong);
          resolve(data.toString());
        };
        ws.on('pong', onPong);
        ws.ping(payload);
      });
    },
    async waitForClose(timeoutMs = 5000) {
      await waitFor(() => client.closeCode !== undefined, 'the server to close the connection', timeoutMs);
      return client.closeCode as number;
    },
    close: () => ws.terminate(),
  };
  ws.on('pong', (data: Buffer) => client.pongs.push(data.toString()));
  ws.on('close', (code: number, reason: Buffer) => {
    client.closeCode = code;
    client.closeReason = reason.toString();
  });
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_request, response) => reject(new Error(`refused with HTTP ${response.statusCode ?? 0}`)));
    ws.once('error', reject);
  });
}

export { freePort } from '../helpers/ports.js';

/**
 * Loads a websocket_server live page in headless Chromium (test/helpers/browser.ts) and waits until it
 * shows `minRows` records whose text matches `text`; returns their tags.
 */
export async function livePageRows(url: string, minRows: number, text: RegExp, screenshot?: string): Promise<string[]> {
  const launched = await launchChromium();
  const browser = launched.browser;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    await page.goto(url);
    const deadline = Date.now() + 15_000;
    while ((await page.locator('#list .row').count()) < minRows) {
      if (Date.now() > deadline) throw new Error(`the live page at ${url} shows fewer than ${minRows} rows`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const rows = await page.locator('#list .row').all();
    const tags = await Promise.all(rows.map(async (row) => (await row.getAttribute('data-tag')) ?? ''));
    assert.match(await rows[0]!.locator('.rec').innerText(), text);
    if (screenshot !== undefined) {
      await page.screenshot({ path: artifactPath(screenshot), animations: 'disabled' });
    }
    assert.deepEqual(problems, []);
    return tags;
  } finally {
    await launched.close();
  }
}

function messagesOf(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/**
 * conf/quickstart.conf: dummy → websocket output → websocket input → websocket_server with the live
 * page. `ports` are those of the file (a test may run a copy on other ports).
 */
export async function quickstartScenario(agent: RunningAgent, ports: { input: number; page: number }, screenshot?: string): Promise<void> {
  await agent.waitForOutput(`[input:websocket:websocket.0] listening on 127.0.0.1:${ports.input}`);
  await agent.waitForOutput(`live page at http://127.0.0.1:${ports.page}/`, 'the live page URL at info level');
  // A plain WebSocket client of the live page sees the records that made the round trip, tagged by the input.
  const viewer = new WebSocket(`ws://127.0.0.1:${ports.page}/`);
  const frames: string[] = [];
  viewer.on('message', (data) => frames.push(messagesOf(data).toString('utf8')));
  viewer.on('error', () => undefined);
  // The record as the dummy makes it, in wsbit's JSON (escape_unicode on). Records an earlier run left in
  // storage.path (those still on their way at its Ctrl-C) may come first.
  const current = /\{"message":"hello over WebSocket","level":"info","user":"Jos\\u00e9","latency_ms":12\.5\}\]$/;
  try {
    await waitFor(() => frames.filter((frame) => current.test(frame)).length >= 2, 'two records at the live page', 15_000);
    for (const frame of frames) {
      const [tag, , record] = JSON.parse(frame) as [string, number, Record<string, unknown>];
      assert.equal(tag, 'received.demo');
      assert.equal(record['message'], 'hello over WebSocket');
      // The input took the time from the message and did not add a date key.
      assert.equal(Object.hasOwn(record, 'date'), false);
    }
  } finally {
    viewer.terminate();
  }
  // Nothing failed, and one connection carried everything.
  assert.doesNotMatch(agent.stderr(), /\[error\]/);
  assert.equal((agent.stderr().match(/handshake with ws:\/\/127\.0\.0\.1:\d+\/ingest succeeded/g) ?? []).length, 1);
  const tags = await livePageRows(`http://127.0.0.1:${ports.page}/`, 2, /hello over WebSocket/, screenshot);
  assert.ok(tags.every((tag) => tag === 'received.demo'), `tags on the page: ${tags.join(', ')}`);
}

/**
 * conf/aggregator.conf alone: a client (standing in for agents) sends msgpack and json_lines with the
 * example's token; the records come out as JSON lines on stdout. `port` maps the file's ports to those
 * of the copy that runs.
 */
export async function aggregatorScenario(agent: RunningAgent, port: (examplePort: number) => number): Promise<void> {
  await agent.waitForOutput(`[input:websocket:websocket.0] listening on 127.0.0.1:${port(8090)}`);
  await agent.waitForOutput(`live page at http://127.0.0.1:${port(8091)}/`);
  const refused = await openClient(`ws://127.0.0.1:${port(8090)}/ingest`).then(
    (client) => {
      client.close();
      return 'accepted';
    },
    (error: Error) => error.message,
  );
  assert.equal(refused, 'refused with HTTP 401');
  const client = await openClient(`ws://127.0.0.1:${port(8090)}/ingest`, { Authorization: 'Bearer wsbit-example-token' });
  try {
    await client.send('{"date":1700000000.5,"from":"json_lines","n":18446744073709551615}\n');
    await client.ping('1');
    await agent.waitForOutput('"from":"json_lines"');
    assert.match(agent.stdout(), /^\{"date":1700000000\.5,"from":"json_lines","n":18446744073709551615\}$/m);
  } finally {
    client.close();
  }
}

/**
 * conf/agent.conf alone: a `ws` server on the aggregator's port checks the token and receives the
 * agent's heartbeat records as msgpack binary messages. `port` maps the file's ports to those of the
 * copy that runs.
 */
export async function agentScenario(agent: RunningAgent, port: (examplePort: number) => number): Promise<void> {
  const authorizations: Array<string | undefined> = [];
  const bodies: unknown[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: port(8090), path: '/ingest' });
  wss.on('connection', (ws, request) => {
    authorizations.push(request.headers.authorization);
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, true);
      for (const event of decodeEvents(messagesOf(data))) bodies.push(event.body);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    await agent.waitForOutput(`listening on 127.0.0.1:${port(5170)}`);
    await waitFor(() => bodies.length >= 1, 'a heartbeat at the aggregator', 15_000);
    assert.deepEqual(bodies[0], { message: 'agent heartbeat' });
    assert.equal(authorizations[0], 'Bearer wsbit-example-token');
  } finally {
    for (const ws of wss.clients) ws.close(1001, 'test over');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}
