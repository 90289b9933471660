/**
 * The `websocket` input: a WebSocket server that takes what the websocket output sends (one message
 * per chunk: msgpack events, or JSON in any of its formats), from wsbit and from Fluent Bit agents.
 *
 * Fluent Bit sends msgpack inside TEXT frames, with a fixed mask and no close frame (SPEC §1.7). A
 * strict server fails such a frame with 1007 because msgpack is not UTF-8, so ws runs with
 * `skipUTF8Validation` and the decoder checks UTF-8 itself where it matters: for JSON.
 *
 * Delivery confirmation: the websocket output sends a ping after each data frame and counts the chunk
 * as delivered when the pong comes back (SPEC part A, 6). The pong must therefore mean "the records are
 * in the engine, and on disk with storage.type filesystem". How that holds:
 * 1. ws parses the frames of one socket in order, and emits each frame's event ('message', 'ping')
 *    before it parses the next frame (synchronously, or deferred with the parser stopped until the
 *    event has run);
 * 2. a message is handled synchronously: decode, then `emit`, which appends to the chunk and, for
 *    filesystem storage, writes the bytes with writeSync before it returns;
 * 3. ws's automatic pong is off (`autoPong: false`), and the pong is sent from our 'ping' handler,
 *    and only when every message received before that ping has been handled (`handled === received`);
 *    otherwise it waits in `pendingPongs` until they are. Point 3 does not rely on point 2: should the
 *    handling ever become asynchronous, the pong still waits for it.
 * A message refused as undecodable (1007) or over a limit (1008: a record nested deeper than
 * MAX_NESTING_DEPTH) closes the connection, and its pings get no pong, so the sender keeps the chunk.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { tlsServerKeys } from '../../config/common-keys.js';
import { boundPort, closeServer, hostPort, listenOn } from '../../base/listen.js';
import { ConfigError, WsbitError, errorMessage } from '../../base/errors.js';
import { hostPolicy } from '../../base/host-check.js';
import { eventTimeNow } from '../../base/record.js';
import { TimeFormatError } from '../../parsers/time-format.js';
import { screenUpgrade, type UpgradeGate } from '../../websocket/admission.js';
import { defineInput } from '../../pipeline/contracts.js';
import { PayloadDecoder, payloadFormats } from './websocket/decode.js';
import { recordTimeReader, type RecordTimeReader } from './websocket/record-time.js';

const schema = [
  { key: 'listen', type: 'string', default: '127.0.0.1', description: 'Address to listen on; 0.0.0.0 takes agents from other machines (set a token).' },
  { key: 'port', type: 'int', default: 8080, description: 'TCP port to listen on (0 picks a free port, logged at start-up).' },
  { key: 'path', type: 'string', default: null, description: 'Accept WebSocket upgrades on this path only; others get HTTP 404. Default: any path.' },
  {
    key: 'format',
    type: 'enum',
    values: payloadFormats,
    default: 'auto',
    description:
      'auto: a message is msgpack when it starts with a msgpack array marker, JSON when it starts with {, [ or white space. msgpack: Fluent Bit events (V2 or V1). json, json_lines, json_stream: JSON objects, arrays of objects expanding, with or without white space between them.',
  },
  { key: 'tag_key', type: 'string', default: null, description: "Take each record's tag from this key when it holds a non-empty string (the key stays in the record)." },
  {
    key: 'time_key',
    type: 'string',
    default: 'date',
    description: "The JSON records' date key (the output's json_date_key): the record time is read from it and the key removed. false: records get the reception time. msgpack events carry their own time.",
  },
  {
    key: 'time_format',
    type: 'string',
    default: null,
    description:
      'How to read the date: epoch_ms (numbers are milliseconds), double or epoch (seconds), or a strptime pattern for string dates. Default: seconds, or milliseconds for integers from 1e11, and ISO 8601 strings.',
  },
  { key: 'time_keep', type: 'bool', default: false, description: 'Keep the date key in the record after reading the time from it.' },
  { key: 'max_message_size', type: 'size', default: '16M', description: 'Largest message accepted; a larger one closes the connection with 1009 (0 = no limit).' },
  { key: 'max_connections', type: 'int', default: 1000, description: 'Most clients connected at once; further upgrade requests get HTTP 503 (0 = no limit).' },
  {
    key: 'token',
    type: 'string',
    default: null,
    description: 'Require Authorization: Bearer <token> (or ?token=<token>) on the upgrade request; others get HTTP 401. Never logged.',
  },
  {
    key: 'allowed_origins',
    type: 'list',
    default: null,
    description: 'Web page origins allowed to connect, or *. Clients that send no Origin header (agents) are always allowed; pages from other sites are refused (403).',
  },
  {
    key: 'allowed_hosts',
    type: 'list',
    default: null,
    description:
      'Without a token, the upgrade must name this server in Host: a loopback address, localhost, the listen address (any IP address and the machine name when listening on 0.0.0.0), or a name listed here (* = any). Others get HTTP 403; this stops DNS rebinding.',
  },
  ...tlsServerKeys,
] as const;

/** Time a client gets to answer our close frame at shutdown. */
const CLOSE_TIMEOUT_MS = 2000;
/** Dead peers (a power cut at the agent) are found by TCP keepalive, not by pings: Fluent Bit never answers pings. */
const TCP_KEEPALIVE_MS = 60_000;

