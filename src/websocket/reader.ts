/**
 * RFC 6455 §5 incremental frame reader: an explicit state machine (header → extended length → mask key →
 * payload) fed with bytes in any split, one byte at a time included. It reassembles fragmented messages
 * (§5.4) and checks every rule whose breach must "_Fail the WebSocket Connection_" (§7.1.7).
 *
 * It does no I/O. `push()` returns the events decoded so far and, at most once, the protocol error that stopped
 * it; after an error the reader stays failed, and after a Close frame it ignores further bytes (§5.5.1: the
 * peer sends nothing after Close).
 */
import { isUtf8 } from 'node:buffer';
import { WsbitError } from '../base/errors.js';
import {
  CloseCode,
  MAX_CONTROL_PAYLOAD_BYTES,
  Opcode,
  RSV1,
  applyMask,
  isControlOpcode,
  isKnownOpcode,
  isValidCloseCode,
  type DataOpcode,
} from './frame.js';
import { InflateError, type MessageInflater } from './deflate.js';

export type ProtocolViolation =
  | 'reserved-bits'
  | 'unknown-opcode'
  | 'control-too-long'
  | 'control-fragmented'
  | 'masked-frame-from-server'
  | 'unmasked-frame-from-client'
  | 'continuation-without-start'
  | 'data-frame-inside-fragmented-message'
  | 'length-top-bit-set'
  | 'message-too-big'
  | 'invalid-utf8'
  | 'bad-close-payload'
  | 'compressed-control-frame'
  | 'compressed-continuation'
  | 'bad-compressed-data';

/** A breach of RFC 6455 by the peer. `closeCode` is what we send in our Close frame before dropping the TCP. */
export class WebSocketProtocolError extends WsbitError {
  readonly closeCode: number;
  readonly violation: ProtocolViolation;

  constructor(violation: ProtocolViolation, closeCode: number, message: string) {
    const code =
      closeCode === CloseCode.MessageTooBig
        ? 'WSBIT_WS_MESSAGE_TOO_BIG'
        : violation === 'bad-compressed-data'
          ? 'WSBIT_WS_BAD_COMPRESSED_DATA'
          : closeCode === CloseCode.InvalidPayload
            ? 'WSBIT_WS_INVALID_UTF8'
            : 'WSBIT_WS_PROTOCOL';
    super(code, message);
    this.closeCode = closeCode;
    this.violation = violation;
  }
}

