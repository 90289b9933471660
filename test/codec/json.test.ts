import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkToJson, type JsonOptions } from '../../src/codec/json.js';
import { dateFormatAliases, formatDouble, parseDateFormat } from '../../src/codec/json-numbers.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { chunkOf, hex, type TestEvent } from './support.js';

const lines = (options: Partial<JsonOptions> = {}): JsonOptions => ({
  format: 'json_lines', dateKey: null, dateFormat: 'double', escapeUnicode: true, ...options,
});

/** JSON text of one record (json_stream, so no separators). */
function encode(event: TestEvent | string, options: Partial<JsonOptions> = {}): string {
  const ev = typeof event === 'string' ? { body: event } : event;
  return chunkToJson(chunkOf(ev), lines({ format: 'json_stream', ...options })).toString('utf8');
}

/** A body {"s": <str with these raw bytes>}. */
function strBody(bytes: string): Uint8Array {
  const w = new MsgpackWriter();
  w.mapHeader(1);
  w.str('s');
  w.strUtf8(hex(bytes));
  return w.bytes();
}

test('formatDouble: %.1f for integral values in the int64 range, else C %.16g (outputs checked against glibc)', () => {
  const table: Array<[number, string]> = [
    [0.1, '0.1'], [0.30000000000000004, '0.3'], [1e-5, '1e-05'], [1e20, '1e+20'], [1e16, '10000000000000000.0'],
    [123456789.123456789, '123456789.1234568'], [-0, '-0.0'], [0, '0.0'], [3, '3.0'], [-2.5, '-2.5'], [100, '100.0'],
    [Number.NaN, 'nan'], [Infinity, 'inf'], [-Infinity, '-inf'], [5e-324, '4.940656458412465e-324'],
    [1.7976931348623157e308, '1.797693134862316e+308'], [1700000000.123456789, '1700000000.123457'],
    [1700000000, '1700000000.0'], [2 ** 63, '9.223372036854776e+18'], [-(2 ** 63), '-9223372036854775808.0'],
    [1125899906842624.5, '1125899906842624'], // an exact tie: glibc rounds half to even, JS toPrecision would not
    [0.010746002197265625, '0.01074600219726562'], [1e-4, '0.0001'], [0.00012345, '0.00012345'], [1 / 3, '0.3333333333333333'],
    [123456789012345680000, '1.234567890123457e+20'], [1e15 + 0.3, '1000000000000000'],
  ];
  for (const [x, expected] of table) assert.equal(formatDouble(x), expected, String(x));
});

test('date formats, including the aliases and case-insensitive names', () => {
  assert.equal(parseDateFormat('EPOCH_MILLIS'), 'epoch_ms');
  assert.equal(parseDateFormat('Epoch_Milliseconds'), 'epoch_ms');
  assert.equal(parseDateFormat('ISO8601'), 'iso8601');
  assert.equal(parseDateFormat('rfc3339'), undefined);
  assert.deepEqual(Object.keys(dateFormatAliases).sort(), ['epoch_millis', 'epoch_milliseconds']);
  const at = (sec: number, nsec: number, dateFormat: JsonOptions['dateFormat']): string =>
    encode({ body: '{}', sec, nsec }, { dateKey: 'date', dateFormat });
  assert.equal(at(1700000000, 123456789, 'double'), '{"date":1700000000.123457}');
  assert.equal(at(1700000000, 0, 'double'), '{"date":1700000000.0}');
  assert.equal(at(1700000000, 999999999, 'epoch'), '{"date":1700000000}');
  assert.equal(at(1700000000, 999999999, 'epoch_ms'), '{"date":1700000000999}');
  assert.equal(at(1700000000, 999999999, 'iso8601'), '{"date":"2023-11-14T22:13:20.999999Z"}');
  assert.equal(at(1709164800, 1000, 'java_sql_timestamp'), '{"date":"2024-02-29 00:00:00.000001"}');
  assert.equal(at(0, 0, 'iso8601'), '{"date":"1970-01-01T00:00:00.000000Z"}');
  assert.equal(at(4102444800, 0, 'iso8601'), '{"date":"2100-01-01T00:00:00.000000Z"}');
});

