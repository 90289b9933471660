/**
 * Copies of byte runs that stop at the first byte a codec must treat specially, four bytes at a time.
 *
 * A JS loop that tests and copies one byte at a time costs about 1 ns a byte, which made long JSON
 * strings the largest cost of the JSON path (issue 23). Here each aligned 32-bit word of the source is
 * tested with a few integer operations on all four bytes at once (the "has a zero byte" trick of
 * SWAR code) and, when no byte in it stops the run, written whole to the output: about 0.35 ns a byte,
 * with no native call, so it also pays for the 30-100 byte strings of typical logs (a Buffer.copy costs
 * about 80 ns before it copies anything). The answers are exact: a word that may stop the run is
 * finished byte by byte.
 */

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

// The last buffers seen, with their word views: encoders work through one chunk (or one read) at a
// time, so a view is made once per chunk, not once per string.
let sourceBytes: Uint8Array | null = null;
let sourceWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
let targetBuffer: Uint8Array | null = null;
let targetView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

// Keyed by the view, not its ArrayBuffer: reading `.buffer` costs a call each time.
function wordsOf(bytes: Uint8Array): Int32Array<ArrayBufferLike> {
  if (bytes !== sourceBytes) {
    sourceBytes = bytes;
    if (bytes.buffer !== sourceWords.buffer) sourceWords = new Int32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
  }
  return sourceWords;
}

function viewOf(bytes: Uint8Array): DataView<ArrayBufferLike> {
  if (bytes !== targetBuffer) {
    targetBuffer = bytes;
    targetView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return targetView;
}

/** Drops the cached views, so that they do not keep the last chunk's memory alive. */
export function releaseWordViews(): void {
  sourceBytes = null;
  sourceWords = new Int32Array(0);
  targetBuffer = null;
  targetView = new DataView(new ArrayBuffer(0));
}

/**
 * Words copied one by one before a run counts as long and is copied with one native call instead, whose
 * fixed cost (about 50 ns) pays off past about 256 bytes.
 */
const COPIED_WORDS = 64;

/** Below this many bytes the word loop's set-up costs more than it saves. */
export const WORD_COPY_MIN_BYTES = 12;

/**
 * Whether one of the four bytes of `w` is not plain JSON text: below 0x20, 0x7f or above, `"` or `\`.
 * With no byte >= 0x80 (w itself), the subtractions borrow, and so set a byte's top bit, exactly when a
 * byte is below 0x20, or equals `"` or `\` after the XOR; w + 0x01010101 sets it for 0x7f.
 */
function hasJsonSpecialByte(w: number): boolean {
  return ((w | (w + 0x01010101) | (w - 0x20202020) | ((w ^ 0x22222222) - 0x01010101) | ((w ^ 0x5c5c5c5c) - 0x01010101)) & 0x80808080) !== 0;
}

/**
 * Copies `src[start, end)` to `out` at `p` up to the first byte that is not printable ASCII or is `"`
 * or `\` (the bytes a JSON string holds unescaped: 0x20-0x7e except those two), and returns where the
 * output ends; the copy covers `src[start, start + (returned - p))`. `out` must have room for
 * `end - start` bytes at `p`.
 */
export function copyPlainJsonText(src: Uint8Array, start: number, end: number, out: Uint8Array, p: number): number {
  let i = start;
  const base = src.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) {
    const c = src[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return p;
    out[p++] = c;
    i++;
  }
  if (i >= end) return p;
  const words = wordsOf(src);
  const view = viewOf(out);
  // `>>`, not `>>>`: int32 indexes keep the loop in integer arithmetic (buffers are far below 2 GB).
  const lastWord = (base + end) >> 2;
  let k = (base + i) >> 2;
  const copiedEnd = Math.min(lastWord, k + COPIED_WORDS);
  for (; k < copiedEnd; k++) {
    const w = words[k]!;
    if (hasJsonSpecialByte(w)) break;
    view.setInt32(p, w, LITTLE_ENDIAN);
    p += 4;
  }
  if (k === copiedEnd && k < lastWord) {
    // A long run: only tested here, then copied with one memcpy (about 0.1 ns a byte less).
    const from = k;
    for (; k < lastWord; k++) {
      const w = words[k]!;
      if (hasJsonSpecialByte(w)) break;
    }
    const n = (k - from) << 2;
    out.set(new Uint8Array(words.buffer, from << 2, n), p);
    p += n;
  }
  i = (k << 2) - base;
  while (i < end) {
    const c = src[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
    out[p++] = c;
    i++;
  }
  return p;
}

/**
 * Copies `src[start, end)` to `out` at `p` up to the first `"` or `\` (where a JSON string's raw bytes
 * stop), and returns where the output ends, as copyPlainJsonText does. Every other byte, UTF-8 or not,
 * is copied as it is.
 */
export function copyUnquotedJsonText(src: Uint8Array, start: number, end: number, out: Uint8Array, p: number): number {
  let i = start;
  const base = src.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) {
    const c = src[i]!;
    if (c === 0x22 || c === 0x5c) return p;
    out[p++] = c;
    i++;
  }
  if (i >= end) return p;
  const words = wordsOf(src);
  const view = viewOf(out);
  const lastWord = (base + end) >> 2;
  let k = (base + i) >> 2;
  for (; k < lastWord; k++) {
    const w = words[k]!;
    // (x - 0x01010101) & ~x & 0x80808080 is non-zero exactly when x has a zero byte: here a byte that
    // was `"` or `\` before the XOR. The ~x keeps bytes >= 0x80 (UTF-8) from counting.
    const q = w ^ 0x22222222;
    const s = w ^ 0x5c5c5c5c;
    if (((((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) !== 0) break;
    view.setInt32(p, w, LITTLE_ENDIAN);
    p += 4;
  }
  i = (k << 2) - base;
  while (i < end) {
    const c = src[i]!;
    if (c === 0x22 || c === 0x5c) break;
    out[p++] = c;
    i++;
  }
  return p;
}
