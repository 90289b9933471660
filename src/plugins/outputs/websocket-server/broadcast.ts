/**
 * The connected clients of `websocket_server` and what each one is sent: per-client tag filters, the
 * replay of recent messages to newcomers, slow-client protection and the ping that finds dead peers.
 *
 * Each client has a queue of frames not yet handed to its socket, written in slices of at most
 * SLICE_BYTES as the socket drains, so a burst never lands in a socket buffer at once and a client is
 * judged by what it fails to read, not by the size of one flush. A client whose backlog (queue plus
 * socket buffer) passes `max_client_buffer` is given `slow_client_grace` to get back under it; one that
 * stays over is closed (1013, "try again later") and its queue dropped (logged and counted).
 *
 * While a client is over the limit, the next flush waits (`room()`) until it drains or is closed: the
 * records stay in the engine's chunks (bounded by its own limits) instead of in our queues, so healthy
 * clients lose nothing in a burst, a client that stopped reading holds the broadcast for at most the
 * grace, and a client's queue never holds more than `max_client_buffer` plus one flush.
 *
 * Frames are built once per flush and shared by every client's queue. `ws.send` would frame every
 * message again for every client (a million calls a second for 100 clients at 10,000 records/s). This
 * shares the socket with ws, which is safe because: ws keeps handling the handshake, pings, pongs and
 * close; with permessage-deflate off it writes each of its frames synchronously and whole, and our
 * slices end on frame boundaries, so frames never interleave mid-frame; we write only while ws says
 * OPEN, so nothing follows its close frame; and `ws.bufferedAmount` reads the socket's queue, so it
 * counts our bytes too. A client that negotiated permessage-deflate is the exception: ws deflates
 * asynchronously and holds every later frame of that connection behind the deflating one, so its
 * messages all go through ws.send (deflated in ws's context for that client) and none is written to
 * its socket directly.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../../../base/clock.js';
import { frameHeaderLength } from '../../../websocket/frame.js';
import { wildcardMatches } from '../../../pipeline/router.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { recordMatches, type RecordFilter } from './record-filter.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { negotiatedDeflate, WireBytes } from '../../websocket-server-compression.js';

/** RFC 6455 7.4.1 and the IANA registry: 1001 going away, 1013 try again later. */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface BroadcasterOptions {
  /** msgpack messages go out as binary frames, JSON as text frames. */
  binary: boolean;
  /** Unsent bytes a client may have behind it (queue and socket); 0 = no limit. */
  maxClientBufferBytes: number;
  /** How long a client may stay over maxClientBufferBytes before it is closed. */
  slowClientGraceMs: number;
  /** How many of the newest messages a new client is sent first; 0 = none. */
  replayMessages: number;
  /** How long a closed slow client gets to read what its socket holds and the close frame before it is cut off. */
  slowCloseGraceMs: number;
  /** With permessage-deflate, messages smaller than this go uncompressed. */
  compressThreshold: number;
  clock: Clock;
  telemetry: Telemetry;
}

export interface ClientOptions {
  /** `address:port`, for log lines. */
  remote: string;
  /** `?match=` tag patterns (Match rules); empty means every tag. */
  patterns: readonly string[];
  /** Record filter from the other query parameters; null = every record. */
  filter: RecordFilter | null;
  /** `?last_received=ID`: resume after this message id (needs message ids); null = the newest N. */
  lastReceived: number | null;
}

/** One flush's records as the broadcast sees them: encoded messages and, for record filters, the records. */
export interface Broadcast {
  tag: string;
  messages: readonly Buffer[];
  /** The chunk the records lie in. */
  chunk: Buffer;
  /** Each message's record in `chunk`: start and end, two numbers per message. */
  bodies: readonly number[];
  /** The first message's id (the next ones count up), when the server gives ids. */
  firstId: number | null;
}

/** Whole frames, at most SLICE_BYTES unless one frame is larger, shared by every client's queue. */
interface Slice {
  readonly data: Buffer;
  readonly records: number;
  /** The messages' own bytes, without frame headers. */
  readonly payloadBytes: number;
}

/** Bytes handed to a socket per write: small enough that a burst reaches it as it drains. */
const SLICE_BYTES = 256 * 1024;

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  /** The upgraded socket, shared with ws: batches of whole frames are written to it directly. */
  readonly socket: Duplex;
  readonly remote: string;
  readonly patterns: readonly string[];
  readonly filter: RecordFilter | null;
  /** Cleared when a ping is sent, set again by the pong. */
  alive: boolean;
  closeTimer: TimerHandle | null;
  /** Slices not yet written to the socket, from `head` on. */
  queue: Slice[];
  head: number;
  queuedBytes: number;
  queuedRecords: number;
  sentBytes: number;
  sentRecords: number;
  /** Runs while the backlog is over max_client_buffer; closes the client when it fires. */
  graceTimer: TimerHandle | null;
  /** permessage-deflate was negotiated: messages go through ws.send, one slice at a time. */
  readonly deflating: boolean;
  /** A slice is with ws, not yet all written to the socket. */
  inFlight: boolean;
  readonly bytes: WireBytes;
}

