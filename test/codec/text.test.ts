import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printChunk } from '../../src/codec/print.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { chunkToText, defaultTextOptions, parseDelimiter } from '../../src/codec/text.js';
import { chunkOf, hex } from './support.js';

/** A record of every scalar type, each in the widths msgpack has (fixint, int8..int64, uint8..uint64, float32/64). */
function scalarChunk(): Buffer {
  const w = new MsgpackWriter();
  const entries: Array<[string, string]> = [
    ['pfix', '07'], ['nfix', 'ff'], ['u8', 'ccc8'], ['u16', 'cd1234'], ['u32', 'ce12345678'], ['u64', 'cfffffffffffffffff'],
    ['i8', 'd080'], ['i16', 'd1fed4'], ['i32', 'd2fffe7960'], ['i64', 'd38000000000000000'],
    ['f32', 'ca3fa00000'], ['f64', 'cb3fb999999999999a'], ['nan', 'cbfff8000000000000'], ['inf', 'cb7ff0000000000000'],
    ['t', 'c3'], ['f', 'c2'], ['nil', 'c0'], ['s', 'a3616263'],
  ];
  w.mapHeader(entries.length);
  for (const [key, value] of entries) {
    w.str(key);
    w.raw(hex(value));
  }
  return chunkOf({ body: w.bytes(), sec: 1700000000, nsec: 123456789 });
}

test("ltsv prints every scalar as msgpack_object_print does (the stdout output's printer, checked against Fluent Bit)", () => {
  const chunk = scalarChunk();
  const ltsv = chunkToText(chunk, 'ltsv', { ...defaultTextOptions }).payload.toString('latin1');
  const printed = /\], (\{.*\})\]\n$/.exec(printChunk(chunk, 't'))?.[1] ?? '';
  assert.ok(ltsv.startsWith('"time":1700000000.123457\t'));
  const body = `{${ltsv.slice(ltsv.indexOf('\t') + 1, -1).split('\t').map((pair) => pair.replace('":', '"=>')).join(', ')}}`;
  assert.equal(body, printed);
});

test('csv: a field is quoted when it must be, line ends follow raw line breaks, an empty record keeps its line', () => {
  const chunk = chunkOf(
    { body: '{"a":"x\\ny","b":{"c":"d,e"},"n":-1.5}', sec: 1, nsec: 5 },
    { body: '{}', sec: 2, nsec: 0 },
  );
  const { payload, lineEnds } = chunkToText(chunk, 'csv', { ...defaultTextOptions });
  const text = payload.toString('utf8');
  assert.equal(text, '1.000000005,"x\ny","{""c"":""d,e""}",-1.500000\n2.000000000\n');
  assert.deepEqual(lineEnds, [text.indexOf('\n2.') + 1, text.length]);
});

test('template: braces as out_file treats them, {time} exactly, strings raw', () => {
  const chunk = chunkOf({ body: '{"m":"hi \\"you\\"","n":[1,{"k":null}],"time":"own"}', sec: 3, nsec: 500000000 });
  const template = '{time}|{m}|{n}|{t}|{}|{a{m}}|{missing}|x{';
  const line = chunkToText(chunk, 'template', { ...defaultTextOptions, template }).payload.toString('utf8');
  assert.equal(line, '3.500000|hi "you"|[1,{"k":null}]|{t}|{}|{ahi "you"}|{missing}|x{\n');
});

test("delimiters: Fluent Bit's names, any case, else the text itself", () => {
  assert.deepEqual(['\\t', 'TAB', 'space', 'Comma', ';', '||'].map(parseDelimiter), ['\t', '\t', ' ', ',', ';', '||']);
});
