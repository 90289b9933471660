/**
 * The growable output buffer the text encoders (JSON, GELF, websocket_server messages) write into. Its
 * fields are public so their byte loops can write into `buf` directly and move `pos` once.
 */
import type { BufferPool } from '../base/buffer-pool.js';

export class ByteSink {
  buf: Buffer;
  pos = 0;

  /** With a `pool`, the buffers come from it and go back to it as the sink grows. */
  constructor(
    sizeHintBytes = 1024,
    private readonly pool?: BufferPool,
  ) {
    const bytes = Math.max(64, sizeHintBytes);
    this.buf = pool === undefined ? Buffer.allocUnsafe(bytes) : pool.take(bytes);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = this.pool === undefined ? Buffer.allocUnsafe(size) : this.pool.take(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.pool?.give(this.buf);
    this.buf = next;
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Writes a string whose characters are all below U+0080. */
  ascii(text: string): void {
    this.ensure(text.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) b[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  raw(bytes: Uint8Array, start = 0, end = bytes.length): void {
    this.ensure(end - start);
    if (end - start > 48) {
      this.buf.set(bytes.subarray(start, end), this.pos);
      this.pos += end - start;
    } else {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = bytes[i]!;
      this.pos = p;
    }
  }

  /** Decimal digits of a non-negative integer below 2^53, without allocating a string. */
  uint(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    this.ensure(digits);
    let p = this.pos + digits;
    let t = n;
    do {
      this.buf[--p] = 0x30 + (t % 10);
      t = Math.floor(t / 10);
    } while (t > 0);
    this.pos += digits;
  }

  /** The bytes written; a view of the internal buffer (copy it to keep it past further writes). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}