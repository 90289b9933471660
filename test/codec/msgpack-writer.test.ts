import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '@msgpack/msgpack';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';

function bytesOf(write: (w: MsgpackWriter) => void): string {
  const w = new MsgpackWriter(16);
  write(w);
  return w.bytes().toString('hex');
}

test('uint uses the smallest unsigned form, like msgpack_pack_uint64', () => {
  const table: Array<[number | bigint, string]> = [
    [0, '00'], [127, '7f'], [128, 'cc80'], [255, 'ccff'], [256, 'cd0100'], [65535, 'cdffff'], [65536, 'ce00010000'],
    [4294967295, 'ceffffffff'], [4294967296, 'cf0000000100000000'], [2 ** 53, 'cf0020000000000000'],
    [18446744073709551615n, 'cfffffffffffffffff'], [5n, '05'],
  ];
  for (const [value, expected] of table) assert.equal(bytesOf((w) => w.uint(value)), expected, `uint(${value})`);
});

test('int uses unsigned forms for non-negative values and the smallest signed form otherwise (msgpack_pack_int64)', () => {
  const table: Array<[number | bigint, string]> = [
    [0, '00'], [1, '01'], [200, 'ccc8'], [-1, 'ff'], [-32, 'e0'], [-33, 'd0df'], [-128, 'd080'], [-129, 'd1ff7f'],
    [-32768, 'd18000'], [-32769, 'd2ffff7fff'], [-2147483648, 'd280000000'], [-2147483649, 'd3ffffffff7fffffff'],
    [-9223372036854775808n, 'd38000000000000000'], [-42n, 'd0d6'], [-(2 ** 53), 'd3ffe0000000000000'],
  ];
  for (const [value, expected] of table) assert.equal(bytesOf((w) => w.int(value)), expected, `int(${value})`);
});

test('int/uint reject values outside 64 bits and non-integers', () => {
  const w = new MsgpackWriter();
  assert.throws(() => w.uint(-1), RangeError);
  assert.throws(() => w.uint(1.5), RangeError);
  assert.throws(() => w.uint(2n ** 64n), RangeError);
  assert.throws(() => w.uint(2 ** 64), RangeError);
  assert.throws(() => w.int(-(2n ** 63n) - 1n), RangeError);
  assert.throws(() => w.int(Number.NaN), RangeError);
  assert.equal(w.length, 0);
});

test('float64 always writes cb, nil and booleans', () => {
  assert.equal(bytesOf((w) => w.float64(3)), 'cb4008000000000000');
  assert.equal(bytesOf((w) => w.float64(0.1)), 'cb3fb999999999999a');
  assert.equal(bytesOf((w) => (w.nil(), w.bool(true), w.bool(false))), 'c0c3c2');
});

test('str picks fixstr, str8 (d9), str16, str32 by UTF-8 length', () => {
  assert.equal(bytesOf((w) => w.str('')), 'a0');
  assert.equal(bytesOf((w) => w.str('abc')), 'a3616263');
  assert.equal(bytesOf((w) => w.str('é')), 'a2c3a9');
  assert.equal(bytesOf((w) => w.str('x'.repeat(31))).slice(0, 2), 'bf');
  assert.equal(bytesOf((w) => w.str('x'.repeat(32))).slice(0, 4), 'd920');
  assert.equal(bytesOf((w) => w.str('é'.repeat(16))).slice(0, 4), 'd920'); // 16 chars, 32 bytes
  assert.equal(bytesOf((w) => w.str('x'.repeat(255))).slice(0, 4), 'd9ff');
  assert.equal(bytesOf((w) => w.str('x'.repeat(256))).slice(0, 6), 'da0100');
  assert.equal(bytesOf((w) => w.str('x'.repeat(65536))).slice(0, 10), 'db00010000');
  assert.equal(bytesOf((w) => w.strUtf8(Buffer.from('hello'), 1, 4)), 'a3656c6c');
});

