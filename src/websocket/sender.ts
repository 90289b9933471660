/**
 * The writing half of one client connection: frames out, with the bounds that keep a server that does not
 * read from growing our memory (as `ws` and undici keep a Sender apart from the connection).
 *
 * - A data frame is a promise that settles when the socket is done with its bytes, bounded by
 *   `ioTimeoutMs` (Fluent Bit's `net.io_timeout`); every pending one is rejected when the connection ends.
 * - While our unsent bytes stay above WRITE_BACKLOG_BOUND_BYTES for `writeStallTimeoutMs`, the connection
 *   is dropped ('drain' stops the clock).
 * - Pongs are not queued behind a full buffer: RFC 6455 §5.5.3 lets an endpoint answer only the latest
 *   ping, so one waits for 'drain' and a newer ping replaces it.
 * - With permessage-deflate (compressWith), compression is asynchronous: while a message is being
 *   compressed, every later data frame, ping and Close waits its turn, so the server still reads them in
 *   the order they were sent and a pong still confirms the data before it. The zlib context is freed in
 *   fail(), when the connection ends.
 *
 * The sender never decides the connection's state: it reports fatal write problems through `onFatal`.
 */
import type { Socket } from 'node:net';
import { BufferPool } from '../base/buffer-pool.js';
import { WsbitError } from '../base/errors.js';
import type { MessageDeflater } from './deflate.js';
import { encodeFrame, encodePong, maskDataFrameInPlace, Opcode, type DataOpcode } from './frame.js';

export interface WebSocketSenderOptions {
  /** `host:port`, for error messages. */
  target: string;
  /** Longest a single write may take to reach the socket; 0 = no limit. */
  ioTimeoutMs: number;
  /** How long unsent bytes may stay above the bound before the connection is dropped; 0 = never. */
  writeStallTimeoutMs: number;
  /** Drops the connection; the connection answers by calling fail(). */
  onFatal: (reason: WsbitError) => void;
  /**
   * Where large frame buffers come from, shared by the connections of one output and sized to the frames
   * it may send at once. By default the sender has its own, for one frame at a time.
   */
  framePool?: BufferPool;
}

/** permessage-deflate, once negotiated: the connection's context, and the size below which a message goes as it is. */
export interface SenderCompression {
  deflater: MessageDeflater;
  threshold: number;
  /** Told of every compressed message: its payload bytes, and what went on the wire for them. */
  onCompressed?: (payloadBytes: number, compressedBytes: number) => void;
}

/** One piece of a message sent in several frames (RFC 6455 §5.4). */
export interface MessageFragment {
  bytes: Uint8Array;
  /** The message ends with this piece (its frame has FIN set). */
  last: boolean;
}

/**
 * A message made piece by piece while it is sent, so that only a piece of it is in memory at a time.
 * `next()` may write over the bytes it gave before: each piece is handed to the socket before the next
 * is asked for. It may throw (a chunk that cannot be encoded); the message is then abandoned.
 */
export interface FragmentedMessage {
  /** Whether the pieces are the producer's own scratch, masked where they lie (else masked into a copy). */
  readonly owned: boolean;
  next(): MessageFragment;
}

export function isFragmentedMessage(payload: Uint8Array | readonly Uint8Array[] | FragmentedMessage): payload is FragmentedMessage {
  return 'next' in payload && typeof payload.next === 'function';
}

/**
 * Unsent bytes above which pongs are coalesced and the write-stall clock runs. Above the socket's 16 KiB
 * high-water mark, so crossing it always arms 'drain'.
 */
export const WRITE_BACKLOG_BOUND_BYTES = 64 * 1024;

/** A connection that ended, as the promises of its pending writes see it. */
export function connectionLost(reason: WsbitError): WsbitError {
  if (reason.code === 'WSBIT_CONNECTION_LOST') return reason;
  return new WsbitError('WSBIT_CONNECTION_LOST', `connection is down: ${reason.message}`, { cause: reason });
}

