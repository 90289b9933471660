/**
 * The word-at-a-time copies must stop exactly where a byte-by-byte loop stops, whatever the alignment
 * of the source and of the output, and wherever in a word the stopping byte lies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyPlainJsonText, copyUnquotedJsonText, releaseWordViews } from '../../src/codec/word-copy.js';

type Copy = (src: Uint8Array, start: number, end: number, out: Uint8Array, p: number) => number;

const isPlain = (c: number): boolean => c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c;
const isUnquoted = (c: number): boolean => c !== 0x22 && c !== 0x5c;

/** `length` bytes of `fill`, with `stop` at `stopAt` (none when stopAt < 0), placed `shift` bytes into a larger buffer. */
function source(length: number, fill: number, stop: number, stopAt: number, shift: number, host: 'buffer' | 'uint8array'): Uint8Array {
  const bytes = host === 'buffer' ? Buffer.alloc(length + shift + 5, 0x22) : new Uint8Array(length + shift + 5).fill(0x22);
  const view = bytes.subarray(shift, shift + length);
  view.fill(fill);
  if (stopAt >= 0) view[stopAt] = stop;
  return view;
}

function check(copy: Copy, keeps: (c: number) => boolean, fills: number[], stops: number[]): number {
  let cases = 0;
  for (const host of ['buffer', 'uint8array'] as const) {
    for (let shift = 0; shift < 4; shift++) {
      for (let length = 0; length <= 21; length++) {
        for (const fill of fills) {
          for (const stop of stops) {
            for (let stopAt = -1; stopAt < length; stopAt++) {
              for (const outShift of [0, 3]) {
                const src = source(length, fill, stop, stopAt, shift, host);
                let expected = 0;
                while (expected < length && keeps(src[expected]!)) expected++;
                const out = new Uint8Array(length + 8).fill(0xee);
                const p = copy(src, 0, length, out, outShift);
                assert.equal(p - outShift, expected, `length ${length} shift ${shift} stop 0x${stop.toString(16)}@${stopAt} ${host}`);
                assert.deepEqual([...out.subarray(outShift, p)], [...src.subarray(0, expected)]);
                assert.equal(out[p], 0xee, 'nothing written past the copy');
                cases++;
              }
            }
          }
        }
      }
    }
  }
  releaseWordViews();
  return cases;
}

test('copyPlainJsonText stops at control bytes, DEL, quote, backslash and any byte >= 0x80, as a byte loop does', () => {
  const stops = [0x00, 0x01, 0x0a, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xc3, 0xff];
  // Fills next to the stop classes: space (0x20), '!' (0x21), '#' (0x23), '[' (0x5b), ']' (0x5d), '~' (0x7e).
  assert.ok(check(copyPlainJsonText, isPlain, [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e], stops) > 50_000);
});

test('copyUnquotedJsonText stops only at quote and backslash; UTF-8 and control bytes are copied', () => {
  const stops = [0x22, 0x5c, 0x00, 0x0a, 0x7f, 0x80, 0xa2, 0xdc, 0xff];
  // 0xa2 and 0xdc are `"` and `\` with the top bit set: they must not stop the copy.
  assert.ok(check(copyUnquotedJsonText, isUnquoted, [0x61, 0xa2, 0xdc, 0x00], stops) > 50_000);
});

test('a copy that starts and ends inside the buffer, across many words, stops at the right byte', () => {
  const text = Buffer.from(`${'abcdefgh'.repeat(40)}"${'z'.repeat(30)}`);
  for (let start = 0; start < 8; start++) {
    const out = Buffer.alloc(400);
    const p = copyUnquotedJsonText(text, start, text.length, out, 2);
    assert.equal(p - 2, 320 - start);
    assert.equal(out.subarray(2, p).toString(), text.subarray(start, 320).toString());
    // `end` before the quote: the copy stops at `end`.
    assert.equal(copyPlainJsonText(text, start, 301, out, 0), 301 - start);
  }
});

test('a long plain run (past the word-by-word part, copied natively) stops at the first special byte', () => {
  for (const stopAt of [250, 255, 256, 257, 258, 259, 260, 700, 999, -1]) {
    for (const stop of [0x0a, 0x22, 0x5c, 0x7f, 0xc3]) {
      for (let shift = 0; shift < 4; shift++) {
        const src = source(1000, 0x78, stop, stopAt, shift, 'buffer');
        const out = new Uint8Array(1010).fill(0xee);
        const p = copyPlainJsonText(src, 0, 1000, out, 1 + shift);
        const expected = stopAt < 0 ? 1000 : stopAt;
        assert.equal(p - 1 - shift, expected, `stop 0x${stop.toString(16)}@${stopAt} shift ${shift}`);
        assert.ok(out.subarray(1 + shift, p).every((c) => c === 0x78));
        assert.equal(out[p], 0xee);
      }
    }
  }
  releaseWordViews();
});