interface Connection {
  ws: WebSocket;
  remote: string;
  /** Messages ws has emitted, and how many of them have been fully handled (emitted or refused). */
  received: number;
  handled: number;
  /** Pings whose pong waits for earlier messages; in practice always empty (see the header comment). */
  pendingPongs: Buffer[];
  /** A message was refused and the connection is closing: nothing more is ingested or ponged. */
  refused: boolean;
  warnedUntimed: boolean;
}

const OFF_WORDS = new Set(['false', 'off', 'no']);

export const websocketInput = defineInput({
  kind: 'input',
  name: 'websocket',
  description: 'WebSocket server that receives what the websocket output sends (wsbit or Fluent Bit)',
  schema,
  serviceUriKeys: { host: 'listen', port: 'port', path: 'path' },
  create(context) {
    const { config, telemetry, instance } = context;
    const { logger } = telemetry;
    const bad = (key: string, value: unknown, expected: string): ConfigError =>
      new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value '${String(value)}' for '${key}': expected ${expected}`);
    if (config.port < 0 || config.port > 65535) throw bad('port', config.port, 'a TCP port from 0 to 65535');
    if (config.max_connections < 0) throw bad('max_connections', config.max_connections, 'a number of clients, 0 or more');
    if (config.token === '') throw bad('token', config.token, 'a non-empty token');
    if (config.tls && (config['tls.crt_file'] === null || config['tls.key_file'] === null)) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: tls on needs tls.crt_file and tls.key_file`);
    }
    const path = config.path === null ? null : config.path.startsWith('/') ? config.path : `/${config.path}`;
    let time: RecordTimeReader;
    try {
      time = recordTimeReader(config.time_format);
    } catch (error) {
      if (error instanceof TimeFormatError) throw bad('time_format', config.time_format, `a date format word or a strptime pattern (${error.message})`);
      throw error;
    }
    const timeKey = config.time_key === null || OFF_WORDS.has(config.time_key.toLowerCase()) ? null : config.time_key;
    const decoder = new PayloadDecoder({ format: config.format, tagKey: config.tag_key, timeKey, timeKeep: config.time_keep, time });

    const connections = new Set<Connection>();
    // ws does the handshake, frames and closing; we keep the clients, and send pongs ourselves.
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: config.max_message_size,
      skipUTF8Validation: true,
      autoPong: false,
    });
    let server: Server | null = null;
    let paused = false;
    let stopping = false;

    const gate: UpgradeGate = {
      subject: 'the input',
      hosts: config.token === null ? hostPolicy(config.listen, config.allowed_hosts) : null,
      path,
      allowedOrigins: config.allowed_origins,
      token: config.token,
      capacity: { key: 'max_connections', max: config.max_connections },
    };

    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const admitted = screenUpgrade(request, socket, gate, { stopping, connected: connections.size }, telemetry, 'wsbit_input_refused_connections_total');
      if (admitted !== null) wss.handleUpgrade(request, socket, head, (ws) => accept(ws, socket, admitted.remote));
    };

    const accept = (ws: WebSocket, socket: Duplex, remote: string): void => {
      const connection: Connection = { ws, remote, received: 0, handled: 0, pendingPongs: [], refused: false, warnedUntimed: false };
      connections.add(connection);
      (socket as Socket).setKeepAlive?.(true, TCP_KEEPALIVE_MS);
      telemetry.count('wsbit_input_connections_total');
      telemetry.gauge('wsbit_input_connected', connections.size);
      logger.debug(`client ${remote} connected`);
      if (paused) ws.pause();
      ws.on('message', (data: Buffer) => {
        connection.received++;
        try {
          if (!connection.refused && !stopping) ingest(connection, data);
        } catch (error) {
          // A bug here must cost this message, not the process.
          refuse(connection, 1011, `failed to process a message: ${errorMessage(error)}`);
        } finally {
          connection.handled++;
          sendPendingPongs(connection);
        }
      });
      ws.on('ping', (data: Buffer) => {
        if (connection.refused || stopping) return;
        if (connection.handled === connection.received && connection.pendingPongs.length === 0) ws.pong(data);
        else connection.pendingPongs.push(data);
      });
      ws.on('error', (error: Error & { code?: string }) => {
        // ws closes the connection itself: 1009 for a message over maxPayload, 1002 for protocol errors.
        const oversize = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
        const reason = oversize ? `a message exceeds max_message_size (${config.max_message_size} bytes), closing with 1009` : `protocol error, closing: ${error.message}`;
        telemetry.event('warn', `client ${remote}: ${reason}`, 'wsbit_input_rejected_records_total');
      });
      ws.on('close', (code: number) => {
        connections.delete(connection);
        telemetry.gauge('wsbit_input_connected', connections.size);
        logger.debug(`client ${remote} disconnected (${code})`);
      });
    };

    const ingest = (connection: Connection, data: Buffer): void => {
      const now = eventTimeNow();
      const result = decoder.decode(data, now);
      if (!result.ok) {
        refuse(connection, result.closeCode, result.reason);
        return;
      }
      for (const batch of result.batches) context.emit(batch.events, batch.records, batch.tag ?? undefined);
      telemetry.count('wsbit_input_messages_total');
      if (result.untimed > 0 && !connection.warnedUntimed) {
        connection.warnedUntimed = true;
        logger.warn(`client ${connection.remote}: ${result.untimed} records have a '${timeKey ?? ''}' key that is not a time; they get the reception time and keep the key (shown once per connection)`);
      }
    };

    const refuse = (connection: Connection, code: number, reason: string): void => {
      connection.refused = true;
      connection.pendingPongs = [];
      telemetry.event('warn', `message from ${connection.remote} rejected, closing the connection with ${code}: ${reason}`, 'wsbit_input_rejected_records_total');
      // The close reason must fit a control frame (123 bytes).
      connection.ws.close(code, Buffer.from(reason, 'utf8').subarray(0, 120).toString('utf8').replace(/\uFFFD$/, ''));
    };

    const sendPendingPongs = (connection: Connection): void => {
      if (connection.handled !== connection.received || connection.pendingPongs.length === 0) return;
      const pongs = connection.pendingPongs;
      connection.pendingPongs = [];
      for (const data of pongs) connection.ws.pong(data);
    };

    const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
      const body = 'This port takes WebSocket connections (the websocket input of wsbit).\n';
      response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket', Connection: 'Upgrade' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };

    const createServer = (): Server => {
      if (!config.tls) return createHttpServer(onRequest);
      const read = (key: 'tls.crt_file' | 'tls.key_file'): Buffer => {
        const file = config[key] as string;
        try {
          return readFileSync(file);
        } catch (error) {
          throw new WsbitError('WSBIT_INPUT_TLS', `${instance}: cannot read ${key} ${file}: ${errorMessage(error)}`, { cause: error });
        }
      };
      try {
        return createHttpsServer(
          {
            cert: read('tls.crt_file'),
            key: read('tls.key_file'),
            ...(config['tls.key_passwd'] !== null ? { passphrase: config['tls.key_passwd'] } : {}),
            ...(config['tls.min_version'] !== null ? { minVersion: config['tls.min_version'] } : {}),
            ...(config['tls.max_version'] !== null ? { maxVersion: config['tls.max_version'] } : {}),
            ...(config['tls.ciphers'] !== null ? { ciphers: config['tls.ciphers'] } : {}),
          },
          onRequest,
        );
      } catch (error) {
        if (error instanceof WsbitError) throw error;
        throw new WsbitError('WSBIT_INPUT_TLS', `${instance}: cannot use tls.crt_file/tls.key_file: ${errorMessage(error)}`, { cause: error });
      }
    };

    return {
      async start() {
        const listening = createServer();
        listening.on('upgrade', onUpgrade);
        // A failed TLS handshake or a reset before the upgrade is the client's problem, not ours.
        listening.on('tlsClientError', (error: Error) => logger.debug(`TLS handshake failed: ${error.message}`));
        listening.on('clientError', (error: Error, socket: Duplex) => {
          logger.debug(`bad HTTP request: ${error.message}`);
          socket.destroy();
        });
        const port = await listenOn(listening, { host: config.listen, port: config.port }, { code: 'WSBIT_INPUT_LISTEN', instance }, logger);
        server = listening;
        const bound = hostPort(config.listen, port);
        logger.info(`listening on ${bound}, ${config.tls ? 'wss' : 'ws'}://${bound}${path ?? '/'}, format ${config.format}`);
      },
      pause() {
        // Frames stop being read, so senders feel TCP backpressure and their pongs wait; nothing is refused.
        paused = true;
        for (const connection of connections) connection.ws.pause();
      },
      resume() {
        paused = false;
        for (const connection of connections) connection.ws.resume();
      },
      async stop() {
        stopping = true;
        const closing = [...connections].map(
          (connection) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => connection.ws.terminate(), CLOSE_TIMEOUT_MS);
              connection.ws.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              connection.ws.resume();
              connection.ws.close(1001, 'wsbit shutting down');
            }),
        );
        await Promise.all(closing);
        wss.close();
        const http = server;
        server = null;
        await closeServer(http);
      },
      listeningPort(): number | null {
        return boundPort(server);
      },
    };
  },
});