interface ReplayEntry {
  /** Its message id, or 0 without ids. */
  id: number;
  tag: string;
  data: Buffer;
  /** The record (msgpack map), for record filters. */
  body: Buffer;
}

/** The newest `capacity` messages with their tags and records, oldest first; copies, so no flush buffer is pinned. */
class ReplayRing {
  private readonly entries: Array<ReplayEntry | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.entries = new Array<ReplayEntry | undefined>(capacity);
  }

  push({ tag, messages, chunk, bodies, firstId }: Broadcast): void {
    if (this.capacity === 0) return;
    for (let i = Math.max(0, messages.length - this.capacity); i < messages.length; i++) {
      this.entries[this.next] = { id: firstId === null ? 0 : firstId + i, tag, data: Buffer.from(messages[i]!), body: Buffer.from(chunk.subarray(bodies[2 * i]!, bodies[2 * i + 1]!)) };
      this.next = (this.next + 1) % this.capacity;
      this.count = Math.min(this.count + 1, this.capacity);
    }
  }

  /** The oldest message's id, or null when the ring is empty. */
  oldestId(): number | null {
    if (this.count === 0) return null;
    return this.entries[(this.next - this.count + this.capacity) % this.capacity]?.id ?? null;
  }

  /** Messages whose id and tag and record pass `keep`, oldest first. */
  select(keep: (tag: string, body: Buffer, id: number) => boolean): Buffer[] {
    const out: Buffer[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const entry = this.entries[(first + i) % this.capacity];
      if (entry !== undefined && keep(entry.tag, entry.body, entry.id)) out.push(entry.data);
    }
    return out;
  }
}

export class Broadcaster {
  private readonly clients = new Set<Client>();
  /** Clients closed by us (slow or dead) whose sockets have not gone yet; stop() cuts them off. */
  private readonly leaving = new Set<Client>();
  private readonly replay: ReplayRing;
  private readonly opcode: number;
  /** Clients whose backlog is over max_client_buffer; a flush waits while there is one. */
  private readonly overLimit = new Set<Client>();
  private roomWaiters: Array<() => void> = [];
  private nextId = 1;
  /** The id the next broadcast message gets (message_id_key): from 1, up by one per record, for the server's life. */
  private nextMessageId = 1;

  constructor(private readonly options: BroadcasterOptions) {
    this.replay = new ReplayRing(Math.max(0, options.replayMessages));
    // RFC 6455 5.2: FIN set, no RSV bits, opcode 0x1 text or 0x2 binary.
    this.opcode = options.binary ? 0x82 : 0x81;
  }

