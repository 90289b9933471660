/**
 * Finds where one top-level msgpack value ends in a buffer that grows by TCP reads. The scan resumes
 * where the last one stopped, so a 6 MB PackedForward message arriving in 64 KB reads costs one pass
 * over its headers, not one per read. Like `skipValue` it is iterative (a count of values still to
 * read), so hostile nesting cannot overflow the stack.
 */
import { WsbitError } from '../../../core/errors.js';

export const FORWARD_MALFORMED = 'WSBIT_FORWARD_MALFORMED';

/*
 * 0xc0..0xdf: > 0 fixed total size; 0 invalid (0xc1); < 0 variable, -(kind << 3 | width) with kind 0
 * str/bin, 1 ext, 2 array, 3 map and width the bytes of the length field (as in codec/event.ts).
 */
const FIXED_SIZE = Int8Array.of(
  1, 0, 1, 1, -1, -2, -4, -9, -10, -12, 5, 9, 2, 3, 5, 9,
  2, 3, 5, 9, 3, 4, 6, 10, 18, -1, -2, -4, -18, -20, -26, -28,
);

export class FrameScanner {
  /** Offset from the frame start of the next byte to read. */
  private offset = 0;
  /** Values still to read before the top-level value is complete. */
  private pending = 1;

  /** Starts over for the next frame. */
  reset(): void {
    this.offset = 0;
    this.pending = 1;
  }

  /**
   * Scans `buf[start..end)` (the same frame as before, with more bytes) and returns the frame's length
   * once it is complete, or -1 while more bytes are needed. Throws `WSBIT_FORWARD_MALFORMED` on a byte
   * that is not msgpack (0xc1).
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    let pos = start + this.offset;
    let pending = this.pending;
    try {
      while (pending > 0) {
        if (pos >= end) return -1;
        const b = buf[pos] as number;
        if (b <= 0x7f || b >= 0xe0) {
          pos += 1;
        } else if (b <= 0x8f) {
          pending += (b & 0x0f) * 2;
          pos += 1;
        } else if (b <= 0x9f) {
          pending += b & 0x0f;
          pos += 1;
        } else if (b <= 0xbf) {
          pos += 1 + (b & 0x1f);
        } else {
          const size = FIXED_SIZE[b - 0xc0] as number;
          if (size > 0) {
            pos += size;
          } else if (size === 0) {
            throw new WsbitError(FORWARD_MALFORMED, `invalid msgpack byte 0x${b.toString(16)} at offset ${pos - start} of the message`);
          } else {
            const width = -size & 7;
            // The length field must be complete before the position moves past the type byte.
            if (pos + 1 + width > end) return -1;
            const n = width === 1 ? (buf[pos + 1] as number) : width === 2 ? ((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number) : readU32(buf, pos + 1);
            const kind = -size >> 3;
            if (kind === 0) pos += 1 + width + n;
            else if (kind === 1) pos += 2 + width + n;
            else {
              pending += kind === 2 ? n : n * 2;
              pos += 1 + width;
            }
          }
        }
        pending--;
      }
      // The last value may be a str or bin whose bytes have not all arrived.
      return pos <= end ? pos - start : -1;
    } finally {
      this.offset = pos - start;
      this.pending = pending;
    }
  }
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
}
