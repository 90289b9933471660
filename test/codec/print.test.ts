import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatF, formatG } from '../../src/codec/c-printf.js';
import { printChunk, printChunkBytes } from '../../src/codec/print.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { chunkOf, fixture, hex } from './support.js';

test("stdout's default format: Fluent Bit's dummy record", () => {
  const chunk = chunkOf({ body: '{"message":"dummy"}', sec: 1700000000, nsec: 123456789 });
  assert.equal(printChunk(chunk, 'dummy.0'), '[0] dummy.0: [[1700000000.123456789, {}], {"message"=>"dummy"}]\n');
});

test('msgpack_object_print style for every type; events numbered from 0 in each chunk', () => {
  const chunk = fixture('msgpack.two_records.bin');
  const line =
    '[[1700000000.123456789, {}], {"key 1"=>123456789, "key 2"=>"abcdefg", "neg"=>-42, "float"=>0.100000, ' +
    '"whole_float"=>3.000000, "big"=>18446744073709551615, "t"=>true, "f"=>false, "n"=>nil, "arr"=>[1, "two", {"three"=>3}], ' +
    '"nested"=>{"a"=>{"b"=>"c"}}, "unicode"=>"héllo ☃ 😀", "ctl"=>"tab\there\nnl "q" back\\slash \u0001 /"}]\n';
  assert.equal(printChunk(chunk, 'in'), `[0] in: ${line}[1] in: ${line}`);
});

test('metadata, bin, ext, negative ints and the V1 layout', () => {
  const w = new MsgpackWriter();
  w.mapHeader(4);
  w.str('bin');
  w.bin(Buffer.from('a"\n\x7f'));
  w.str('ext');
  w.ext(-3, Buffer.from([0x41, 0x00]));
  w.str('i64');
  w.int(-9223372036854775808n);
  w.str('nan');
  w.raw(hex('cbfff8000000000000'));
  const chunk = chunkOf({ body: w.bytes(), metadata: '{"m":[1,2]}', sec: 5, nsec: 7 });
  assert.equal(
    printChunk(chunk, 't'),
    '[0] t: [[5.000000007, {"m"=>[1, 2]}], {"bin"=>"a\\"\\x0a\\x7f", "ext"=>(ext: -3)"A\\x00", "i64"=>-9223372036854775808, "nan"=>-nan}]\n',
  );
  const v1 = hex('92 d2fffeae7f 81a16101'); // [-86401, {"a":1}]: seconds printed as int32
  assert.equal(printChunk(v1, 'old'), '[0] old: [[-86401.000000000, {}], {"a"=>1}]\n');
});

test('string bytes are printed raw, not escaped or re-encoded', () => {
  const w = new MsgpackWriter();
  w.mapHeader(1);
  w.str('s');
  w.strUtf8(Buffer.from([0x41, 0xff, 0x22]));
  const bytes = printChunkBytes(chunkOf({ body: w.bytes(), sec: 1, nsec: 0 }), 't');
  assert.equal(bytes.toString('latin1'), '[0] t: [[1.000000000, {}], {"s"=>"A\xff""}]\n');
});

test('C printf formats: %f with glibc rounding (ties to even) and %.16g', () => {
  const f: Array<[number, string]> = [
    [0.1, '0.100000'], [3, '3.000000'], [-0, '-0.000000'], [-1e-9, '-0.000000'], [0.0078125, '0.007812'], [0.0234375, '0.023438'],
    [2.5, '2.500000'], [1e21, '1000000000000000000000.000000'], [Infinity, 'inf'], [Number.NaN, 'nan'],
    [1125899906842624.5, '1125899906842624.500000'], [5e-324, '0.000000'],
  ];
  for (const [x, expected] of f) assert.equal(formatF(x), expected, String(x));
  assert.equal(formatF(1e300).length, 301 + 7);
  assert.equal(formatG(0.5, 1), '0.5');
  assert.equal(formatG(2.5, 1), '2');
  assert.equal(formatG(123456, 3), '1.23e+05');
});