test('pre-1970 times (V1 integer timestamps): gmtime dates, uint64 epochs as C prints them', () => {
  const body = '81a16101';
  const chunk = hex(`92 d2fffeae7f ${body}`); // -86401 s
  const at = (dateFormat: JsonOptions['dateFormat']): string => chunkToJson(chunk, lines({ format: 'json_stream', dateKey: 'd', dateFormat })).toString();
  assert.equal(at('iso8601'), '{"d":"1969-12-30T23:59:59.000000Z","a":1}');
  assert.equal(at('java_sql_timestamp'), '{"d":"1969-12-30 23:59:59.000000","a":1}');
  assert.equal(at('double'), '{"d":-86401.0,"a":1}');
  assert.equal(at('epoch'), '{"d":18446744073709465215,"a":1}');
  assert.equal(at('epoch_ms'), '{"d":18446744073623150616,"a":1}');
});

test('string escaping with json.escape_unicode on (checked against flb_utils_write_str on x86)', () => {
  const table: Array<[string, string]> = [
    ['011b7f080c0a0d09225c2f41', '\\u0001\\u001b\\u007f\\b\\f\\n\\r\\t\\"\\\\/A'],
    ['c3a9', '\\u00e9'], ['e29883', '\\u2603'], ['f09f9880', '\\ud83d\\ude00'], ['efbfbf', '\\uffff'],
    ['f48fbfbf', '\\udbff\\udfff'],
    ['ce41', '\u{e0ce}A'], // an invalid byte becomes U+E000+byte, written as raw UTF-8
    ['e298', '\u{e098}'], // cut sequence: the lead byte is dropped, the stray continuation byte mapped
    ['41e2', 'A'], ['ff41', 'A'], ['ff414141414141', '\u{e0ff}AAAAAA'],
    ['eda080', '\u{e0ed}\u{e0a0}\u{e080}'], ['c0af', '\u{e0c0}\u{e0af}'], ['f4908080', '\u{e0f4}\u{e090}\u{e080}\u{e080}'],
  ];
  for (const [bytes, expected] of table) assert.equal(encode({ body: strBody(bytes) }), `{"s":"${expected}"}`, bytes);
});

test('string escaping with json.escape_unicode off: UTF-8 copied, invalid bytes become U+FFFD', () => {
  const table: Array<[string, string]> = [
    ['011f7f22', '\\u0001\\u001f\\u007f\\"'], ['c3a9e29883f09f9880', 'é☃😀'], ['ce41', '\u{fffd}A'],
    ['e298', '\u{fffd}\u{fffd}'], ['eda080', '\u{fffd}\u{fffd}\u{fffd}'], ['c0af', '\u{fffd}\u{fffd}'], ['f4908080', '\u{fffd}'.repeat(4)],
  ];
  for (const [bytes, expected] of table) {
    assert.equal(encode({ body: strBody(bytes) }, { escapeUnicode: false }), `{"s":"${expected}"}`, bytes);
  }
});

test('duplicate keys: only the last occurrence is printed, at its own position, at every depth', () => {
  assert.equal(encode('{"a":1,"b":2,"a":3}'), '{"b":2,"a":3}');
  assert.equal(encode('{"x":{"k":1,"j":0,"k":2},"y":[{"d":1,"d":2}]}'), '{"x":{"j":0,"k":2},"y":[{"d":2}]}');
  const many = `{${Array.from({ length: 40 }, (_, i) => `"k${i % 30}":${i}`).join(',')}}`; // > 24 keys: the Map path
  const expected = `{${Array.from({ length: 40 }, (_, i) => i).filter((i) => i >= 10 || i + 30 >= 40).map((i) => `"k${i % 30}":${i}`).join(',')}}`;
  assert.equal(encode(many), expected);
});

test('the date key goes first, and a body key with the same name replaces it where it stands', () => {
  assert.equal(encode('{"a":1}', { dateKey: 'date' }), '{"date":1700000000.123457,"a":1}');
  assert.equal(encode('{"a":1,"date":"mine"}', { dateKey: 'date' }), '{"a":1,"date":"mine"}');
  assert.equal(encode('{"a":1}', { dateKey: null }), '{"a":1}');
  assert.equal(encode('{}', { dateKey: 'w"é', escapeUnicode: true }), '{"w\\"\\u00e9":1700000000.123457}');
});