  /** Reserves `count` message ids and returns the first. */
  takeIds(count: number): number {
    const first = this.nextMessageId;
    this.nextMessageId += count;
    return first;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether a chunk of this tag has anywhere to go: a client that takes it, or the replay. */
  wants(tag: string): boolean {
    if (this.replay.capacity > 0) return true;
    for (const client of this.clients) if (matches(client, tag)) return true;
    return false;
  }

  /** Takes over an upgraded connection: sends it the replay, then every broadcast it matches. */
  add(ws: WebSocket, socket: Duplex, options: ClientOptions): void {
    const client: Client = {
      id: this.nextId++,
      ws,
      socket,
      remote: options.remote,
      patterns: options.patterns,
      filter: options.filter,
      alive: true,
      closeTimer: null,
      queue: [],
      head: 0,
      queuedBytes: 0,
      queuedRecords: 0,
      sentBytes: 0,
      sentRecords: 0,
      graceTimer: null,
      deflating: negotiatedDeflate(ws),
      inFlight: false,
      // The 101 response is already counted by the socket: frames come after it.
      bytes: new WireBytes(socket, 'written', { telemetry: this.options.telemetry, wire: 'wsbit_output_broadcast_wire_bytes_total', message: 'wsbit_output_broadcast_message_bytes_total' }),
    };
    const { telemetry } = this.options;
    this.clients.add(client);
    telemetry.gauge('wsbit_output_connected', this.clients.size);
    const conditions = [client.patterns.length > 0 ? `match ${client.patterns.join(',')}` : '', client.filter !== null ? `filter ${client.filter.text}` : ''].filter((part) => part !== '');
    const filter = (conditions.length > 0 ? ` with ${conditions.join(', ')}` : '') + (client.deflating ? ' (permessage-deflate)' : '');
    telemetry.event('info', `client ${describe(client)} connected${filter} (${this.describeCount()})`, 'wsbit_output_connections_total');

    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (error) => telemetry.logger.debug(`client ${describe(client)}: ${error.message}`));
    socket.on('drain', () => {
      this.pump(client);
      this.checkLimit(client);
    });
    ws.on('close', (code) => {
      client.closeTimer?.cancel();
      this.release(client);
      this.leaving.delete(client);
      if (this.clients.delete(client)) telemetry.gauge('wsbit_output_connected', this.clients.size);
      telemetry.event('info', `client ${describe(client)} disconnected (code ${code}; ${this.describeCount()}): ${client.bytes.describe()}`, 'wsbit_output_disconnects_total');
    });

    // An id never issued (the client saw an earlier life of the server) resumes from the whole buffer.
    const after = options.lastReceived !== null && options.lastReceived < this.nextMessageId ? options.lastReceived : -1;
    const recent = this.replay.select(
      (tag, body, id) => id > after && matches(client, tag) && (client.filter === null || recordMatches(client.filter, body, 0, body.length)),
    );
    const gap = options.lastReceived === null ? null : this.gapAfter(options.lastReceived);
    if (gap !== null) {
      telemetry.event('info', `client ${describe(client)} resumed after id ${options.lastReceived}: ${gap.missed ?? 'an unknown number of'} records no longer buffered`, 'wsbit_output_broadcast_resume_gaps_total');
      recent.unshift(this.controlMessage(gap.missed, gap.firstId));
    }
    if (recent.length > 0) this.send(client, this.frames(recent));
  }

  /**
   * Queues a flush's messages (all of one chunk, so of one tag) on every client whose filters take the
   * tag, each client with a record filter getting only its records; returns how many clients the tag
   * reached. Also keeps them for the replay.
   */
  broadcast(flush: Broadcast): number {
    const { tag, messages } = flush;
    let reached = 0;
    let frames = 0;
    let batch: Slice[] | null = null;
    // Clients with the same record filter share its frames.
    const filtered = new Map<string, Slice[]>();
    for (const client of this.clients) {
      if (!matches(client, tag)) continue;
      let slices: Slice[];
      if (client.filter === null) slices = batch ??= this.frames(messages);
      else {
        let shared = filtered.get(client.filter.text);
        if (shared === undefined) {
          shared = this.frames(selectRecords(client.filter, flush));
          filtered.set(client.filter.text, shared);
        }
        slices = shared;
      }
      if (this.send(client, slices)) {
        reached++;
        for (const slice of slices) frames += slice.records;
      }
    }
    if (frames > 0) this.options.telemetry.count('wsbit_output_frames_total', frames);
    this.replay.push(flush);
    return reached;
  }

  /**
   * Resolves once no client is over max_client_buffer (at once when none is): the caller's next flush
   * waits here, so a burst stays in the engine rather than in the queues. A client over the limit gets
   * back under it or is closed within slow_client_grace, so the wait is bounded.
   */
  room(): Promise<void> {
    if (this.overLimit.size === 0) return Promise.resolve();
    this.options.telemetry.count('wsbit_output_broadcast_waits_total');
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** The largest backlog (queue and socket buffer) of any client, in bytes. */
  largestBacklog(): number {
    let largest = 0;
    for (const client of this.clients) largest = Math.max(largest, backlog(client));
    return largest;
  }

  /** One ping round: a client that did not answer the previous ping is cut off. */
  heartbeat(intervalSeconds: number): void {
    for (const client of [...this.clients]) {
      if (!client.alive) {
        this.options.telemetry.logger.info(`client ${describe(client)} did not answer a ping within ${intervalSeconds}s; dropping it`);
        this.forget(client);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** Closes every client with `code`; those that do not finish the close handshake in `timeoutMs` are cut off. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    const closing = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once('close', () => resolve());
          client.ws.close(code, reason);
        }),
    );
    let cancelTimeout = (): void => undefined;
    const timedOut = new Promise<void>((resolve) => {
      const timer = this.options.clock.setTimeout(resolve, timeoutMs);
      cancelTimeout = () => timer.cancel();
    });
    await Promise.race([Promise.all(closing), timedOut]);
    cancelTimeout();
    for (const client of [...this.clients, ...this.leaving]) {
      client.ws.terminate();
      this.release(client);
    }
    this.clients.clear();
    this.leaving.clear();
    this.options.telemetry.gauge('wsbit_output_connected', 0);
  }

