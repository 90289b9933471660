/**
 * A growable-buffer msgpack encoder that writes the bytes msgpack-c writes.
 *
 * Fluent Bit packs with msgpack-c, which always picks the smallest encoding: `msgpack_pack_int64` uses the
 * unsigned forms (fixint, cc, cd, ce, cf) for non-negative values, strings use str8 (d9) for 32..255 bytes, and
 * `msgpack_pack_double` always writes cb. Matching that is what makes our chunks byte-identical to Fluent Bit's.
 *
 * One Buffer is reused and doubled when full, so encoding a record costs no allocation in the steady state.
 */

const TWO_32 = 4294967296;
const UINT64_MAX = 0xffffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

export class MsgpackWriter {
  /**
   * The buffer and the write offset, public so that byte loops (json-scan's strings) can write into `buf`
   * directly after `ensure` and move `pos` once, as with ByteSink.
   */
  buf: Buffer;
  pos = 0;

  constructor(initialSizeBytes = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSizeBytes));
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** A copy of the bytes written so far; safe to keep after further writes or `reset()`. */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** A view of the bytes written so far without copying; valid only until the next write or `reset()`. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Drops everything written after `length` (used to roll back a failed scan). */
  truncate(length: number): void {
    if (length < this.pos) this.pos = Math.max(0, length);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
  }

  bool(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 0xc3 : 0xc2;
  }

  /** A non-negative integer up to 2^64-1 in its smallest unsigned form. */
  uint(value: number | bigint): void {
    if (typeof value === 'bigint') {
      if (value < 0n || value > UINT64_MAX) throw new RangeError(`uint out of range: ${value}`);
      if (value <= 0xffffffffn) return this.uint(Number(value));
      this.ensure(9);
      this.buf[this.pos] = 0xcf;
      this.buf.writeBigUInt64BE(value, this.pos + 1);
      this.pos += 9;
      return;
    }
    if (!(value >= 0) || !Number.isInteger(value)) throw new RangeError(`uint out of range: ${value}`);
    this.ensure(9);
    let p = this.pos;
    if (value < 0x80) {
      this.buf[p++] = value;
    } else if (value < 0x100) {
      this.buf[p++] = 0xcc;
      this.buf[p++] = value;
    } else if (value < 0x10000) {
      this.buf[p++] = 0xcd;
      this.buf[p++] = value >>> 8;
      this.buf[p++] = value & 0xff;
    } else if (value < TWO_32) {
      const b = this.buf;
      b[p] = 0xce;
      b[p + 1] = value >>> 24;
      b[p + 2] = value >>> 16;
      b[p + 3] = value >>> 8;
      b[p + 4] = value;
      p += 5;
    } else {
      if (value >= 18446744073709551616) throw new RangeError(`uint out of range: ${value}`);
      this.buf[p] = 0xcf;
      this.buf.writeUInt32BE(Math.floor(value / TWO_32), p + 1);
      this.buf.writeUInt32BE(value % TWO_32, p + 5);
      p += 9;
    }
    this.pos = p;
  }

  /** A signed integer in msgpack-c's `msgpack_pack_int64` form (non-negative values use the unsigned forms). */
  int(value: number | bigint): void {
    if (typeof value === 'bigint') {
      if (value >= 0n) return this.uint(value);
      if (value < INT64_MIN) throw new RangeError(`int out of range: ${value}`);
      if (value >= -0x80000000n) return this.int(Number(value));
      this.ensure(9);
      this.buf[this.pos] = 0xd3;
      this.buf.writeBigInt64BE(value, this.pos + 1);
      this.pos += 9;
      return;
    }
    if (!Number.isInteger(value)) throw new RangeError(`int out of range: ${value}`);
    if (value >= 0) return this.uint(value);
    this.ensure(9);
    let p = this.pos;
    if (value >= -32) {
      this.buf[p++] = value & 0xff;
    } else if (value >= -128) {
      this.buf[p++] = 0xd0;
      this.buf[p++] = value & 0xff;
    } else if (value >= -32768) {
      this.buf[p] = 0xd1;
      this.buf.writeInt16BE(value, p + 1);
      p += 3;
    } else if (value >= -2147483648) {
      this.buf[p] = 0xd2;
      this.buf.writeInt32BE(value, p + 1);
      p += 5;
    } else {
      if (value < -9223372036854775808) throw new RangeError(`int out of range: ${value}`);
      this.buf[p] = 0xd3;
      this.buf.writeBigInt64BE(BigInt(value), p + 1);
      p += 9;
    }
    this.pos = p;
  }

  float64(value: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(value, this.pos + 1);
    this.pos += 9;
  }

  strHeader(byteLength: number): void {
    this.ensure(5);
    this.pos = writeLengthHeader(this.buf, this.pos, byteLength, 0xa0, 31, 0xd9);
  }

  /** A JS string as a msgpack str (UTF-8; lone surrogates become U+FFFD, as Buffer.write does). */
  str(value: string): void {
    const n = value.length;
    if (n < 32) {
      // Short ASCII strings dominate keys; encoding them by hand skips Buffer.byteLength + write.
      this.ensure(1 + n);
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[p++] = c;
      }
      if (i === n) {
        this.buf[this.pos] = 0xa0 | n;
        this.pos = p;
        return;
      }
    }
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.strHeader(byteLength);
    this.ensure(byteLength);
    this.buf.write(value, this.pos, byteLength, 'utf8');
    this.pos += byteLength;
  }

  /** UTF-8 bytes (not validated) as a msgpack str. */
  strUtf8(bytes: Uint8Array, start = 0, end = bytes.length): void {
    this.strHeader(end - start);
    this.raw(bytes, start, end);
  }

  bin(bytes: Uint8Array): void {
    this.ensure(5 + bytes.length);
    this.pos = writeLengthHeader(this.buf, this.pos, bytes.length, -1, -1, 0xc4);
    this.raw(bytes);
  }

  /** An ext value with msgpack-c's choice of fixext/ext8/16/32 header. */
  ext(type: number, data: Uint8Array): void {
    const n = data.length;
    this.ensure(6 + n);
    const fixed = n === 1 ? 0xd4 : n === 2 ? 0xd5 : n === 4 ? 0xd6 : n === 8 ? 0xd7 : n === 16 ? 0xd8 : 0;
    if (fixed !== 0) {
      this.buf[this.pos++] = fixed;
    } else if (n < 0x100) {
      this.buf[this.pos++] = 0xc7;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos] = 0xc8;
      this.buf.writeUInt16BE(n, this.pos + 1);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xc9;
      this.buf.writeUInt32BE(n, this.pos + 1);
      this.pos += 5;
    }
    this.buf[this.pos++] = type & 0xff;
    this.raw(data);
  }

  /** Fluent Bit's EventTime: ext type 0 as fixext8 `d7 00 <sec u32 BE> <nsec u32 BE>`. */
  eventTime(sec: number, nsec: number): void {
    this.ensure(10);
    const b = this.buf;
    const p = this.pos;
    b[p] = 0xd7;
    b[p + 1] = 0x00;
    // Byte stores: writeUInt32BE range-checks its arguments, which costs more than the stores.
    b[p + 2] = sec >>> 24;
    b[p + 3] = sec >>> 16;
    b[p + 4] = sec >>> 8;
    b[p + 5] = sec;
    b[p + 6] = nsec >>> 24;
    b[p + 7] = nsec >>> 16;
    b[p + 8] = nsec >>> 8;
    b[p + 9] = nsec;
    this.pos = p + 10;
  }

  mapHeader(count: number): void {
    this.ensure(5);
    this.pos = writeCountHeader(this.buf, this.pos, count, 0x80, 0xde);
  }

  arrayHeader(count: number): void {
    this.ensure(5);
    this.pos = writeCountHeader(this.buf, this.pos, count, 0x90, 0xdc);
  }

  /** Copies bytes as they are. */
  raw(bytes: Uint8Array, start = 0, end = bytes.length): void {
    const n = end - start;
    this.ensure(n);
    if (n <= 32) {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = bytes[i]!;
    } else if (bytes.constructor !== Uint8Array && Buffer.isBuffer(bytes)) {
      bytes.copy(this.buf, this.pos, start, end); // a memcpy, without the view set(subarray) allocates
    } else {
      this.buf.set(bytes.subarray(start, end), this.pos);
    }
    this.pos += n;
  }

  /** Appends one raw byte. */
  byte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /**
   * Reserves one byte for a map/array header whose count is known only later; pair with `patchMapHeader` or
   * `patchArrayHeader`. Most containers hold at most 15 entries, so the fix-form byte fits and nothing moves.
   */
  reserveHeader(): number {
    this.ensure(1);
    return this.pos++;
  }

  patchMapHeader(headerPos: number, count: number): void {
    this.patchHeader(headerPos, count, 0x80, 0xde);
  }

  patchArrayHeader(headerPos: number, count: number): void {
    this.patchHeader(headerPos, count, 0x90, 0xdc);
  }

  /** Reserves a fixed 5-byte map32 header (`df`), for callers that do not need msgpack-c's minimal form. */
  reserveMapHeader32(): number {
    this.ensure(5);
    const at = this.pos;
    this.buf[at] = 0xdf;
    this.pos += 5;
    return at;
  }

  patchMapHeader32(headerPos: number, count: number): void {
    this.buf.writeUInt32BE(count >>> 0, headerPos + 1);
  }

  /**
   * Fixes up a str header reserved for `reservedLength` bytes once the real (smaller or equal) length is known,
   * moving the body left when the real length needs a shorter header.
   */
  patchStrHeader(headerPos: number, reservedLength: number, actualLength: number): void {
    const reserved = lengthHeaderSize(reservedLength);
    const actual = lengthHeaderSize(actualLength);
    const bodyStart = headerPos + reserved;
    if (actual !== reserved) {
      this.buf.copy(this.buf, headerPos + actual, bodyStart, this.pos);
      this.pos -= reserved - actual;
    }
    writeLengthHeader(this.buf, headerPos, actualLength, 0xa0, 31, 0xd9);
  }

  private patchHeader(headerPos: number, count: number, fix: number, wide16: number): void {
    if (count < 16) {
      this.buf[headerPos] = fix | count;
      return;
    }
    const extra = count < 0x10000 ? 2 : 4;
    this.ensure(extra);
    this.buf.copy(this.buf, headerPos + 1 + extra, headerPos + 1, this.pos);
    this.pos += extra;
    writeCountHeader(this.buf, headerPos, count, fix, wide16);
  }
}

/** Header size in bytes of a str of `length` bytes. */
export function lengthHeaderSize(length: number): number {
  return length < 32 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

/** Writes a str/bin length header; `fix`/`fixMax` < 0 means the type has no fix form (bin). */
function writeLengthHeader(b: Buffer, p: number, n: number, fix: number, fixMax: number, op8: number): number {
  if (fix >= 0 && n <= fixMax) {
    b[p] = fix | n;
    return p + 1;
  }
  if (n < 0x100) {
    b[p] = op8;
    b[p + 1] = n;
    return p + 2;
  }
  if (n < 0x10000) {
    b[p] = op8 + 1;
    b.writeUInt16BE(n, p + 1);
    return p + 3;
  }
  b[p] = op8 + 2;
  b.writeUInt32BE(n, p + 1);
  return p + 5;
}

function writeCountHeader(b: Buffer, p: number, n: number, fix: number, wide16: number): number {
  if (n < 16) {
    b[p] = fix | n;
    return p + 1;
  }
  if (n < 0x10000) {
    b[p] = wide16;
    b.writeUInt16BE(n, p + 1);
    return p + 3;
  }
  b[p] = wide16 + 1;
  b.writeUInt32BE(n, p + 1);
  return p + 5;
}
