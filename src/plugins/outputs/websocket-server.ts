/**
 * `websocket_server`: the Ruby fluent-plugin-websocket brought into wsbit. It runs a WebSocket server and
 * broadcasts every record to the connected clients as `[tag, time, record]`, one JSON text frame or one
 * msgpack binary frame per record. Beyond the plugin: replay of the newest messages to new clients,
 * per-client tag filters (`?match=`), slow-client protection, a client limit, an optional token, an
 * Origin check, pings, and a live page at `GET /` on the same port.
 *
 * `ws` does the WebSocket protocol; this file owns the HTTP side: who may upgrade, and the page.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConfigError, errorMessage } from '../../base/errors.js';
import { hostPolicy } from '../../base/host-check.js';
import type { TimerHandle } from '../../base/clock.js';
import { boundPort, closeServer, hostPort, listenOn } from '../../base/listen.js';
import { defineOutput, type OutputContext, type OutputInstance } from '../../pipeline/contracts.js';
import type { ResolvedConfig } from '../../config/schema.js';
import { hostRefusal, peerAddress, requestUrl, screenUpgrade, tokenAccepted, type UpgradeGate } from '../../websocket/admission.js';
import { Broadcaster, CLOSE_GOING_AWAY } from './websocket-server/broadcast.js';
import { encodeMessages, type MessageShape } from './websocket-server/encode.js';
import { reportRejectedRecords } from './rejected.js';
import { MSGPACK_ASSET_PATH, STATUS_PATH, livePage } from './websocket-server/live-page.js';
import { quoteUntrusted } from '../../base/logger.js';

const schema = [
  {
    key: 'host',
    type: 'string',
    default: '127.0.0.1',
    description: "Address to listen on. The default keeps the stream on this machine; 0.0.0.0 (fluent-plugin-websocket's default) opens it to the network.",
  },
  { key: 'port', type: 'int', default: 8080, description: 'TCP port to listen on (0 picks a free port, logged at start-up).' },
  { key: 'use_msgpack', type: 'bool', default: false, description: 'Send each record as one msgpack binary frame instead of one JSON text frame.' },
  { key: 'add_time', type: 'bool', default: false, description: 'Include the record time (integer seconds) in each message.' },
  { key: 'add_tag', type: 'bool', default: true, description: 'Include the tag in each message.' },
  { key: 'buffered_messages', type: 'int', default: 0, description: 'Send each new client the newest N messages (that match its filter) first; 0 = none.' },
  {
    key: 'max_client_buffer',
    type: 'size',
    default: '8M',
    description: 'Close a client with code 1013 once this much data is waiting to be sent to it, so a slow reader never holds back the others (0 = no limit).',
  },
  { key: 'max_clients', type: 'int', default: 100, description: 'Most clients connected at once; further upgrade requests get HTTP 503 (0 = no limit).' },
  {
    key: 'token',
    type: 'string',
    default: null,
    description: 'Require clients to send Authorization: Bearer <token> or ?token=<token>; others get HTTP 401. The token is never logged.',
  },
  {
    key: 'allowed_origins',
    type: 'list',
    default: null,
    description: 'Web page origins (e.g. https://dash.example:3000) allowed to connect, or *. The live page and clients that send no Origin header are always allowed.',
  },
  {
    key: 'allowed_hosts',
    type: 'list',
    default: null,
    description:
      'Without a token, requests (page, /status, upgrade) must name this server in Host: a loopback address, localhost, the listen address (any IP address and the machine name when listening on 0.0.0.0), or a name listed here (* = any). Others get HTTP 403; this stops DNS rebinding.',
  },
  { key: 'ping_interval', type: 'time', default: '30s', description: 'Ping every client this often and drop those that did not answer the previous ping (0 = never).' },
  { key: 'live_page', type: 'bool', default: true, description: 'Serve a live view of the records at GET / on the same port.' },
] as const;

export type WebSocketServerConfig = ResolvedConfig<typeof schema>;

/** The output instance, with what tests and the bench need to find it. */
export interface WebSocketServerOutput extends OutputInstance {
  /** The bound port once started (useful with `port 0`), else null. */
  listeningPort(): number | null;
  clientCount(): number;
}