test('non-empty metadata is printed as __internal__.log_metadata after the date key', () => {
  assert.equal(
    encode({ body: '{"a":1}', metadata: '{"m":{"n":[1]},"m":2}' }, { dateKey: 'date', dateFormat: 'epoch' }),
    '{"date":1700000000,"__internal__":{"log_metadata":{"m":2}},"a":1}',
  );
  assert.equal(encode({ body: '{"a":1}', metadata: '{}' }, { dateKey: 'date', dateFormat: 'epoch' }), '{"date":1700000000,"a":1}');
  assert.equal(encode({ body: '{"__internal__":0}', metadata: '{"m":1}' }), '{"__internal__":0}');
});

test('json, json_stream and json_lines framing of several records', () => {
  const chunk = chunkOf({ body: '{"a":1}' }, { body: '{"a":2}' });
  const run = (format: JsonOptions['format']): string => chunkToJson(chunk, lines({ format })).toString();
  assert.equal(run('json'), '[{"a":1},{"a":2}]');
  assert.equal(run('json_stream'), '{"a":1}{"a":2}');
  assert.equal(run('json_lines'), '{"a":1}\n{"a":2}\n');
  assert.equal(chunkToJson(Buffer.alloc(0), lines({ format: 'json' })).toString(), '[]');
});

test('numbers, NaN and convert_nan_to_null, bin, ext and non-string keys', () => {
  const w = new MsgpackWriter();
  w.mapHeader(11);
  w.str('u64'); w.uint(18446744073709551615n);
  w.str('i64'); w.int(-9223372036854775808n);
  w.str('i53'); w.int(-(2 ** 53) - 2);
  w.str('f32'); w.raw(hex('ca3dcccccd')); // 0.1f widened to double
  w.str('nan'); w.float64(Number.NaN);
  w.str('-nan'); w.raw(hex('cbfff8000000000000'));
  w.str('inf'); w.float64(Infinity);
  w.str('bin'); w.bin(Buffer.from('b"'));
  w.str('ext'); w.ext(7, Buffer.from([0x01, 0x80, 0xff]));
  w.uint(1); w.str('int key');
  w.nil(); w.bool(true);
  const body = w.bytes();
  assert.equal(
    encode({ body }),
    '{"u64":18446744073709551615,"i64":-9223372036854775808,"i53":-9007199254740994,"f32":0.1000000014901161,' +
      '"nan":nan,"-nan":-nan,"inf":inf,"bin":"b\\"","ext":"\\x01\\xffffff80\\xffffffff",1:"int key",null:true}',
  );
  assert.match(encode({ body }, { convertNanToNull: true }), /"nan":null,"-nan":null,"inf":inf,/);
});

test('group start/end markers are not records', () => {
  const body = '81a16101';
  const chunk = hex(`92 92 d700ffffffff00000000 80 80  92 92 d7006553f100075bcd15 80 ${body}  92 92 d700fffffffe00000000 80 80`);
  assert.equal(chunkToJson(chunk, lines({ format: 'json' })).toString(), '[{"a":1}]');
});

test('the double date agrees with formatDouble(sec + nsec / 1e9) everywhere, also near rounding boundaries', () => {
  let seed = 5;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const times: Array<[number, number]> = [[1700000000, 999999600], [1700000000, 999999400], [9999999999 % 4294967296, 999999999], [1e7, 5], [0, 1]];
  for (let i = 0; i < 20000; i++) {
    const sec = [1e7, 1e8, 1e9, 2 ** 31][i % 4]! + Math.floor(random() * 2e9);
    const base = Math.floor(random() * 1e6) * 1000;
    const nsec = i % 3 === 0 ? base + 380 + Math.floor(random() * 240) : Math.floor(random() * 1e9); // many near x.5 µs
    times.push([Math.min(sec, 4294967293), nsec]); // 0xfffffffe and up are group markers
  }
  const chunk = chunkOf(...times.map(([sec, nsec]) => ({ sec, nsec, body: '{}' })));
  const lines = chunkToJson(chunk, { format: 'json_lines', dateKey: 'd', dateFormat: 'double', escapeUnicode: true }).toString().split('\n');
  times.forEach(([sec, nsec], i) => assert.equal(lines[i], `{"d":${formatDouble(sec + nsec / 1e9)}}`, `${sec}.${nsec}`));
});

