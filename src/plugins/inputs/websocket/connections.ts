/**
 * The clients of the `websocket` input: what each message becomes, and when its pong is sent.
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
 * A message refused as undecodable (1007) closes the connection, and its pings get no pong, so the
 * sender keeps the chunk. A record over a limit (nested deeper than MAX_NESTING_DEPTH) costs only
 * itself: it is skipped, logged and counted, and the rest of the message is taken and ponged, as the
 * forward input does for a message without an ack request.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { errorMessage } from '../../../base/errors.js';
import { eventTimeNow } from '../../../base/record.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { WireBytes } from '../../websocket-server-compression.js';
import type { PayloadDecoder } from './decode.js';

/** Time a client gets to answer our close frame at shutdown. */
const CLOSE_TIMEOUT_MS = 2000;
/** Dead peers (a power cut at the agent) are found by TCP keepalive, not by pings: Fluent Bit never answers pings. */
const TCP_KEEPALIVE_MS = 60_000;

interface Connection {
  ws: WebSocket;
  socket: Duplex;
  remote: string;
  /** Messages ws has emitted, and how many of them have been fully handled (emitted or refused). */
  received: number;
  handled: number;
  /** Pings whose pong waits for earlier messages; in practice always empty (see the header comment). */
  pendingPongs: Buffer[];
  /** A message was refused and the connection is closing: nothing more is ingested or ponged. */
  refused: boolean;
  warnedUntimed: boolean;
  /** Message bytes (inflated) beside bytes on the wire. */
  bytes: WireBytes;
  /** Removes this pipeline's listeners from `ws` (hot reload). */
  detach: () => void;
}

function ignoreError(): void {}

/** A client between two pipelines (hot reload): paused, past its handshake. */
export interface HandedClient {
  ws: WebSocket;
  socket: Duplex;
  /** The socket's bytesRead already counted in the metrics. */
  wireCounted: number;
  remote: string;
  pendingPongs: Buffer[];
}

export interface InputConnectionsOptions {
  decoder: PayloadDecoder;
  /** For the warning about records whose date key holds no time. */
  timeKey: string | null;
  maxMessageBytes: number;
  telemetry: Telemetry;
  /**
   * The engine's emit: records in, under their own tag when they carry one; false when they are not
   * stored (chunk writes fail), so they must not be confirmed by a pong.
   */
  emit: (events: Buffer, records: number, tag?: string) => boolean;
  /** Whether `records` may be taken now (InputContext.admit); false while chunk writes fail. */
  admit: (records: number) => boolean;
}

export class InputConnections {
  readonly #connections = new Set<Connection>();
  readonly #options: InputConnectionsOptions;
  #paused = false;
  #stopping = false;

  constructor(options: InputConnectionsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#connections.size;
  }

  /** Set by closeAll(): nothing more is ingested or ponged, and the gate refuses upgrades. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Takes over an upgraded connection; `framesFrom` is the socket's bytesRead where its frames begin. */
  accept(ws: WebSocket, socket: Duplex, remote: string, framesFrom: number): void {
    const { telemetry } = this.#options;
    (socket as Socket).setKeepAlive?.(true, TCP_KEEPALIVE_MS);
    telemetry.count('wsbit_input_connections_total');
    telemetry.logger.debug(`client ${remote} connected`);
    this.#attach({ ws, socket, wireCounted: framesFrom, remote, pendingPongs: [] });
  }

  /**
   * Hot reload: gives up every client, paused, for the next pipeline. ws keeps a frame it has half
   * read and emits it whole to whoever listens next, so no bytes need to be carried.
   */
  handOver(): HandedClient[] {
    const clients: HandedClient[] = [];
    for (const connection of this.#connections) {
      connection.ws.pause();
      connection.detach();
      connection.bytes.update();
      clients.push({ ws: connection.ws, socket: connection.socket, wireCounted: connection.bytes.socketCount(), remote: connection.remote, pendingPongs: connection.pendingPongs });
    }
    this.#connections.clear();
    this.#options.telemetry.gauge('wsbit_input_connected', 0);
    return clients;
  }

  /** Hot reload: takes a client of the previous pipeline and reads it from where that one stopped. */
  adopt(client: HandedClient): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    this.#attach(client);
    if (!this.#paused) client.ws.resume();
  }