export class WebSocketSender {
  readonly #socket: Socket;
  readonly #options: WebSocketSenderOptions;
  /** Large data frames, given back once the socket is done with them. */
  readonly #framePool: BufferPool;
  #pendingWrites = new Set<(error: WsbitError) => void>();
  #writeStallTimer: NodeJS.Timeout | undefined;
  /** The latest server ping not yet answered because the write buffer is full; answered on 'drain'. */
  #deferredPong: Buffer | undefined;
  #pongsCoalesced = 0;
  /** Why the connection ended, once fail() was called. */
  #failure: WsbitError | undefined;
  #compression: SenderCompression | null = null;
  /**
   * The last write waiting behind a compression, null when none waits. Compression is asynchronous, so
   * while one runs every later frame (data, and the pings that confirm it) queues behind it: the server
   * reads them in the order they were sent, and a pong still proves the data before it was read.
   */
  #ordered: Promise<unknown> | null = null;

  constructor(socket: Socket, options: WebSocketSenderOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#framePool = options.framePool ?? new BufferPool(1);
  }

  /** Server pings left unanswered because a later ping was answered instead (§5.5.3). */
  get pongsCoalesced(): number {
    return this.#pongsCoalesced;
  }

  /** permessage-deflate was negotiated: messages from `threshold` bytes on are compressed (RSV1 set). */
  compressWith(compression: SenderCompression): void {
    this.#compression = compression;
  }

  /** Bytes the socket has not sent yet, ours and the frames' alike. */
  get unsentBytes(): number {
    return this.#socket.writableLength;
  }

  /**
   * One masked, unfragmented data frame. Resolves once the frame is handed to the socket, not when it is read.
   * With `ownsPayload` the payload is the caller's private copy for this frame (JSON encoded from a chunk,
   * never a chunk's bytes): it is masked where it lies and written after the header, and must not be read
   * again. That saves a copy as large as the message.
   */
  sendData(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[] | FragmentedMessage, ownsPayload = false): Promise<void> {
    if (isFragmentedMessage(payload)) return this.#sendFragmented(opcode, payload);
    const parts: readonly Uint8Array[] = payload instanceof Uint8Array ? [payload] : payload;
    const compression = this.#compression;
    if (compression !== null && byteLength(parts) >= compression.threshold) {
      return this.#inOrder(async () => {
        const compressed = await this.#compress(compression, parts);
        // The compressed bytes are ours alone: masked where they lie, whoever owns the payload.
        return { written: this.#write(compressed, maskDataFrameInPlace(opcode, compressed, undefined, true)) };
      });
    }
    if (this.#ordered !== null) return this.#inOrder(() => ({ written: this.#sendUncompressed(opcode, payload, ownsPayload) }));
    return this.#sendUncompressed(opcode, payload, ownsPayload);
  }