test('records that share a time reuse its formatted date; a change of time is never missed', () => {
  const times = [
    [1_700_000_000, 123_456_789],
    [1_700_000_000, 123_456_789],
    [1_700_000_000, 123_456_790],
    [1_700_000_001, 123_456_790],
    [1_700_000_000, 123_456_789],
  ] as const;
  const events = times.map(([sec, nsec], i) => ({ sec, nsec, body: `{"n":${i}}` }));
  for (const dateFormat of ['double', 'epoch_ms', 'iso8601', 'java_sql_timestamp'] as const) {
    const options = lines({ dateKey: 'date', dateFormat });
    // Each record on its own has a fresh encoder, so nothing is cached between them.
    const oneByOne = events.map((ev) => chunkToJson(chunkOf(ev), options).toString('utf8')).join('');
    assert.equal(chunkToJson(chunkOf(...events), options).toString('utf8'), oneByOne, dateFormat);
  }
});

/** What chunkToJson must print for a string of plain ASCII around one special byte sequence (escape_unicode on). */
const SPECIALS: Array<[string, string]> = [
  ['01', '\\u0001'], ['0a', '\\n'], ['1f', '\\u001f'], ['22', '\\"'], ['5c', '\\\\'], ['7f', '\\u007f'],
  ['c3a9', '\\u00e9'], ['f09f9880', '\\ud83d\\ude00'], ['ff4142434445', '\u{e0ff}ABCDE'],
];

test('strings around the fast copy: every length, special bytes at the start, middle and end, at any alignment', () => {
  const lengths = [0, 1, 3, 4, 5, 11, 12, 13, 31, 32, 33, 47, 48, 95, 96, 97, 255, 256, 257, 1000];
  for (const length of lengths) {
    const plain = 'abcdefghijklmnopqrstuvwxyz -+!#~[]{}'.repeat(30).slice(0, length);
    assert.equal(encode({ body: strBody(Buffer.from(plain).toString('hex')) }), `{"s":"${plain}"}`, `plain ${length}`);
    for (const [bytes, escaped] of SPECIALS) {
      for (const at of new Set([0, length >> 1, length])) {
        const raw = Buffer.concat([Buffer.from(plain.slice(0, at)), hex(bytes), Buffer.from(plain.slice(at))]);
        const expected = `{"s":"${plain.slice(0, at)}${escaped}${plain.slice(at)}"}`;
        // The chunk at each offset of a word, so the copy meets every alignment of the string.
        for (let shift = 0; shift < 4; shift++) {
          const chunk = chunkOf({ body: strBody(raw.toString('hex')) });
          const host = Buffer.alloc(chunk.length + shift);
          chunk.copy(host, shift);
          const json = chunkToJson(host.subarray(shift), lines({ format: 'json_stream' })).toString('utf8');
          assert.equal(json, expected, `${bytes} at ${at} of ${length}, shift ${shift}`);
        }
      }
    }
  }
});

test('long strings: many escapes grow the output buffer, and escape_unicode off copies valid UTF-8 through', () => {
  const controls = Buffer.alloc(70000, 0x01);
  assert.equal(encode({ body: strBody(controls.toString('hex')) }), `{"s":"${'\\u0001'.repeat(70000)}"}`);
  const mixed = Buffer.from(`${'x'.repeat(5000)}é"${'y'.repeat(5000)}\n`);
  assert.equal(encode({ body: strBody(mixed.toString('hex')) }), `{"s":"${'x'.repeat(5000)}\\u00e9\\"${'y'.repeat(5000)}\\n"}`);
  assert.equal(encode({ body: strBody(mixed.toString('hex')) }, { escapeUnicode: false }), `{"s":"${'x'.repeat(5000)}é\\"${'y'.repeat(5000)}\\n"}`);
  const invalid = Buffer.concat([Buffer.from('a'.repeat(40)), hex('ce'), Buffer.from('b'.repeat(40))]);
  assert.equal(encode({ body: strBody(invalid.toString('hex')) }, { escapeUnicode: false }), `{"s":"${'a'.repeat(40)}\u{fffd}${'b'.repeat(40)}"}`);
});

test('keys, nested maps and arrays and numbers around long strings keep their bytes', () => {
  const long = 'k'.repeat(40);
  const text = `{"${long}":{"a":[1,-2,3.5,"${'v'.repeat(300)}",{"${long}":null}],"b":4294967295},"n":123456,"t":1712345678901234}`;
  assert.equal(encode(text), text);
  assert.equal(encode(text, { dateKey: 'date', dateFormat: 'epoch' }), `{"date":1700000000,${text.slice(1)}`);
});
