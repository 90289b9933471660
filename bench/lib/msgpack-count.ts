/**
 * Counts the top-level msgpack values of a message (one per event in Fluent Bit's chunk layout)
 * without decoding them, so the sink spends a few nanoseconds per event rather than building objects
 * it would throw away. Iterative: a count of values still to skip, so nesting costs no stack.
 */

/*
 * Bytes 0xc0..0xdf: > 0 the whole value's size; 0 invalid (0xc1); < 0 variable, -(kind << 3 | width),
 * kind 0 str/bin (length follows), 1 ext (length and a type byte follow), 2 array, 3 map, and width
 * the bytes of the length field.
 */
const HEAD = Int8Array.of(
  1, 0, 1, 1, -1, -2, -4, -9, -10, -12, 5, 9, 2, 3, 5, 9,
  2, 3, 5, 9, 3, 4, 6, 10, 18, -1, -2, -4, -18, -20, -26, -28,
);

function readLength(buf: Uint8Array, pos: number, width: number): number {
  if (width === 1) return buf[pos] as number;
  if (width === 2) return ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
  return (buf[pos] as number) * 0x1000000 + (((buf[pos + 1] as number) << 16) | ((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number));
}

/** The offset just past the value starting at `pos`. Throws a RangeError for bytes that are not msgpack. */
export function skipValue(buf: Uint8Array, pos: number): number {
  let pending = 1;
  while (pending > 0) {
    pending--;
    const b = buf[pos];
    if (b === undefined) throw new RangeError('truncated msgpack');
    if (b <= 0x7f || b >= 0xe0) pos += 1;
    else if (b <= 0x8f) {
      pending += 2 * (b & 0x0f);
      pos += 1;
    } else if (b <= 0x9f) {
      pending += b & 0x0f;
      pos += 1;
    } else if (b <= 0xbf) pos += 1 + (b & 0x1f);
    else {
      const head = HEAD[b - 0xc0] as number;
      if (head > 0) pos += head;
      else if (head === 0) throw new RangeError(`0x${b.toString(16)} is not msgpack`);
      else {
        const kind = -head >> 3;
        const width = -head & 7;
        const length = readLength(buf, pos + 1, width);
        if (kind === 0) pos += 1 + width + length;
        else if (kind === 1) pos += 2 + width + length;
        else {
          pending += kind === 2 ? length : 2 * length;
          pos += 1 + width;
        }
      }
    }
  }
  if (pos > buf.length) throw new RangeError('truncated msgpack');
  return pos;
}

/**
 * How many events `buf` holds, each a top-level array (`[[time, metadata], body]`, or the older
 * `[time, body]`); -1 when it is not a whole sequence of them (garbage such as a frame sent unmasked
 * under a MASK bit).
 */
export function countEvents(buf: Uint8Array): number {
  let count = 0;
  try {
    for (let pos = 0; pos < buf.length; count++) {
      const head = buf[pos] as number;
      if ((head & 0xf0) !== 0x90 && head !== 0xdc && head !== 0xdd) return -1;
      pos = skipValue(buf, pos);
    }
  } catch {
    return -1;
  }
  return count;
}
