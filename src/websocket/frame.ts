/**
 * RFC 6455 frame encoding: pure functions that never touch their input, except maskDataFrameInPlace.
 *
 * Fluent Bit masks the chunk buffer in place with the constant key 12 34 56 78 (SPEC §1.7), which corrupts
 * a chunk shared with other outputs and sends plaintext under MASK=1 on a retry. Here a chunk's bytes are
 * masked into a new buffer, and every frame gets a fresh random key (RFC 6455 §5.3, SPEC Part A points 3
 * and 4). Only a payload that is already a private copy made for this one frame (JSON text encoded from a
 * chunk) is masked where it lies: a retry encodes the chunk again.
 */
import { randomBytes } from '../base/entropy.js';
import { WsbitError } from '../base/errors.js';
import type { BufferPool } from '../base/buffer-pool.js';

/** RFC 6455 §5.2 opcodes; %x3-7 and %xB-F are reserved. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];
export type DataOpcode = typeof Opcode.Text | typeof Opcode.Binary;

/** RFC 6455 §7.4.1 status codes, plus 1013 from the IANA registry. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  TryAgainLater: 1013,
} as const;

/** The RSV1 bit of a frame's first byte: set on the first frame of a compressed message (RFC 7692 §6). */
export const RSV1 = 0x40;

/** RFC 6455 §5.5: control frames carry at most 125 payload bytes and are never fragmented. */
export const MAX_CONTROL_PAYLOAD_BYTES = 125;

export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** RFC 6455 §5.5: opcodes with the high bit set are control frames. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * May this code appear on the wire in a Close frame? RFC 6455 §7.4.1/§7.4.2: 1000-1003 and 1007-1011 are
 * defined, 1012-1014 are registered with IANA, 3000-4999 belong to libraries and applications. 1004 is
 * reserved, and 1005, 1006 and 1015 are only for reporting and "MUST NOT be set as a status code".
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1014) return code !== 1004 && code !== 1005 && code !== 1006;
  return code >= 3000 && code <= 4999;
}

export interface FrameOptions {
  /** A client MUST mask every frame it sends, a server MUST NOT (RFC 6455 §5.1). */
  mask: boolean;
  /** Four bytes; for tests only. By default every frame gets a fresh random key (RFC 6455 §5.3). */
  maskKey?: Uint8Array;
  /** FIN bit; default true. A false FIN starts or continues a fragmented message (RFC 6455 §5.4). */
  fin?: boolean;
  /** Where large frame buffers come from; the caller gives the frame back once the socket has written it. */
  pool?: BufferPool;
  /** RSV1: the payload is compressed (RFC 7692 §6), set on a message's first frame only. */
  compressed?: boolean;
}

// Every frame gets its own unpredictable key (§5.3 asks for "a strong source of entropy") from the kernel's
// CSPRNG (base/entropy.ts): a slice of a pool refilled by one read, as `ws` does with OpenSSL, without a
// system call per frame and without loading OpenSSL. A fresh buffer, so that a caller holding a key never
// sees it change.
function nextMaskKey(): Uint8Array {
  return randomBytes(4);
}

/**
 * XOR `source` with `key` into `target` at `targetOffset` (RFC 6455 §5.3: octet i is XORed with key[i mod 4]).
 * `keyOffset` continues the key position across several source parts. `target` may be `source` itself.
 */
export function applyMask(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
  targetOffset = 0,
  keyOffset = 0,
): void {
  const k0 = key[keyOffset & 3] ?? 0;
  const k1 = key[(keyOffset + 1) & 3] ?? 0;
  const k2 = key[(keyOffset + 2) & 3] ?? 0;
  const k3 = key[(keyOffset + 3) & 3] ?? 0;
  const length = source.length;
  const whole = length - (length & 3);
  // 2 MB chunks are common, so this is the hot loop: 32-bit words through DataViews (which allow unaligned
  // offsets, unlike Uint32Array) run about twice as fast as bytes. Big-endian on both sides keeps byte order.
  const key32 = (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
  const from = new DataView(source.buffer, source.byteOffset, length);
  const to = new DataView(target.buffer, target.byteOffset + targetOffset, length);
  for (let i = 0; i < whole; i += 4) to.setInt32(i, from.getInt32(i) ^ key32);
  for (let i = whole; i < length; i++) target[targetOffset + i] = (source[i] as number) ^ (key[(keyOffset + i) & 3] ?? 0);
}

/** Header size for a payload: 2 bytes, +2 or +8 for the extended length, +4 for the mask key (§5.2). */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength <= 0xffff ? 2 : 8;
  return 2 + lengthBytes + (masked ? 4 : 0);
}

/**
 * Encode one frame. Returns the whole frame as ONE Buffer: header, then the (masked) payload.
 *
 * Masking must produce new bytes anyway (the payload is never mutated), so the masked payload is XORed straight
 * into the frame buffer after the header: one allocation and one pass over the data, no extra copy, and one
 * `socket.write` per frame. Unmasked frames (a server's, or tests) copy the payload once.
 */