  #attach({ ws, socket, wireCounted, remote, pendingPongs }: HandedClient): void {
    const { telemetry } = this.#options;
    const { logger } = telemetry;
    const bytes = new WireBytes(socket, 'read', { telemetry, wire: 'wsbit_input_wire_bytes_total', message: 'wsbit_input_message_bytes_total' }, wireCounted);
    const connection: Connection = { ws, socket, remote, received: 0, handled: 0, pendingPongs, refused: false, warnedUntimed: false, bytes, detach: () => undefined };
    this.#connections.add(connection);
    telemetry.gauge('wsbit_input_connected', this.#connections.size);
    if (this.#paused) ws.pause();
    const onMessage = (data: Buffer): void => {
      connection.received++;
      bytes.messages(data.length);
      bytes.update();
      try {
        if (!connection.refused && !this.#stopping) this.#ingest(connection, data);
      } catch (error) {
        // A bug here must cost this message, not the process.
        this.#refuse(connection, 1011, `failed to process a message: ${errorMessage(error)}`);
      } finally {
        connection.handled++;
        this.#sendPendingPongs(connection);
      }
    };
    const onPing = (data: Buffer): void => {
      if (connection.refused || this.#stopping) return;
      if (connection.handled === connection.received && connection.pendingPongs.length === 0) ws.pong(data);
      else connection.pendingPongs.push(data);
    };
    const onError = (error: Error & { code?: string }): void => {
      // ws closes the connection itself: 1009 for a message over maxPayload, 1002 for protocol errors.
      const oversize = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      const reason = oversize
        ? `a message exceeds max_message_size (${this.#options.maxMessageBytes} bytes), closing with 1009`
        : `protocol error, closing: ${error.message}`;
      telemetry.event('warn', `client ${remote}: ${reason}`, 'wsbit_input_rejected_records_total');
    };
    const onClose = (code: number): void => {
      this.#connections.delete(connection);
      telemetry.gauge('wsbit_input_connected', this.#connections.size);
      if (logger.enabled('debug')) logger.debug(`client ${remote} disconnected (${code}${ws.extensions === '' ? '' : `, ${ws.extensions}`}): ${bytes.describe()}`);
      else bytes.update();
    };
    ws.on('message', onMessage);
    ws.on('ping', onPing);
    ws.on('error', onError);
    ws.on('close', onClose);
    connection.detach = () => {
      ws.off('message', onMessage);
      ws.off('ping', onPing);
      // An error between two pipelines must not be unhandled (once per client, however many reloads).
      if (!ws.listeners('error').includes(ignoreError)) ws.on('error', ignoreError);
      ws.off('error', onError);
      ws.off('close', onClose);
    };
  }

  /** Frames stop being read, so senders feel TCP backpressure and their pongs wait; nothing is refused. */
  pause(): void {
    this.#paused = true;
    for (const connection of this.#connections) connection.ws.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const connection of this.#connections) connection.ws.resume();
  }

  /** Closes every client with 1001; one that does not answer within CLOSE_TIMEOUT_MS is cut off. */
  async closeAll(): Promise<void> {
    this.#stopping = true;
    const closing = [...this.#connections].map(
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
  }

  #ingest(connection: Connection, data: Buffer): void {
    const { decoder, telemetry, timeKey } = this.#options;
    const now = eventTimeNow();
    const result = decoder.decode(data, now);
    if (!result.ok) {
      this.#refuse(connection, result.closeCode, result.reason);
      return;
    }
    // A pong confirms every message before it, so one that is not in a chunk file may be followed by
    // no pong on this connection ever again: it is closed with 1013 (try again later), and the
    // sender sends what it has not seen confirmed once it reconnects.
    const records = result.batches.reduce((sum, batch) => sum + batch.records, 0);
    if (records > 0 && !this.#options.admit(records)) return this.#holdBack(connection, 'chunk writes fail');
    let stored = true;
    for (const batch of result.batches) if (!this.#options.emit(batch.events, batch.records, batch.tag ?? undefined)) stored = false;
    if (!stored) return this.#holdBack(connection, 'records could not be written to a chunk file');
    telemetry.count('wsbit_input_messages_total');
    if (result.rejected > 0) {
      telemetry.event(
        'warn',
        `${result.rejected} invalid ${result.rejected === 1 ? 'record' : 'records'} in a message from ${connection.remote} skipped: ${result.rejectReason ?? ''}`,
        'wsbit_input_rejected_records_total',
        result.rejected,
      );
    }
    if (result.untimed > 0 && !connection.warnedUntimed) {
      connection.warnedUntimed = true;
      telemetry.logger.warn(
        `client ${connection.remote}: ${result.untimed} records have a '${timeKey ?? ''}' key that is not a time; they get the reception time and keep the key (shown once per connection)`,
      );
    }
  }

  #refuse(connection: Connection, code: number, reason: string): void {
    connection.refused = true;
    connection.pendingPongs = [];
    this.#options.telemetry.event(
      'warn',
      `message from ${connection.remote} rejected, closing the connection with ${code}: ${reason}`,
      'wsbit_input_rejected_records_total',
    );
    // The close reason must fit a control frame (123 bytes).
    connection.ws.close(code, Buffer.from(reason, 'utf8').subarray(0, 120).toString('utf8').replace(/\uFFFD$/, ''));
  }

  /** Nothing more is confirmed on this connection: no pong, and it closes with 1013 (try again later). */
  #holdBack(connection: Connection, reason: string): void {
    connection.refused = true;
    connection.pendingPongs = [];
    // The engine logs the disk failure once; a line per connection would only repeat it.
    this.#options.telemetry.logger.debug(`message from ${connection.remote} not confirmed (${reason}): closing with 1013`);
    // The close handshake needs the peer's close frame, which a paused connection would never read.
    connection.ws.resume();
    connection.ws.close(1013, 'storage cannot write, try again later');
  }

  #sendPendingPongs(connection: Connection): void {
    if (connection.handled !== connection.received || connection.pendingPongs.length === 0) return;
    const pongs = connection.pendingPongs;
    connection.pendingPongs = [];
    for (const data of pongs) connection.ws.pong(data);
  }
}
