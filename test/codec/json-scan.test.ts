import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsbitError } from '../../src/base/errors.js';
import { jsonTextToMsgpack, scanJsonValue, skipJsonWhitespace, type ScanResult } from '../../src/codec/json-scan.js';
import { MAX_NESTING_DEPTH } from '../../src/codec/limits.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { fixture } from './support.js';

const msgpackHex = (json: string): string => jsonTextToMsgpack(json).toString('hex');

test('numbers: ints stay exact ints over 64 bits, fractions and exponents become float64', () => {
  const table: Array<[string, string]> = [
    ['0', '00'], ['-0', '00'], ['127', '7f'], ['128', 'cc80'], ['-1', 'ff'], ['-33', 'd0df'], ['-42', 'd0d6'],
    ['123456789', 'ce075bcd15'], ['123456789012345', 'cf00007048860ddf79'],
    ['9007199254740993', 'cf0020000000000001'], // 2^53 + 1: exact, where JSON.parse would round
    ['18446744073709551615', 'cfffffffffffffffff'],
    ['-9223372036854775808', 'd38000000000000000'],
    ['18446744073709551616', 'cb43f0000000000000'], // beyond uint64: a double, as Fluent Bit's parsers do
    ['-9223372036854775809', 'cbc3e0000000000000'],
    ['3.0', 'cb4008000000000000'], ['0.1', 'cb3fb999999999999a'], ['-0.0', 'cb8000000000000000'],
    ['1e5', 'cb40f86a0000000000'], ['1E+2', 'cb4059000000000000'], ['25e-1', 'cb4004000000000000'],
    ['1e400', 'cb7ff0000000000000'],
  ];
  for (const [json, expected] of table) assert.equal(msgpackHex(json), expected, json);
});

test('strings: escapes, \\u with surrogate pairs, raw UTF-8 passes through', () => {
  assert.equal(msgpackHex('"a\\"b\\\\c\\/d"'), 'a7' + Buffer.from('a"b\\c/d').toString('hex'));
  assert.equal(msgpackHex('"\\b\\f\\n\\r\\t"'), 'a5080c0a0d09');
  assert.equal(msgpackHex('"h\\u00e9llo"'), 'a668c3a96c6c6f');
  assert.equal(msgpackHex('"\\u2603"'), 'a3e29883');
  assert.equal(msgpackHex('"\\ud83d\\ude00"'), 'a4f09f9880');
  assert.equal(msgpackHex('"\\uD83D\\uDE00"'), 'a4f09f9880');
  assert.equal(msgpackHex('"\\ud83dx"'), 'a4efbfbd78', 'a lone high surrogate becomes U+FFFD');
  assert.equal(msgpackHex('"\\ude00"'), 'a3efbfbd', 'a lone low surrogate becomes U+FFFD');
  assert.equal(msgpackHex('"\\u0000"'), 'a100');
  assert.equal(msgpackHex('"héllo ☃"'), 'aa68c3a96c6c6f20e29883');
  // 20 escaped newlines: 40 raw bytes reserve a str8 header, the 20-byte result needs a fixstr
  assert.equal(msgpackHex(`"${'\\n'.repeat(20)}"`), 'b4' + '0a'.repeat(20));
  // 200 escapes → 200 bytes: still str8 after shrinking from a str16 reservation
  assert.equal(msgpackHex(`"${'\\t'.repeat(200)}"`), 'd9c8' + '09'.repeat(200));
});

test('objects keep key order and duplicate keys; containers get minimal headers', () => {
  assert.equal(msgpackHex('{"b":1,"a":2,"b":3}'), '83a16201a16102a16203');
  assert.equal(msgpackHex('{}'), '80');
  assert.equal(msgpackHex('[]'), '90');
  assert.equal(msgpackHex(' [ 1 , [ ] , { } , "x" , true , false , null ] '), '9701908' + '0a178c3c2c0');
  const sixteen = `{${Array.from({ length: 16 }, (_, i) => `"k${i.toString(16)}":${i}`).join(',')}}`;
  assert.ok(msgpackHex(sixteen).startsWith('de0010a26b3000'));
  const big = `[${new Array(70000).fill('1').join(',')}]`;
  assert.ok(msgpackHex(big).startsWith('dd0001117001'));
  assert.ok(msgpackHex(`[${new Array(300).fill('{"a":[1,2,{"b":"c"}]}').join(',')}]`).startsWith('dc012c81a161'));
});

test('the golden input record scans to the bytes Fluent Bit packed', () => {
  const body = jsonTextToMsgpack(fixture('input-record.json'));
  const chunk = fixture('msgpack.two_records.bin');
  assert.ok(chunk.subarray(13, 13 + body.length).equals(body));
});

function scan(text: string | Buffer, offset = 0, eof = false): { result: ScanResult; bytes: string; writerLength: number } {
  const writer = new MsgpackWriter(8);
  writer.byte(0xc0); // pre-existing content that must survive a rollback
  const result = scanJsonValue(typeof text === 'string' ? Buffer.from(text) : text, offset, writer, { eof });
  return { result, bytes: writer.bytes().subarray(1).toString('hex'), writerLength: writer.length };
}

