/**
 * `websocket_server`: the Ruby fluent-plugin-websocket brought into wsbit. It runs a WebSocket server and
 * broadcasts every record to the connected clients as `[tag, time, record]`, one JSON text frame or one
 * msgpack binary frame per record. Beyond the plugin: replay of the newest messages to new clients,
 * per-client tag filters (`?match=`), slow-client protection, a client limit, an optional token, an
 * Origin check, pings, and a live page at `GET /` on the same port.
 *
 * `ws` does the WebSocket protocol; the admission gate decides who may upgrade, websocket-server/pages.ts
 * serves the page, and websocket-server/broadcast.ts keeps the clients.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TimerHandle } from '../../base/clock.js';
import { boundPort, closeServer, hostPort, listenOn } from '../../base/listen.js';
import { defineOutput, type OutputContext, type OutputInstance } from '../../pipeline/contracts.js';
import { rejectUpgrade, screenUpgrade } from '../../websocket/admission.js';
import { Broadcaster, CLOSE_GOING_AWAY } from './websocket-server/broadcast.js';
import { encodeMessages } from './websocket-server/encode.js';
import { websocketServerOptions } from './websocket-server/options.js';
import { pageHandler } from './websocket-server/pages.js';
import { recordFilterFromQuery } from './websocket-server/record-filter.js';
import { type WebSocketServerConfig, websocketServerManifest } from './websocket-server/schema.js';
import { reportRejectedRecords } from './rejected.js';
import { countTlsFailures, createTlsCapableServer } from '../tls-server.js';
import { CompressionSlots, perMessageDeflate } from '../websocket-server-compression.js';

export type { WebSocketServerConfig } from './websocket-server/schema.js';

/** The output instance, with what tests and the bench need to find it. */
export interface WebSocketServerOutput extends OutputInstance {
  /** The bound port once started (useful with `port 0`), else null. */
  listeningPort(): number | null;
  clientCount(): number;
  /** The largest number of bytes any client has yet to receive (its queue and socket buffer). */
  largestBacklog(): number;
}

/** Time a client gets to answer our close frame at shutdown, and a slow client to read its backlog. */
const CLOSE_TIMEOUT_MS = 2000;
/** Clients send nothing but control frames; a larger message is refused (ws closes with 1009). */
const MAX_CLIENT_MESSAGE_BYTES = 4096;

/** `?match=` patterns, comma-separated or repeated. */
function matchPatterns(url: URL): string[] {
  return url.searchParams
    .getAll('match')
    .flatMap((value) => value.split(','))
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
}

/** `?last_received=ID`: a message id to resume after, null when absent, a string saying why when refused. */
function lastReceivedFromQuery(url: URL, idsOn: boolean): number | null | string {
  const value = url.searchParams.get('last_received');
  if (value === null) return null;
  if (!idsOn) return 'last_received needs message_id_key on the server';
  if (!/^\d{1,15}$/.test(value)) return 'last_received must be a message id (a whole number)';
  return Number(value);
}

export function createWebSocketServerOutput(context: OutputContext<WebSocketServerConfig>): WebSocketServerOutput {
  const { config, instance, telemetry, logger } = context;
  const { gate, shape } = websocketServerOptions(config, instance, context.service);
  const broadcaster = new Broadcaster({
    binary: config.use_msgpack,
    maxClientBufferBytes: config.max_client_buffer,
    slowClientGraceMs: config.slow_client_grace * 1000,
    replayMessages: config.buffered_messages,
    slowCloseGraceMs: CLOSE_TIMEOUT_MS,
    compressThreshold: config['compress.threshold'],
    clock: context.clock,
    telemetry,
  });
  // ws does the handshake, pings, pongs and closing (the broadcaster writes the data frames, see
  // broadcast.ts, and has ws deflate them for a client that negotiated permessage-deflate);
  // clientTracking is off because the broadcaster keeps the clients.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: perMessageDeflate(config, { level: config['compress.level'], threshold: config['compress.threshold'] }),
    clientTracking: false,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
  });
  const compression = new CompressionSlots(config['compress.max_connections'], telemetry, 'wsbit_output_broadcast_compressed_connected');
  let server: Server | null = null;
  let pingTimer: TimerHandle | null = null;
  let stopping = false;

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const admitted = screenUpgrade(request, socket, gate, { stopping, connected: broadcaster.size }, telemetry, 'wsbit_output_broadcast_rejected_clients_total');
    if (admitted === null) return;
    const patterns = matchPatterns(admitted.url);
    const filter = recordFilterFromQuery(admitted.url);
    const lastReceived = lastReceivedFromQuery(admitted.url, shape.idKey !== null);
    if (typeof filter === 'string' || typeof lastReceived === 'string') {
      const refusal = typeof filter === 'string' ? filter : String(lastReceived);
      telemetry.event('warn', `refused client ${admitted.remote}: ${refusal} (HTTP 400)`, 'wsbit_output_broadcast_rejected_clients_total');
      rejectUpgrade(socket, 400, refusal);
      return;
    }
    compression.screen(request, admitted.remote);
    wss.handleUpgrade(request, socket, head, (ws) => {
      compression.track(ws);
      broadcaster.add(ws, socket, { remote: admitted.remote, patterns, filter, lastReceived });
    });
  };

  return {
    async start() {
      const http = createTlsCapableServer(config, instance, 'WSBIT_OUTPUT_TLS', pageHandler({ config, gate, telemetry, clientCount: () => broadcaster.size }));
      countTlsFailures(http, telemetry, 'wsbit_tls_handshake_failures_total');
      http.on('upgrade', onUpgrade);
      const port = await listenOn(http, { host: config.host, port: config.port }, { code: 'WSBIT_OUTPUT_LISTEN', instance }, logger);
      server = http;
      const bound = hostPort(config.host, port);
      logger.info(`listening on ${bound}${config.tls ? ' (TLS: wss)' : ''}${config.live_page ? `, live page at ${config.tls ? 'https' : 'http'}://${bound}/` : ''}`);
      if (config.ping_interval > 0) {
        pingTimer = context.clock.setInterval(() => broadcaster.heartbeat(config.ping_interval), config.ping_interval * 1000);
      }
    },

    async flush(chunk) {
      // With nobody to send to and no replay to keep, skip the encoding altogether.
      if (!broadcaster.wants(chunk.tag)) {
        // The ids still count these records, so a client that resumes learns it missed them.
        if (shape.idKey !== null) broadcaster.takeIds(chunk.records);
        discarded(chunk.records);
        return 'ok';
      }
      const firstId = shape.idKey === null ? null : broadcaster.takeIds(chunk.records);
      const { messages, error, rejected, bodies } = encodeMessages(chunk.data, chunk.tag, shape, firstId ?? 0);
      reportRejectedRecords(telemetry, chunk, rejected);
      if (error !== null) {
        const lost = Math.max(0, chunk.records - messages.length - rejected.length);
        telemetry.event('error', `chunk '${chunk.id}' is malformed after ${messages.length} records: ${error.message}`, 'wsbit_output_rejected_records_total', lost);
      }
      if (messages.length > 0 && broadcaster.broadcast({ tag: chunk.tag, messages, chunk: chunk.data, bodies, firstId }) === 0) discarded(messages.length);
      // A client over max_client_buffer holds the next chunk in the engine until it drains or is
      // closed (slow_client_grace at most), so a burst never piles up in the clients' queues.
      await broadcaster.room();
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

    largestBacklog: () => broadcaster.largestBacklog(),
  };
}

export const websocketServerOutput = defineOutput({
  ...websocketServerManifest,
  create: createWebSocketServerOutput,
});