  /**
   * Every message as an unmasked, unfragmented data frame (a server's, RFC 6455 5.1), in slices of
   * whole frames.
   */
  private frames(messages: readonly Buffer[]): Slice[] {
    const slices: Slice[] = [];
    let first = 0;
    while (first < messages.length) {
      let total = 0;
      let payloadBytes = 0;
      let end = first;
      while (end < messages.length) {
        const size = frameHeaderLength(messages[end]!.length, false) + messages[end]!.length;
        if (end > first && total + size > SLICE_BYTES) break;
        total += size;
        payloadBytes += messages[end]!.length;
        end++;
      }
      slices.push({ data: this.frameRange(messages, first, end, total), records: end - first, payloadBytes });
      first = end;
    }
    return slices;
  }

  private frameRange(messages: readonly Buffer[], first: number, end: number, total: number): Buffer {
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = first; i < end; i++) {
      const message = messages[i]!;
      const length = message.length;
      out[at] = this.opcode;
      // 5.2: a 7-bit length, or 126 and 16 bits, or 127 and 64 bits, always the shortest that fits.
      if (length < 126) {
        out[at + 1] = length;
        at += 2;
      } else if (length <= 0xffff) {
        out[at + 1] = 126;
        out.writeUInt16BE(length, at + 2);
        at += 4;
      } else {
        out[at + 1] = 127;
        out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
        out.writeUInt32BE(length >>> 0, at + 6);
        at += 10;
      }
      message.copy(out, at);
      at += length;
    }
    return out;
  }

  /**
   * What a client resuming after `lastReceived` cannot be given: null when the buffer still holds every
   * record after it; else how many records are gone (null when unknown: an id never issued, as after a
   * restart) and the id of the first record it will get.
   */
  private gapAfter(lastReceived: number): { missed: number | null; firstId: number } | null {
    const firstId = this.replay.oldestId() ?? this.nextMessageId;
    if (lastReceived >= this.nextMessageId) return { missed: null, firstId };
    const missed = firstId - lastReceived - 1;
    return missed > 0 ? { missed, firstId } : null;
  }

  /** `{"missed":N,"first_id":F}` in the clients' format: a map where records come as arrays. */
  private controlMessage(missed: number | null, firstId: number): Buffer {
    if (!this.options.binary) return Buffer.from(JSON.stringify({ missed, first_id: firstId }));
    const writer = new MsgpackWriter(32);
    writer.mapHeader(2);
    writer.str('missed');
    if (missed === null) writer.nil();
    else writer.uint(missed);
    writer.str('first_id');
    writer.uint(firstId);
    return writer.bytes();
  }

  /** Queues slices on one client and writes what its socket takes; false when it is closing. */
  private send(client: Client, slices: readonly Slice[]): boolean {
    // Once ws has left OPEN it may have written its close frame: nothing may follow it.
    if (client.ws.readyState !== client.ws.OPEN || !client.socket.writable) return false;
    for (const slice of slices) {
      client.queue.push(slice);
      client.queuedBytes += slice.data.length;
      client.queuedRecords += slice.records;
    }
    this.pump(client);
    this.checkLimit(client);
    return true;
  }

  /** Writes queued slices until the socket asks to wait; 'drain' (or ws, for a deflating client) calls again. */
  private pump(client: Client): void {
    const { socket, ws } = client;
    while (client.head < client.queue.length && !socket.writableNeedDrain && !client.inFlight) {
      if (ws.readyState !== ws.OPEN || !socket.writable) return;
      const slice = client.queue[client.head]!;
      client.queue[client.head++] = undefined as unknown as Slice;
      client.queuedBytes -= slice.data.length;
      client.queuedRecords -= slice.records;
      client.sentBytes += slice.data.length;
      client.sentRecords += slice.records;
      client.bytes.messages(slice.payloadBytes);
      if (client.deflating) this.sendDeflating(client, slice);
      else {
        socket.write(slice.data);
        client.bytes.update();
      }
    }
    if (client.head === client.queue.length) {
      client.queue = [];
      client.head = 0;
    } else if (client.head > 1024) {
      client.queue = client.queue.slice(client.head);
      client.head = 0;
    }
  }

  /**
   * Hands a slice's messages to ws, which deflates them (in this client's context) and frames them.
   * One slice at a time: ws queues without bound, so the next waits for the callback of this one's
   * last message, called once ws has written it to the socket; until then the backlog counts it
   * (ws.bufferedAmount includes what ws holds).
   */
  private sendDeflating(client: Client, slice: Slice): void {
    const { binary, compressThreshold } = this.options;
    const payloads = framePayloads(slice.data);
    client.inFlight = true;
    const written = (): void => {
      client.inFlight = false;
      client.bytes.update();
      this.pump(client);
      this.checkLimit(client);
    };
    // ws applies its threshold only without context takeover; compress.threshold holds either way.
    payloads.forEach((payload, i) => client.ws.send(payload, { binary, compress: payload.length >= compressThreshold }, i === payloads.length - 1 ? written : undefined));
  }

  /** Starts the grace when a client goes over max_client_buffer, ends it when it gets back under. */
  private checkLimit(client: Client): void {
    const limit = this.options.maxClientBufferBytes;
    if (limit <= 0 || !this.clients.has(client)) return;
    const behind = backlog(client);
    if (behind > limit) {
      if (client.graceTimer !== null) return;
      this.overLimit.add(client);
      this.options.telemetry.logger.debug(`client ${describe(client)} is ${behind} bytes behind (max_client_buffer ${limit}); waiting for it to drain`);
      client.graceTimer = this.options.clock.setTimeout(() => this.dropSlow(client), this.options.slowClientGraceMs);
    } else if (client.graceTimer !== null) {
      this.release(client);
    }
  }

  /** Ends a client's grace, and wakes the waiting flush when no client is over the limit any more. */
  private release(client: Client): void {
    client.graceTimer?.cancel();
    client.graceTimer = null;
    this.overLimit.delete(client);
    if (this.overLimit.size > 0 || this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private dropSlow(client: Client): void {
    const { telemetry, slowCloseGraceMs, maxClientBufferBytes, slowClientGraceMs } = this.options;
    client.graceTimer = null;
    const behind = backlog(client);
    const unsent = client.queuedRecords;
    telemetry.event(
      'warn',
      `client ${describe(client)} fell behind: ${behind} bytes unsent (${unsent} records queued, more in the socket) after ${slowClientGraceMs / 1000}s over max_client_buffer ${maxClientBufferBytes}; ` +
        `it was sent ${client.sentRecords} records (${client.sentBytes} bytes); closing it with 1013`,
      'wsbit_output_broadcast_slow_clients_total',
    );
    if (unsent > 0) telemetry.count('wsbit_output_broadcast_unsent_records_total', unsent);
    client.queue = [];
    client.head = 0;
    client.queuedBytes = 0;
    client.queuedRecords = 0;
    this.forget(client);
    this.release(client);
    // The close frame waits behind what the socket holds: a client that is merely slow still reads
    // 1013, one that has stopped reading is cut off after the grace period, which frees its buffer.
    client.ws.close(CLOSE_TRY_AGAIN_LATER, 'client too slow');
    client.closeTimer = this.options.clock.setTimeout(() => client.ws.terminate(), slowCloseGraceMs);
  }

  /** Stops sending to a client we are closing; its 'close' event comes later. */
  private forget(client: Client): void {
    this.clients.delete(client);
    this.leaving.add(client);
    this.options.telemetry.gauge('wsbit_output_connected', this.clients.size);
  }

  private describeCount(): string {
    return `${this.clients.size} client${this.clients.size === 1 ? '' : 's'}`;
  }
}

/** Bytes a client has yet to receive: its queue and what its socket (and ws) hold. */
function backlog(client: Client): number {
  return client.queuedBytes + client.ws.bufferedAmount;
}

function describe(client: Client): string {
  return `${client.remote} (#${client.id})`;
}

/** The payloads of the frames frameRange() wrote (unmasked, unfragmented), without copying them. */
function framePayloads(frames: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  let at = 0;
  while (at < frames.length) {
    const short = frames[at + 1]! & 0x7f;
    let length = short;
    let start = at + 2;
    if (short === 126) {
      length = frames.readUInt16BE(at + 2);
      start = at + 4;
    } else if (short === 127) {
      length = frames.readUInt32BE(at + 2) * 0x1_0000_0000 + frames.readUInt32BE(at + 6);
      start = at + 10;
    }
    payloads.push(frames.subarray(start, start + length));
    at = start + length;
  }
  return payloads;
}

/** The messages whose records pass `filter`. */
function selectRecords(filter: RecordFilter, { messages, chunk, bodies }: Broadcast): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < messages.length; i++) if (recordMatches(filter, chunk, bodies[2 * i]!, bodies[2 * i + 1]!)) out.push(messages[i]!);
  return out;
}

function matches(client: Client, tag: string): boolean {
  if (client.patterns.length === 0) return true;
  for (const pattern of client.patterns) if (wildcardMatches(pattern, tag)) return true;
  return false;
}