test('bin, ext and EventTime', () => {
  assert.equal(bytesOf((w) => w.bin(Buffer.from([1, 2]))), 'c4020102');
  assert.equal(bytesOf((w) => w.bin(Buffer.alloc(256))).slice(0, 6), 'c50100');
  assert.equal(bytesOf((w) => w.ext(5, Buffer.from([9]))), 'd40509');
  assert.equal(bytesOf((w) => w.ext(1, Buffer.alloc(8))), 'd7010000000000000000');
  assert.equal(bytesOf((w) => w.ext(1, Buffer.alloc(3))), 'c70301000000');
  assert.equal(bytesOf((w) => w.eventTime(1700000000, 123456789)), 'd7006553f100075bcd15');
});

test('map and array headers', () => {
  assert.equal(bytesOf((w) => w.mapHeader(0)), '80');
  assert.equal(bytesOf((w) => w.mapHeader(15)), '8f');
  assert.equal(bytesOf((w) => w.mapHeader(16)), 'de0010');
  assert.equal(bytesOf((w) => w.mapHeader(65536)), 'df00010000');
  assert.equal(bytesOf((w) => w.arrayHeader(3)), '93');
  assert.equal(bytesOf((w) => w.arrayHeader(16)), 'dc0010');
  assert.equal(bytesOf((w) => w.arrayHeader(70000)), 'dd00011170');
});

test('reserveHeader + patch keeps fix forms in place and widens when the count needs it', () => {
  for (const count of [0, 15, 16, 65535, 65536]) {
    const w = new MsgpackWriter(8);
    w.byte(0xc0); // something before, which must not move
    const at = w.reserveHeader();
    for (let i = 0; i < count; i++) w.uint(i % 100);
    w.patchArrayHeader(at, count);
    const expected = new MsgpackWriter(8);
    expected.byte(0xc0);
    expected.arrayHeader(count);
    for (let i = 0; i < count; i++) expected.uint(i % 100);
    assert.ok(w.bytes().equals(expected.bytes()), `array of ${count}`);
  }
  const m = new MsgpackWriter();
  const at = m.reserveHeader();
  for (let i = 0; i < 20; i++) (m.str(`k${i}`), m.uint(i));
  m.patchMapHeader(at, 20);
  const decoded = decode(m.bytes()) as Record<string, number>;
  assert.equal(Object.keys(decoded).length, 20);
  assert.equal(decoded.k19, 19);
});

test('map32 reservation for callers that do not need minimal headers', () => {
  const w = new MsgpackWriter();
  const at = w.reserveMapHeader32();
  w.str('a');
  w.uint(1);
  w.patchMapHeader32(at, 1);
  assert.equal(w.bytes().toString('hex'), 'df00000001a16101');
});

test('patchStrHeader shrinks a reserved str header and moves the body', () => {
  const w = new MsgpackWriter();
  w.byte(0x90);
  const at = w.length;
  w.strHeader(300); // reserved for 300 bytes: da 01 2c
  w.raw(Buffer.from('short'));
  w.patchStrHeader(at, 300, 5);
  assert.equal(w.bytes().toString('hex'), '90a573686f7274');
});

test('bytes() is a copy, view() is not; reset and truncate rewind', () => {
  const w = new MsgpackWriter();
  w.uint(1);
  const copy = w.bytes();
  const view = w.view();
  w.reset();
  w.uint(2);
  assert.equal(copy[0], 1);
  assert.equal(view[0], 2);
  w.uint(3);
  w.truncate(1);
  assert.equal(w.bytes().toString('hex'), '02');
});

test('grows past its initial size without losing bytes', () => {
  const w = new MsgpackWriter(16);
  for (let i = 0; i < 10000; i++) w.uint(i);
  const decoded: number[] = [];
  let off = 0;
  const bytes = w.bytes();
  while (off < bytes.length) {
    const b = bytes[off]!;
    const size = b < 0x80 ? 1 : b === 0xcc ? 2 : 3;
    decoded.push(decode(bytes.subarray(off, off + size)) as number);
    off += size;
  }
  assert.equal(decoded.length, 10000);
  assert.equal(decoded[9999], 9999);
});