/** Time a client gets to answer our close frame at shutdown, and a slow client to read its backlog. */
const CLOSE_TIMEOUT_MS = 2000;
/** Clients send nothing but control frames; a larger message is refused (ws closes with 1009). */
const MAX_CLIENT_MESSAGE_BYTES = 4096;

function validate(config: WebSocketServerConfig, instance: string): void {
  const bad = (key: string, value: unknown, expected: string): ConfigError =>
    new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value '${String(value)}' for '${key}': expected ${expected}`);
  if (config.port < 0 || config.port > 65535) throw bad('port', config.port, 'a TCP port from 0 to 65535');
  if (config.buffered_messages < 0) throw bad('buffered_messages', config.buffered_messages, 'a number of messages, 0 or more');
  if (config.max_clients < 0) throw bad('max_clients', config.max_clients, 'a number of clients, 0 or more');
  if (config.token === '') throw bad('token', config.token, 'a non-empty token');
}

let msgpackBundle: Promise<Buffer> | undefined;

/** The browser (UMD) build of @msgpack/msgpack, read from the installed package on first use. */
function msgpackBrowserBundle(): Promise<Buffer> {
  msgpackBundle ??= readFile(createRequire(import.meta.url).resolve('@msgpack/msgpack/dist.umd/msgpack.min.js'));
  return msgpackBundle;
}

export function createWebSocketServerOutput(context: OutputContext<WebSocketServerConfig>): WebSocketServerOutput {
  const { config, instance, telemetry, logger } = context;
  validate(config, instance);
  const shape: MessageShape = {
    addTag: config.add_tag,
    addTime: config.add_time,
    useMsgpack: config.use_msgpack,
    escapeUnicode: context.service.escapeUnicode,
    convertNanToNull: context.service.convertNanToNull,
  };
  const broadcaster = new Broadcaster({
    binary: config.use_msgpack,
    maxClientBufferBytes: config.max_client_buffer,
    replayMessages: config.buffered_messages,
    slowCloseGraceMs: CLOSE_TIMEOUT_MS,
    clock: context.clock,
    telemetry,
  });
  // ws does the handshake, pings, pongs and closing (the broadcaster writes the data frames, see
  // broadcast.ts); clientTracking is off because the broadcaster keeps the clients.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: MAX_CLIENT_MESSAGE_BYTES });
  let server: Server | null = null;
  let pingTimer: TimerHandle | null = null;
  let stopping = false;

  const gate: UpgradeGate = {
    subject: 'the server',
    hosts: config.token === null ? hostPolicy(config.host, config.allowed_hosts) : null,
    path: null,
    allowedOrigins: config.allowed_origins,
    token: config.token,
    capacity: { key: 'max_clients', max: config.max_clients },
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const admitted = screenUpgrade(request, socket, gate, { stopping, connected: broadcaster.size }, telemetry, 'wsbit_output_broadcast_rejected_clients_total');
    if (admitted === null) return;
    const { url, remote } = admitted;
    const patterns = url.searchParams
      .getAll('match')
      .flatMap((value) => value.split(','))
      .map((pattern) => pattern.trim())
      .filter((pattern) => pattern !== '');
    wss.handleUpgrade(request, socket, head, (ws) => broadcaster.add(ws, socket, { remote, patterns }));
  };

  const send = (response: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
    response.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    });
    response.end(response.req.method === 'HEAD' ? undefined : body);
  };

  const onRequest = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const text = 'text/plain; charset=utf-8';
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, text, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    const url = requestUrl(request);
    if (url === null) return send(response, 400, text, 'Bad request\n');
    const badHost = hostRefusal(request, gate.hosts, 'allowed_hosts');
    if (badHost !== null) {
      telemetry.event('warn', `refused request from ${peerAddress(request)}: ${badHost} (HTTP 403)`, 'wsbit_output_broadcast_rejected_clients_total');
      return send(response, 403, text, `${badHost}\n`);
    }
    if (!config.live_page) {
      return send(response, 426, text, 'This port serves WebSocket clients only (live_page is off).\n', { Upgrade: 'websocket', Connection: 'Upgrade' });
    }
    switch (url.pathname) {
      case '/': {
        const page = livePage();
        return send(response, 200, 'text/html; charset=utf-8', page.html, {
          'Content-Security-Policy': page.contentSecurityPolicy,
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
        });
      }
      case MSGPACK_ASSET_PATH:
        return send(response, 200, 'text/javascript; charset=utf-8', await msgpackBrowserBundle(), { 'Cache-Control': 'public, max-age=86400' });
      case STATUS_PATH: {
        if (!tokenAccepted(request, url, config.token)) return send(response, 401, text, 'Missing or wrong token\n', { 'WWW-Authenticate': 'Bearer realm="wsbit"' });
        const status = { clients: broadcaster.size, max_clients: config.max_clients, use_msgpack: config.use_msgpack, add_tag: config.add_tag, add_time: config.add_time };
        return send(response, 200, 'application/json', `${JSON.stringify(status)}\n`, { 'Cache-Control': 'no-store' });
      }
      default:
        return send(response, 404, text, 'Not found\n');
    }
  };

  return {
    async start() {
      const http = createServer((request, response) => {
        onRequest(request, response).catch((error: unknown) => {
          logger.error(`${quoteUntrusted(request.method ?? 'GET')} ${quoteUntrusted(requestPath(request))}: ${errorMessage(error)}`);
          if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'Internal error\n');
          else response.destroy();
        });
      });
      http.on('upgrade', onUpgrade);
      const port = await listenOn(http, { host: config.host, port: config.port }, { code: 'WSBIT_OUTPUT_LISTEN', instance }, logger);
      server = http;
      const bound = hostPort(config.host, port);
      logger.info(`listening on ${bound}${config.live_page ? `, live page at http://${bound}/` : ''}`);
      if (config.ping_interval > 0) {
        pingTimer = context.clock.setInterval(() => broadcaster.heartbeat(config.ping_interval), config.ping_interval * 1000);
      }
    },

    async flush(chunk) {
      // With nobody to send to and no replay to keep, skip the encoding altogether.
      if (!broadcaster.wants(chunk.tag)) {
        discarded(chunk.records);
        return 'ok';
      }
      const { messages, error, rejected } = encodeMessages(chunk.data, chunk.tag, shape);
      reportRejectedRecords(telemetry, chunk, rejected);
      if (error !== null) {
        const lost = Math.max(0, chunk.records - messages.length - rejected.length);
        telemetry.event('error', `chunk '${chunk.id}' is malformed after ${messages.length} records: ${error.message}`, 'wsbit_output_rejected_records_total', lost);
      }
      if (messages.length > 0 && broadcaster.broadcast(chunk.tag, messages) === 0) discarded(messages.length);
      // A broadcast is fire-and-forget, as in the plugin: there is nothing to retry.
      return 'ok';

      function discarded(records: number): void {
        telemetry.count('wsbit_output_broadcast_discarded_records_total', records);
        if (logger.enabled('debug')) logger.debug(`no client for tag '${chunk.tag}': ${records} records discarded`);
      }
    },

    async stop() {
      stopping = true;
      pingTimer?.cancel();
      pingTimer = null;
      await broadcaster.closeAll(CLOSE_GOING_AWAY, 'server shutting down', CLOSE_TIMEOUT_MS);
      wss.close();
      const http = server;
      server = null;
      await closeServer(http);
    },

    listeningPort: () => boundPort(server),

    clientCount() {
      return broadcaster.size;
    },
  };
}

function requestPath(request: IncomingMessage): string {
  // The path only, never the query: it may carry the token.
  return (request.url ?? '/').split('?')[0] ?? '/';
}

export const websocketServerOutput = defineOutput({
  kind: 'output',
  name: 'websocket_server',
  description: 'Broadcasts records to WebSocket clients, with a live page',
  schema,
  serviceUriKeys: { host: 'host', port: 'port' },
  create: createWebSocketServerOutput,
});