export type ReaderEvent =
  | { type: 'message'; opcode: DataOpcode; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** `code` is undefined when the Close frame had no body (reported as 1005 by other stacks, §7.1.5). */
  | { type: 'close'; code: number | undefined; reason: string };

export interface ReadResult {
  events: ReaderEvent[];
  /** Set once, on the push that hit the error; events decoded before it in the same push are still returned. */
  error: WebSocketProtocolError | undefined;
}

export interface FrameReaderOptions {
  /** 'client': frames come from a server and MUST NOT be masked; 'server': they MUST be (§5.1). */
  role: 'client' | 'server';
  /** Largest reassembled data message; a bigger one fails with 1009 before its payload is buffered. */
  maxMessageBytes: number;
  /** Check that text messages are UTF-8 (§8.1, fail with 1007). Default true. */
  validateUtf8?: boolean;
  /**
   * permessage-deflate was negotiated (RFC 7692): RSV1 marks a compressed message, inflated here up to
   * maxMessageBytes. Without it RSV1 is a protocol error, as every reserved bit is.
   */
  inflater?: MessageInflater;
}

type Phase = 'header' | 'length16' | 'length64' | 'maskKey' | 'payload' | 'failed' | 'closed';

const EMPTY = Buffer.alloc(0);

export class FrameReader {
  readonly #role: 'client' | 'server';
  readonly #maxMessageBytes: number;
  readonly #validateUtf8: boolean;
  readonly #inflater: MessageInflater | undefined;

  #phase: Phase = 'header';
  #error: WebSocketProtocolError | undefined;
  // Unconsumed input, kept as the caller's buffers (no copy until a field spans two of them).
  #chunks: Buffer[] = [];
  #buffered = 0;

  // The frame being read.
  #fin = false;
  #opcode = 0;
  #masked = false;
  #payloadLength = 0;
  #maskKey: Buffer = EMPTY;
  // A payload that spans reads is gathered here.
  #partial: Buffer | undefined;
  #partialFilled = 0;

  // The fragmented message in progress (§5.4), if any.
  #fragmentOpcode: DataOpcode | undefined;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  /** The message in progress had RSV1 on its first frame. */
  #messageCompressed = false;

  constructor(options: FrameReaderOptions) {
    this.#role = options.role;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#validateUtf8 = options.validateUtf8 ?? true;
    this.#inflater = options.inflater;
  }

  /** The error that stopped the reader, if any. */
  get error(): WebSocketProtocolError | undefined {
    return this.#error;
  }

  /** True once a Close frame has been read. */
  get closed(): boolean {
    return this.#phase === 'closed';
  }

  push(chunk: Uint8Array): ReadResult {
    const events: ReaderEvent[] = [];
    if (this.#phase === 'failed' || this.#phase === 'closed') return { events, error: undefined };
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
    try {
      while (this.#step(events));
    } catch (error) {
      if (!(error instanceof WebSocketProtocolError)) throw error;
      this.#phase = 'failed';
      this.#error = error;
      this.#chunks = [];
      this.#fragments = [];
      this.#partial = undefined;
      return { events, error };
    }
    return { events, error: undefined };
  }

  /** Advance one phase if enough bytes are buffered; false when more input is needed. */
  #step(events: ReaderEvent[]): boolean {
    switch (this.#phase) {
      case 'header': {
        if (this.#buffered < 2) return false;
        const header = this.#consume(2).data;
        this.#readHeader(header[0] as number, header[1] as number);
        return true;
      }
      case 'length16': {
        if (this.#buffered < 2) return false;
        this.#payloadLength = this.#consume(2).data.readUInt16BE(0);
        this.#afterLength();
        return true;
      }
      case 'length64': {
        if (this.#buffered < 8) return false;
        const bytes = this.#consume(8).data;
        const high = bytes.readUInt32BE(0);
        // §5.2: "the most significant bit MUST be 0".
        if (high & 0x8000_0000) {
          throw new WebSocketProtocolError('length-top-bit-set', CloseCode.ProtocolError, '64-bit payload length has its most significant bit set');
        }
        // Beyond 2^53 this is inexact, but any such length is far above maxMessageBytes and fails next.
        this.#payloadLength = high * 0x1_0000_0000 + bytes.readUInt32BE(4);
        this.#afterLength();
        return true;
      }
      case 'maskKey': {
        if (this.#buffered < 4) return false;
        this.#maskKey = this.#consume(4).data;
        this.#phase = 'payload';
        return true;
      }
      case 'payload': {
        const length = this.#payloadLength;
        let data: Buffer;
        let owned: boolean;
        if (this.#partial === undefined && this.#buffered >= length) {
          ({ data, owned } = this.#consume(length));
        } else if (this.#buffered === 0) {
          return false;
        } else {
          // The payload spans reads: copy each read into one buffer of the announced size as it arrives,
          // so the input queue stays short however finely the bytes are split (already checked against
          // maxMessageBytes, or at most 125 bytes for a control frame).
          this.#partial ??= Buffer.allocUnsafe(length);
          const take = Math.min(this.#buffered, length - this.#partialFilled);
          this.#copyOut(this.#partial, this.#partialFilled, take);
          this.#partialFilled += take;
          if (this.#partialFilled < length) return false;
          data = this.#partial;
          owned = true;
          this.#partial = undefined;
          this.#partialFilled = 0;
        }
        this.#phase = 'header';
        this.#onPayload(this.#masked ? this.#unmask(data, owned) : data, events);
        return true;
      }
      case 'failed':
      case 'closed':
        return false;
    }
  }

  /** §5.2 base framing: FIN, RSV1-3, opcode; MASK, 7-bit length. */
  #readHeader(byte0: number, byte1: number): void {
    this.#fin = (byte0 & 0x80) !== 0;
    const rsv = byte0 & 0x70;
    this.#opcode = byte0 & 0x0f;
    this.#masked = (byte1 & 0x80) !== 0;
    this.#payloadLength = byte1 & 0x7f;

    // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated"; permessage-deflate gives RSV1 a meaning.
    const rsv1 = rsv === RSV1 && this.#inflater !== undefined;
    if (rsv !== 0 && !rsv1) {
      const why = this.#inflater === undefined ? 'but no extension was negotiated' : 'that permessage-deflate does not define';
      throw new WebSocketProtocolError('reserved-bits', CloseCode.ProtocolError, `frame has reserved bits set (0x${rsv.toString(16)}) ${why}`);
    }
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
    if (!isKnownOpcode(this.#opcode)) {
      throw new WebSocketProtocolError('unknown-opcode', CloseCode.ProtocolError, `frame has reserved opcode 0x${this.#opcode.toString(16)}`);
    }
    // §5.1: a client MUST close on a masked frame from the server; a server on an unmasked one from a client.
    if (this.#role === 'client' && this.#masked) {
      throw new WebSocketProtocolError('masked-frame-from-server', CloseCode.ProtocolError, 'server sent a masked frame');
    }
    if (this.#role === 'server' && !this.#masked) {
      throw new WebSocketProtocolError('unmasked-frame-from-client', CloseCode.ProtocolError, 'client sent an unmasked frame');
    }
    if (rsv1) this.#checkCompressedFrame();
    if (isControlOpcode(this.#opcode)) {
      // §5.5: control frames "MUST have a payload length of 125 bytes or less and MUST NOT be fragmented".
      if (!this.#fin) {
        throw new WebSocketProtocolError('control-fragmented', CloseCode.ProtocolError, `control frame 0x${this.#opcode.toString(16)} is fragmented`);
      }
      if (this.#payloadLength > MAX_CONTROL_PAYLOAD_BYTES) {
        throw new WebSocketProtocolError('control-too-long', CloseCode.ProtocolError, `control frame 0x${this.#opcode.toString(16)} has a payload over ${MAX_CONTROL_PAYLOAD_BYTES} bytes`);
      }
    } else if (this.#opcode === Opcode.Continuation) {
      // §5.4: continuation frames only follow a non-final text or binary frame.
      if (this.#fragmentOpcode === undefined) {
        throw new WebSocketProtocolError('continuation-without-start', CloseCode.ProtocolError, 'continuation frame without a fragmented message in progress');
      }
    } else if (this.#fragmentOpcode !== undefined) {
      // §5.4: fragments of one message are not interleaved with another data message.
      throw new WebSocketProtocolError('data-frame-inside-fragmented-message', CloseCode.ProtocolError, 'new data frame while a fragmented message is in progress');
    }

    if (this.#payloadLength === 126) this.#phase = 'length16';
    else if (this.#payloadLength === 127) this.#phase = 'length64';
    else this.#afterLength();
  }

  /** RFC 7692 §6.1: RSV1 only on the first frame of a data message; control frames are never compressed. */
  #checkCompressedFrame(): void {
    if (isControlOpcode(this.#opcode)) {
      throw new WebSocketProtocolError('compressed-control-frame', CloseCode.ProtocolError, `control frame 0x${this.#opcode.toString(16)} has RSV1 (compressed) set`);
    }
    if (this.#opcode === Opcode.Continuation) {
      throw new WebSocketProtocolError('compressed-continuation', CloseCode.ProtocolError, 'continuation frame has RSV1 (compressed) set; only a message\'s first frame may');
    }
    this.#messageCompressed = true;
  }

  #afterLength(): void {
    // Checked before any payload is buffered, so a huge announced length costs no memory (§10.4).
    if (!isControlOpcode(this.#opcode) && this.#fragmentBytes + this.#payloadLength > this.#maxMessageBytes) {
      throw new WebSocketProtocolError(
        'message-too-big',
        CloseCode.MessageTooBig,
        `message of at least ${this.#fragmentBytes + this.#payloadLength} bytes exceeds the ${this.#maxMessageBytes}-byte limit`,
      );
    }
    this.#phase = this.#masked ? 'maskKey' : 'payload';
  }

  #onPayload(data: Buffer, events: ReaderEvent[]): void {
    switch (this.#opcode) {
      case Opcode.Ping:
        events.push({ type: 'ping', data });
        return;
      case Opcode.Pong:
        events.push({ type: 'pong', data });
        return;
      case Opcode.Close:
        events.push(this.#parseClose(data));
        this.#phase = 'closed';
        this.#chunks = [];
        this.#buffered = 0;
        return;
    }
    if (this.#opcode !== Opcode.Continuation) this.#fragmentOpcode = this.#opcode === Opcode.Text ? Opcode.Text : Opcode.Binary;
    const opcode = this.#fragmentOpcode as DataOpcode;
    if (this.#fin && this.#fragments.length === 0) {
      this.#fragmentOpcode = undefined;
      events.push(this.#message(opcode, data));
      return;
    }
    this.#fragments.push(data);
    this.#fragmentBytes += data.length;
    if (!this.#fin) return;
    const message = Buffer.concat(this.#fragments, this.#fragmentBytes);
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentOpcode = undefined;
    events.push(this.#message(opcode, message));
  }

  #message(opcode: DataOpcode, data: Buffer): ReaderEvent {
    if (this.#messageCompressed) {
      this.#messageCompressed = false;
      data = this.#inflate(data);
    }
    // §8.1: a text message that is not valid UTF-8 fails the connection (1007, §7.4.1).
    if (opcode === Opcode.Text && this.#validateUtf8 && !isUtf8(data)) {
      throw new WebSocketProtocolError('invalid-utf8', CloseCode.InvalidPayload, 'text message is not valid UTF-8');
    }
    return { type: 'message', opcode, data };
  }

  /** The inflated message; past maxMessageBytes inflated it fails with 1009 (a decompression bomb), bad data with 1007. */
  #inflate(compressed: Buffer): Buffer {
    try {
      return (this.#inflater as MessageInflater).inflate(compressed, this.#maxMessageBytes);
    } catch (error) {
      if (!(error instanceof InflateError)) throw error;
      if (error.tooBig) throw new WebSocketProtocolError('message-too-big', CloseCode.MessageTooBig, error.message);
      throw new WebSocketProtocolError('bad-compressed-data', CloseCode.InvalidPayload, error.message);
    }
  }

  /** §5.5.1: an empty body, or a 2-byte code that may be sent (§7.4) followed by a UTF-8 reason. */
  #parseClose(data: Buffer): ReaderEvent {
    if (data.length === 0) return { type: 'close', code: undefined, reason: '' };
    if (data.length === 1) {
      throw new WebSocketProtocolError('bad-close-payload', CloseCode.ProtocolError, 'close frame body is 1 byte; a code needs 2');
    }
    const code = data.readUInt16BE(0);
    if (!isValidCloseCode(code)) {
      throw new WebSocketProtocolError('bad-close-payload', CloseCode.ProtocolError, `close frame carries invalid code ${code}`);
    }
    const reason = data.subarray(2);
    if (!isUtf8(reason)) {
      throw new WebSocketProtocolError('invalid-utf8', CloseCode.InvalidPayload, 'close reason is not valid UTF-8');
    }
    return { type: 'close', code, reason: reason.toString('utf8') };
  }

  /** §5.3 unmasking. In place when the bytes are already our own copy, else into a new buffer. */
  #unmask(data: Buffer, owned: boolean): Buffer {
    const target = owned ? data : Buffer.allocUnsafe(data.length);
    applyMask(data, this.#maskKey, target);
    return target;
  }

  /**
   * Take `n` bytes off the front of the input. A field inside one input buffer is returned as a view of it
   * (`owned: false`); only a field spanning buffers is copied into a new one (`owned: true`).
   */
  #consume(n: number): { data: Buffer; owned: boolean } {
    if (n === 0) return { data: EMPTY, owned: true };
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      this.#buffered -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return { data: first.subarray(0, n), owned: false };
    }
    const out = Buffer.allocUnsafe(n);
    this.#copyOut(out, 0, n);
    return { data: out, owned: true };
  }

  /** Move `n` buffered input bytes into `target` at `offset`. */
  #copyOut(target: Buffer, offset: number, n: number): void {
    this.#buffered -= n;
    let used = 0;
    while (n > 0) {
      const chunk = this.#chunks[used] as Buffer;
      const take = Math.min(chunk.length, n);
      target.set(take === chunk.length ? chunk : chunk.subarray(0, take), offset);
      offset += take;
      n -= take;
      if (take === chunk.length) used++;
      else this.#chunks[used] = chunk.subarray(take);
    }
    this.#chunks.splice(0, used);
  }
}