export function encodeFrame(opcode: Opcode, payload: Uint8Array | readonly Uint8Array[], options: FrameOptions): Buffer {
  const parts: readonly Uint8Array[] = payload instanceof Uint8Array ? [payload] : payload;
  let payloadLength = 0;
  for (const part of parts) payloadLength += part.length;
  const fin = options.fin ?? true;

  if (!isKnownOpcode(opcode)) {
    throw new WsbitError('WSBIT_WS_BAD_OPCODE', `cannot encode a frame with reserved opcode ${opcode}`);
  }
  if (isControlOpcode(opcode) && (payloadLength > MAX_CONTROL_PAYLOAD_BYTES || !fin)) {
    throw new WsbitError(
      'WSBIT_WS_CONTROL_TOO_LONG',
      `control frame payload must be at most ${MAX_CONTROL_PAYLOAD_BYTES} bytes and unfragmented (got ${payloadLength})`,
    );
  }
  if (options.compressed === true && (isControlOpcode(opcode) || opcode === Opcode.Continuation)) {
    throw new WsbitError('WSBIT_WS_BAD_RSV1', 'RSV1 (compressed) goes on the first frame of a data message only (RFC 7692 §6.1)');
  }
  let key: Uint8Array | undefined;
  if (options.mask) {
    key = options.maskKey ?? nextMaskKey();
    if (key.length !== 4) throw new WsbitError('WSBIT_WS_BAD_MASK_KEY', 'a masking key is exactly 4 bytes');
  }

  const headerLength = frameHeaderLength(payloadLength, key !== undefined);
  const frameLength = headerLength + payloadLength;
  const frame = options.pool === undefined ? Buffer.allocUnsafe(frameLength) : options.pool.take(frameLength).subarray(0, frameLength);
  let offset = writeFrameHeader(frame, opcode, fin, payloadLength, key, options.compressed === true);
  if (key !== undefined) {
    let keyOffset = 0;
    for (const part of parts) {
      applyMask(part, key, frame, offset, keyOffset);
      offset += part.length;
      keyOffset += part.length;
    }
  } else {
    for (const part of parts) {
      frame.set(part, offset);
      offset += part.length;
    }
  }
  return frame;
}

/**
 * A masked data frame whose payload is masked where it lies: masks `payload` and returns the header
 * to write before it. Header then payload are the bytes encodeFrame() gives for the same key, without a
 * frame-sized copy of a message that may be megabytes. Only for a payload the caller owns and reads no
 * more, made for this one frame (JSON encoded from a chunk); never a chunk's own bytes (SPEC Part A point 4).
 * `fin` false, or a Continuation opcode, makes it a fragment of a message (RFC 6455 §5.4).
 */
export function maskDataFrameInPlace(
  opcode: DataOpcode | typeof Opcode.Continuation,
  payload: Uint8Array,
  maskKey?: Uint8Array,
  compressed = false,
  fin = true,
): Buffer {
  const key = maskKey ?? nextMaskKey();
  if (key.length !== 4) throw new WsbitError('WSBIT_WS_BAD_MASK_KEY', 'a masking key is exactly 4 bytes');
  const header = Buffer.allocUnsafe(frameHeaderLength(payload.length, true));
  writeFrameHeader(header, opcode, fin, payload.length, key, compressed);
  applyMask(payload, key, payload);
  return header;
}

/** Writes the header (§5.2) at the start of `target`; returns its length. */
function writeFrameHeader(target: Buffer, opcode: Opcode, fin: boolean, payloadLength: number, key: Uint8Array | undefined, compressed = false): number {
  // §5.2 byte 0: FIN, RSV1 (permessage-deflate's "compressed", RFC 7692 §6), RSV2-3 (always 0), opcode.
  target[0] = (fin ? 0x80 : 0) | (compressed ? RSV1 : 0) | opcode;
  const maskBit = key !== undefined ? 0x80 : 0;
  let offset = 2;
  // §5.2 payload length: 7 bits, or 126 + 16-bit, or 127 + 64-bit (big-endian, most significant bit 0).
  // The minimal encoding is used, as §5.2 requires.
  if (payloadLength < 126) {
    target[1] = maskBit | payloadLength;
  } else if (payloadLength <= 0xffff) {
    target[1] = maskBit | 126;
    target.writeUInt16BE(payloadLength, 2);
    offset = 4;
  } else {
    target[1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), 2);
    target.writeUInt32BE(payloadLength >>> 0, 6);
    offset = 10;
  }
  if (key !== undefined) {
    target.set(key, offset);
    offset += 4;
  }
  return offset;
}

function controlPayload(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8 without splitting a character. */
function utf8Prefix(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * A Close frame (RFC 6455 §5.5.1): a 2-byte big-endian code, then a UTF-8 reason. `code` undefined sends an
 * empty body (used to echo a Close that carried no code). The reason is cut to 123 bytes at a character
 * boundary, so that a long error message can never produce an invalid control frame.
 */
export function encodeCloseFrame(
  code: number | undefined,
  reason: string,
  mask: boolean,
  maskKey?: Uint8Array,
): Buffer {
  const options: FrameOptions = { mask, maskKey };
  if (code === undefined) return encodeFrame(Opcode.Close, Buffer.alloc(0), options);
  if (!isValidCloseCode(code)) {
    throw new WsbitError('WSBIT_WS_BAD_CLOSE_CODE', `${code} is not a close code that may be sent`);
  }
  const reasonBytes = utf8Prefix(reason, MAX_CONTROL_PAYLOAD_BYTES - 2);
  const body = Buffer.allocUnsafe(2 + reasonBytes.length);
  body.writeUInt16BE(code, 0);
  body.set(reasonBytes, 2);
  return encodeFrame(Opcode.Close, body, options);
}

export function encodePing(payload: Uint8Array | string, mask: boolean, maskKey?: Uint8Array): Buffer {
  return encodeFrame(Opcode.Ping, controlPayload(payload), { mask, maskKey });
}

export function encodePong(payload: Uint8Array | string, mask: boolean, maskKey?: Uint8Array): Buffer {
  return encodeFrame(Opcode.Pong, controlPayload(payload), { mask, maskKey });
}
