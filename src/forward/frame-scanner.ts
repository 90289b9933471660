/**
 * Finds where one top-level msgpack value ends in a buffer that grows by TCP reads. The scan resumes
 * where the last one stopped, so a 6 MB PackedForward message arriving in 64 KB reads costs one pass
 * over its headers, not one per read. It is `skipValue`'s walk (`walkValues`), kept between reads.
 */
import { walkValues, type ValueWalk } from '../codec/event.js';
import { WsbitError } from '../base/errors.js';

export const FORWARD_MALFORMED = 'WSBIT_FORWARD_MALFORMED';

export class FrameScanner {
  /** Where the walk stopped, from the frame start, and the values still to read. */
  private readonly walk: ValueWalk = { pos: 0, pending: 1 };

  /** Starts over for the next frame. */
  reset(): void {
    this.walk.pos = 0;
    this.walk.pending = 1;
  }

  /**
   * Scans `buf[start..end)` (the same frame as before, with more bytes) and returns the frame's length
   * once it is complete, or -1 while more bytes are needed. Throws `WSBIT_FORWARD_MALFORMED` on a byte
   * that is not msgpack (0xc1).
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    const walk = this.walk;
    walk.pos += start;
    const valid = walkValues(buf, end, walk);
    const pos = walk.pos;
    walk.pos -= start;
    if (!valid) throw new WsbitError(FORWARD_MALFORMED, `invalid msgpack byte 0x${(buf[pos] ?? 0).toString(16)} at offset ${pos - start} of the message`);
    // The last value may be a str or bin whose bytes have not all arrived.
    return walk.pending === 0 && pos <= end ? pos - start : -1;
  }
}