test('a stream of concatenated values is read one value at a time', () => {
  const text = Buffer.from('{"a":1}{"b":2}\n  [3] "s" 4 ');
  const writer = new MsgpackWriter();
  const kinds: string[] = [];
  let offset = 0;
  for (;;) {
    const r = scanJsonValue(text, offset, writer);
    if (r.status !== 'ok') {
      assert.equal(r.status, 'incomplete');
      break;
    }
    kinds.push(r.kind);
    offset = r.end;
  }
  assert.deepEqual(kinds, ['object', 'object', 'array', 'string', 'number']);
  assert.equal(writer.bytes().toString('hex'), '81a16101' + '81a16202' + '9103' + 'a173' + '04');
  assert.equal(skipJsonWhitespace(text, offset), text.length);
});

test('a top-level number at the end of the buffer waits for more bytes unless eof', () => {
  assert.equal(scan('123').result.status, 'incomplete');
  const done = scan('123', 0, true);
  assert.deepEqual(done.result, { status: 'ok', end: 3, kind: 'number' });
  assert.equal(done.bytes, '7b');
  assert.deepEqual(scan('123 ').result, { status: 'ok', end: 3, kind: 'number' });
});

test('every prefix of a value is incomplete, and the writer is rolled back each time', () => {
  const text = Buffer.from(fixture('input-record.json').toString('utf8').trim() + ' [1,"x\\u00e9",{"k":-2.5e3}]');
  const first = text.indexOf(' [');
  for (let cut = 0; cut < text.length; cut++) {
    const { result, writerLength } = scan(text.subarray(0, cut));
    if (cut <= first) {
      assert.equal(result.status, cut === first ? 'ok' : 'incomplete', `cut at ${cut}`);
    } else {
      const second = scan(text.subarray(0, cut), first);
      assert.equal(second.result.status, cut === text.length ? 'ok' : 'incomplete', `second value cut at ${cut}`);
      if (second.result.status !== 'ok') assert.equal(second.writerLength, 1);
    }
    if (result.status !== 'ok') assert.equal(writerLength, 1, `rolled back at ${cut}`);
  }
  const whole = scan(text, first, true);
  assert.equal(whole.result.status, 'ok');
  assert.equal(whole.bytes, '9301a3' + '78c3a9' + '81a16bcbc0a3880000000000');
});

test('errors name the offending byte and roll the writer back', () => {
  const table: Array<[string, string]> = [
    ['{"a" 1}', "unexpected character '1' at byte 5, expected ':'"],
    ['{"a":1,}', "unexpected character '}' at byte 7, expected a string key"],
    ['{"a":1 "b":2}', `unexpected character '"' at byte 7, expected ',' or '}'`],
    ['[1 2]', "unexpected character '2' at byte 3, expected ',' or ']'"],
    ['{a:1}', "unexpected character 'a' at byte 1, expected a string key"],
    ['x', "unexpected character 'x' at byte 0, expected a JSON value"],
    ['trux', "unexpected character 'x' at byte 3"],
    ['01', 'leading zero in number at byte 0'],
    ['-x', "unexpected character 'x' at byte 1, expected a digit"],
    ['1.e5', "unexpected character 'e' at byte 2, expected a digit after '.'"],
    ['"\\q"', "invalid escape '\\q' at byte 1"],
    ['"\\u12x4"', 'invalid \\u escape at byte 1'],
    ['\u0001', 'unexpected character byte 0x01 at byte 0, expected a JSON value'],
  ];
  for (const [json, message] of table) {
    const { result, writerLength } = scan(json, 0, true);
    assert.deepEqual(result.status === 'error' ? result.message : result, message, json);
    assert.equal(writerLength, 1, json);
  }
  assert.throws(() => jsonTextToMsgpack('{"a":1} x'), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_JSON_INVALID' && /after the value/.test(e.message));
  assert.throws(() => jsonTextToMsgpack('{"a":'), /unexpected end of input/);
  assert.throws(() => jsonTextToMsgpack(''), /unexpected end of input/);
});

test('nesting is limited to the shared record limit (iterative scanner, no stack overflow)', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  assert.equal(MAX_NESTING_DEPTH, 64);
  assert.equal(scan(deep(MAX_NESTING_DEPTH)).result.status, 'ok');
  const tooDeep = scan(deep(MAX_NESTING_DEPTH + 1));
  assert.equal(tooDeep.result.status, 'error');
  assert.match(tooDeep.result.status === 'error' ? tooDeep.result.message : '', /nesting deeper than 64 levels at byte 64/);
  assert.throws(() => jsonTextToMsgpack(deep(1500)), /nesting deeper than 64/);
  const writer = new MsgpackWriter();
  assert.equal(scanJsonValue(Buffer.from(deep(100000)), 0, writer, { maxDepth: 200000 }).status, 'ok');
});