  #sendUncompressed(opcode: DataOpcode, payload: Uint8Array | readonly Uint8Array[], ownsPayload: boolean): Promise<void> {
    const inPlace = ownsPayload && payload instanceof Uint8Array;
    const frame = inPlace ? payload : encodeFrame(opcode, payload, { mask: true, pool: this.#framePool });
    const header = inPlace ? maskDataFrameInPlace(opcode, payload) : null;
    return this.#write(frame, header);
  }

  /**
   * A message in one frame per piece: the first with `opcode`, the rest Continuation frames, FIN on the
   * last. Each piece is handed to the socket before the next is made, and every later frame (another
   * message, a ping that confirms this one, Close) waits until the last piece is written, since only
   * control frames may come between fragments (§5.4). Resolves once the last piece is handed to the socket.
   * With permessage-deflate negotiated the pieces are gathered and compressed as one message.
   */
  #sendFragmented(opcode: DataOpcode, message: FragmentedMessage): Promise<void> {
    if (this.#compression !== null) {
      const parts: Buffer[] = [];
      for (let piece = message.next(); ; piece = message.next()) {
        parts.push(Buffer.from(piece.bytes));
        if (piece.last) break;
      }
      return this.sendData(opcode, parts);
    }
    return this.#inOrder(async () => {
      let frameOpcode: DataOpcode | typeof Opcode.Continuation = opcode;
      for (;;) {
        let piece: MessageFragment;
        try {
          piece = message.next();
        } catch (error) {
          // Part of the message is on the wire: the server must drop it, which only closing does.
          if (frameOpcode !== opcode) this.#options.onFatal(new WsbitError('WSBIT_CONNECTION_LOST', `a message to ${this.#options.target} was abandoned halfway`));
          throw error;
        }
        const { bytes, last } = piece;
        if (message.owned) await this.#write(bytes, maskDataFrameInPlace(frameOpcode, bytes, undefined, false, last));
        else await this.#write(encodeFrame(frameOpcode, bytes, { mask: true, fin: last, pool: this.#framePool }), null);
        if (last) return { written: Promise.resolve() };
        frameOpcode = Opcode.Continuation;
      }
    });
  }

  /**
   * Several messages, one masked unfragmented frame each, in one socket write that settles as sendData's
   * does: one promise and one timer for a chunk's records (`message_mode record`), not one per record.
   */
  sendDataMessages(opcode: DataOpcode, messages: readonly Uint8Array[]): Promise<void> {
    const compression = this.#compression;
    if (compression !== null && messages.some((message) => message.length >= compression.threshold)) {
      return this.#inOrder(async () => {
        const frames: Buffer[] = [];
        for (const message of messages) {
          const compressed = message.length >= compression.threshold ? await this.#compress(compression, [message]) : null;
          frames.push(encodeFrame(opcode, compressed ?? message, { mask: true, compressed: compressed !== null }));
        }
        return { written: this.#write(Buffer.concat(frames), null) };
      });
    }
    const frames = (): Promise<void> => this.#write(Buffer.concat(messages.map((message) => encodeFrame(opcode, message, { mask: true }))), null);
    return this.#ordered !== null ? this.#inOrder(() => ({ written: frames() })) : frames();
  }

  /** Writes `frame` (after `header`, in one writev, when the payload was masked in place). */
  #write(frame: Uint8Array, header: Uint8Array | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ioTimeoutMs = this.#options.ioTimeoutMs;
      const fail = (error: WsbitError): void => {
        settle();
        reject(connectionLost(error));
      };
      const timer =
        ioTimeoutMs > 0
          ? setTimeout(
              () => this.#options.onFatal(new WsbitError('WSBIT_IO_TIMEOUT', `write to ${this.#options.target} did not complete within ${ioTimeoutMs} ms`)),
              ioTimeoutMs,
            )
          : undefined;
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#pendingWrites.delete(fail);
      };
      this.#pendingWrites.add(fail);
      // Corked, the header and the payload leave in one writev, as one write would.
      if (header !== null) {
        this.#socket.cork();
        this.#socket.write(header);
      }
      this.#socket.write(frame, (error) => {
        // The socket is done with the bytes, whether written or not: a pooled frame may be reused.
        this.#framePool.give(frame);
        if (error === undefined || error === null) {
          settle();
          resolve();
        } else {
          fail(
            this.#failure ??
              new WsbitError('WSBIT_CONNECTION_LOST', `write to ${this.#options.target} failed: ${error.message}`, { cause: error }),
          );
        }
      });
      if (header !== null) this.#socket.uncork();
      this.#watchBacklog();
    });
  }

  /** A control frame (ping, close) or the handshake request: written at once (after any compression under way), not awaited. */
  sendControl(bytes: Buffer): void {
    if (this.#ordered !== null) {
      void this.#inOrder(() => {
        this.#writeControl(bytes);
        return { written: Promise.resolve() };
      }).catch(() => undefined);
    }
    else this.#writeControl(bytes);
  }

  #writeControl(bytes: Buffer): void {
    this.#socket.write(bytes);
    this.#watchBacklog();
  }

  /**
   * Runs `step` once every write queued before it has been handed to the socket; none runs once the
   * connection has ended. The queue moves on as soon as a step has called socket.write (`written` is
   * that write's own promise), not when the socket is done with the bytes.
   */
  #inOrder(step: () => { written: Promise<void> } | Promise<{ written: Promise<void> }>): Promise<void> {
    const run = (this.#ordered ?? Promise.resolve()).then(() => {
      if (this.#failure !== undefined) throw connectionLost(this.#failure);
      return step();
    });
    const queued = run.then(
      () => undefined,
      () => undefined,
    );
    this.#ordered = queued;
    // The last queued step done: writes go straight to the socket again.
    void queued.then(() => {
      if (this.#ordered === queued) this.#ordered = null;
    });
    return run.then(({ written }) => written);
  }

  async #compress(compression: SenderCompression, parts: readonly Uint8Array[]): Promise<Buffer> {
    let compressed: Buffer;
    try {
      compressed = await compression.deflater.compress(parts);
    } catch (error) {
      if (this.#failure !== undefined) throw connectionLost(this.#failure);
      const reason = error instanceof WsbitError ? error : new WsbitError('WSBIT_DEFLATE_FAILED', String(error));
      this.#options.onFatal(reason);
      throw connectionLost(reason);
    }
    if (this.#failure !== undefined) throw connectionLost(this.#failure);
    compression.onCompressed?.(byteLength(parts), compressed.length);
    return compressed;
  }

  /** §5.5.2: a Pong with the ping's payload; while our buffer is full, only the latest ping is answered (§5.5.3). */
  pong(pingPayload: Buffer): void {
    if (this.#socket.writableLength > WRITE_BACKLOG_BOUND_BYTES) {
      // A copy, so the read buffer the ping came in is not kept alive.
      if (this.#deferredPong !== undefined) this.#pongsCoalesced++;
      this.#deferredPong = Buffer.from(pingPayload);
      this.#watchBacklog();
      return;
    }
    // Not queued behind a compression: a pong proves nothing about our data, so it may overtake it.
    this.#writeControl(encodePong(pingPayload, true));
  }

  /** The socket's 'drain': the stall clock stops, and a deferred pong goes out if the connection may still send one. */
  onDrain(mayPong: boolean): void {
    if (this.#writeStallTimer !== undefined) {
      clearTimeout(this.#writeStallTimer);
      this.#writeStallTimer = undefined;
    }
    const pong = this.#deferredPong;
    this.#deferredPong = undefined;
    if (pong !== undefined && mayPong) this.#writeControl(encodePong(pong, true));
  }

  /** The connection ended: timers stop, and every pending data frame is rejected with `reason`. */
  fail(reason: WsbitError): void {
    this.#failure ??= reason;
    // The zlib context goes with the connection; a compression under way is rejected.
    this.#compression?.deflater.close();
    if (this.#writeStallTimer !== undefined) clearTimeout(this.#writeStallTimer);
    this.#writeStallTimer = undefined;
    this.#deferredPong = undefined;
    for (const fail of [...this.#pendingWrites]) fail(reason);
  }

  /**
   * Called after every write: while our unsent bytes stay above the bound, a server that does not read
   * gets `writeStallTimeoutMs` before it is dropped ('drain' stops the clock).
   */
  #watchBacklog(): void {
    const stallMs = this.#options.writeStallTimeoutMs;
    const socket = this.#socket;
    if (stallMs <= 0 || this.#writeStallTimer !== undefined || socket.writableLength <= WRITE_BACKLOG_BOUND_BYTES) return;
    this.#writeStallTimer = setTimeout(() => {
      this.#writeStallTimer = undefined;
      const unsent = socket.writableLength;
      if (unsent <= WRITE_BACKLOG_BOUND_BYTES) return;
      this.#options.onFatal(
        new WsbitError(
          'WSBIT_WRITE_STALLED',
          `${this.#options.target} has not read what we sent for ${stallMs} ms (${unsent} bytes unsent); dropping the connection`,
        ),
      );
    }, stallMs);
  }
}

function byteLength(parts: readonly Uint8Array[]): number {
  let length = 0;
  for (const part of parts) length += part.length;
  return length;
}