test('fuzz: random and mutated input never throws and never leaves partial output', () => {
  let seed = 42;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const base = fixture('input-record.json');
  const alphabet = Buffer.from('{}[]:,"\\u0123456789-+.eE truefalsenull\n\t\u00ff');
  const writer = new MsgpackWriter();
  for (let round = 0; round < 5000; round++) {
    let input: Buffer;
    if (round % 2 === 0) {
      input = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
      input = input.subarray(0, Math.floor(random() * (input.length + 1)));
    } else {
      input = Buffer.alloc(Math.floor(random() * 40));
      for (let k = 0; k < input.length; k++) input[k] = random() < 0.8 ? alphabet[Math.floor(random() * alphabet.length)]! : Math.floor(random() * 256);
    }
    writer.reset();
    let offset = 0;
    for (let guard = 0; guard < 100; guard++) {
      const before = writer.length;
      const r = scanJsonValue(input, offset, writer, { eof: round % 3 === 0 });
      if (r.status !== 'ok') {
        assert.equal(writer.length, before);
        break;
      }
      assert.ok(r.end > offset && r.end <= input.length);
      offset = r.end;
    }
  }
});

test('float literals convert exactly as strtod/Number() would (fast path and fallback)', () => {
  let seed = 99;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join('');
  const view = new DataView(new ArrayBuffer(8));
  for (let round = 0; round < 20000; round++) {
    let text = (random() < 0.3 ? '-' : '') + (random() < 0.3 ? '0' : String(1 + Math.floor(random() * 9)) + digits(Math.floor(random() * 12)));
    if (random() < 0.8) text += '.' + digits(1 + Math.floor(random() * 20));
    if (random() < 0.4) text += (random() < 0.5 ? 'e' : 'E') + (['', '+', '-'][Math.floor(random() * 3)] ?? '') + String(Math.floor(random() * 40));
    if (!/[.eE]/.test(text)) text += '.5';
    const bytes = jsonTextToMsgpack(text);
    assert.equal(bytes[0], 0xcb, text);
    view.setFloat64(0, Number(text));
    assert.equal(bytes.subarray(1).toString('hex'), Buffer.from(view.buffer).toString('hex'), text);
  }
});

test('strings of every length around the copy thresholds get the str header msgpack-c writes, escapes anywhere', () => {
  const lengths = [0, 1, 30, 31, 32, 33, 34, 100, 253, 254, 255, 256, 257, 258, 1000, 65535, 65536, 70000];
  for (const length of lengths) {
    const plain = 'abcdefghij klmnopqrstuvwxyz'.repeat(Math.ceil(length / 27) + 1).slice(0, length);
    const expectedPlain = new MsgpackWriter();
    expectedPlain.str(plain);
    for (let shift = 0; shift < 4; shift++) {
      // The text at each offset of a word, followed by more JSON, as in a stream.
      const host = Buffer.from(`${' '.repeat(shift)}"${plain}"{"next":1}`);
      const text = host.subarray(shift);
      const writer = new MsgpackWriter(16);
      const result = scanJsonValue(text, 0, writer);
      assert.deepEqual(result, { status: 'ok', end: length + 2, kind: 'string' }, `length ${length}, shift ${shift}`);
      assert.ok(writer.view().equals(expectedPlain.view()), `length ${length}, shift ${shift}`);
    }
    for (const at of new Set([0, 31, 32, 254, 255, 256, length >> 1, length])) {
      if (at > length) continue;
      for (const escape of ['\\n', '\\"', '\\\\', '\\u00e9', '\\ud83d\\ude00']) {
        const json = `"${plain.slice(0, at)}${escape}${plain.slice(at)}"`;
        const expected = new MsgpackWriter();
        expected.str(JSON.parse(json) as string);
        assert.equal(msgpackHex(json), expected.view().toString('hex'), `${escape} at ${at} of ${length}`);
      }
    }
  }
});

test('raw UTF-8 and raw control bytes in a long string are copied as they are', () => {
  const raw = Buffer.concat([Buffer.from('é☃😀'.repeat(20)), Buffer.from([0x01, 0x7f, 0x0a]), Buffer.from('ü'.repeat(200))]);
  const text = Buffer.concat([Buffer.from('"'), raw, Buffer.from('"')]);
  const expected = new MsgpackWriter();
  expected.strUtf8(raw);
  assert.equal(jsonTextToMsgpack(text).toString('hex'), expected.view().toString('hex'));
});

test('a long string cut anywhere is incomplete and leaves nothing in the writer', () => {
  const text = Buffer.from(`{"msg":"${'x'.repeat(300)}\\t${'y'.repeat(40)}","n":1}`);
  for (let cut = 0; cut < text.length; cut++) {
    const writer = new MsgpackWriter(8);
    writer.byte(0xc0);
    assert.equal(scanJsonValue(text.subarray(0, cut), 0, writer).status, 'incomplete', `cut at ${cut}`);
    assert.equal(writer.length, 1, `rolled back at ${cut}`);
  }
  assert.equal(scanJsonValue(text, 0, new MsgpackWriter(8)).status, 'ok');
});
