import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsbitError } from '../../src/base/errors.js';
import {
  countEvents,
  forEachEvent,
  readEvents,
  readTimestampedRecord,
  skipValue,
  writeEvent,
  writeEventHeader,
  writeLogBody,
} from '../../src/codec/event.js';
import { chunkToJson } from '../../src/codec/json.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { chunkOf, fixture, hex } from './support.js';

const isMalformed = (e: unknown): boolean => e instanceof WsbitError && e.code === 'WSBIT_CODEC_MALFORMED';

test('SPEC §2.1: the 39-byte event for {"key 1":123456789,"key 2":"abcdefg"}', () => {
  const w = new MsgpackWriter();
  writeEvent(w, 1700000000, 123456789, null, jsonTextToMsgpack('{"key 1":123456789,"key 2":"abcdefg"}'));
  const expected = hex(`92 92 d7 00 65 53 f1 00 07 5b cd 15 80 82 a5 6b 65 79 20 31 ce 07 5b cd 15 a5 6b 65 79 20 32
    a7 61 62 63 64 65 66 67`);
  assert.equal(w.length, 39);
  assert.equal(w.bytes().toString('hex'), expected.toString('hex'));
  const [ev] = readEvents(w.bytes());
  assert.deepEqual(ev, {
    start: 0, end: 39, sec: 1700000000, nsec: 123456789,
    metaStart: 12, metaEnd: 13, metaCount: 0, bodyStart: 13, bodyEnd: 39, bodyCount: 2,
  });
});

test('writeEventHeader + body, and writeLogBody, give the same layout', () => {
  const a = new MsgpackWriter();
  writeEventHeader(a, 5, 6, null);
  writeLogBody(a, Buffer.from('xxhello worldxx'), 2, 13);
  const b = new MsgpackWriter();
  writeEvent(b, 5, 6, null, jsonTextToMsgpack('{"log":"hello world"}'));
  assert.equal(a.bytes().toString('hex'), b.bytes().toString('hex'));
  const withMeta = new MsgpackWriter();
  writeEventHeader(withMeta, 5, 6, jsonTextToMsgpack('{"m":1}'));
  withMeta.raw(jsonTextToMsgpack('{}'));
  assert.equal(withMeta.bytes().toString('hex'), '9292d700000000050000000681a16d0180');
});

test('events are iterated in order with their offsets; countEvents agrees', () => {
  const chunk = fixture('msgpack.two_records.bin');
  const seen: number[] = [];
  const n = forEachEvent(chunk, (ev, index) => {
    seen.push(index);
    assert.equal(ev.sec, 1700000000);
    assert.equal(ev.nsec, 123456789);
    assert.equal(ev.bodyCount, 13);
    assert.equal(ev.end - ev.start, chunk.length / 2);
  });
  assert.deepEqual(seen, [0, 1]);
  assert.equal(n, 2);
  assert.equal(countEvents(chunk), 2);
  assert.equal(countEvents(Buffer.alloc(0)), 0);
});

test('metadata written as map32 (df 00 00 00 00, the tcp input) reads as empty metadata', () => {
  const fixmap = chunkOf({ body: '{"a":1}' });
  const map32 = Buffer.concat([fixmap.subarray(0, 12), hex('df00000000'), fixmap.subarray(13)]);
  const [ev] = readEvents(map32);
  assert.equal(ev!.metaCount, 0);
  assert.equal(ev!.metaEnd - ev!.metaStart, 5);
  const options = { format: 'json_lines', dateKey: 'date', dateFormat: 'double', escapeUnicode: true } as const;
  assert.equal(chunkToJson(map32, options).toString(), chunkToJson(fixmap, options).toString());
});

test('V1 events [time, body] with EventTime, ext8, int and float times', () => {
  const body = jsonTextToMsgpack('{"a":1}').toString('hex');
  const cases: Array<[string, number, number]> = [
    [`92 d7006553f100075bcd15 ${body}`, 1700000000, 123456789],
    [`92 c70800 6553f100075bcd15 ${body}`, 1700000000, 123456789],
    [`92 ce6553f100 ${body}`, 1700000000, 0],
    [`92 cb41d954fc40200000 ${body}`, 1700000000, 500000000], // 1700000000.5
    [`92 d1fffe ${body}`, -2, 0],
    [`92 2a ${body}`, 42, 0],
  ];
  for (const [bytes, sec, nsec] of cases) {
    const [ev] = readEvents(hex(bytes));
    assert.equal(ev!.sec, sec, bytes);
    assert.equal(ev!.nsec, nsec, bytes);
    assert.equal(ev!.metaStart, ev!.metaEnd);
    assert.equal(ev!.metaCount, 0);
  }
  // V2 with an ext8 time and a mixed chunk of V1 and V2
  const mixed = Buffer.concat([hex(`92 92 c70800 6553f100075bcd15 80 ${body}`), hex(`92 ce6553f100 ${body}`)]);
  assert.deepEqual(readEvents(mixed).map((ev) => [ev.sec, ev.nsec]), [[1700000000, 123456789], [1700000000, 0]]);
});

test('wrong shapes are WSBIT_CODEC_MALFORMED with a reason', () => {
  const body = jsonTextToMsgpack('{"a":1}').toString('hex');
  const table: Array<[string, RegExp]> = [
    [`93 d7006553f100075bcd15 80 ${body}`, /not a 2-element array/],
    [`81 a161 01`, /not a 2-element array/],
    [`92 93 d7006553f100075bcd15 80 80 ${body}`, /header array must hold/],
    [`92 92 d7016553f100075bcd15 80 ${body}`, /ext has type 1/],
    [`92 92 d6006553f100 80 ${body}`, /timestamp has msgpack type 0xd6/],
    [`92 92 a3616263 80 ${body}`, /timestamp has msgpack type 0xa3/],
    [`92 92 d7006553f100075bcd15 90 ${body}`, /metadata is not a map/],
    [`92 92 d7006553f100075bcd15 80 91 01`, /body is not a map/],
    [`92 92 d7006553f100075bcd15 80 81 a161 c1`, /invalid type byte 0xc1/],
    [`92 cb7ff0000000000000 ${body}`, /not finite/],
  ];
  for (const [bytes, reason] of table) {
    assert.throws(() => countEvents(hex(bytes)), (e: unknown) => isMalformed(e) && reason.test((e as Error).message), bytes);
  }
});

test('every truncation of a chunk fails cleanly (or reads the complete events before the cut)', () => {
  const chunk = fixture('msgpack.two_records.bin');
  const half = chunk.length / 2;
  for (let cut = 1; cut < chunk.length; cut++) {
    const part = chunk.subarray(0, cut);
    if (cut === half) {
      assert.equal(countEvents(part), 1);
      continue;
    }
    assert.throws(() => countEvents(part), isMalformed, `cut at ${cut}`);
  }
});

test('fuzz: random and corrupted chunks either parse or throw WSBIT_CODEC_MALFORMED', () => {
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const base = fixture('msgpack.two_records.bin');
  for (let round = 0; round < 5000; round++) {
    let input: Buffer;
    if (round % 2 === 0) {
      input = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
    } else {
      input = Buffer.alloc(Math.floor(random() * 64));
      for (let k = 0; k < input.length; k++) input[k] = Math.floor(random() * 256);
    }
    try {
      forEachEvent(input, (ev) => assert.ok(ev.end <= input.length));
      chunkToJson(input, { format: 'json', dateKey: 'date', dateFormat: 'iso8601', escapeUnicode: true });
    } catch (e) {
      assert.ok(isMalformed(e), `unexpected ${String(e)} for ${input.toString('hex')}`);
    }
  }
});

test('skipValue covers every msgpack type and rejects truncation', () => {
  const values = [
    '00', '7f', 'e0', 'ff', '80', '8f' + '0000'.repeat(15), '90', '9f' + '00'.repeat(15), 'a0', 'a3616263', 'c0', 'c2', 'c3',
    'c40100', 'c5000100', 'c600000001ff', 'c7010500', 'c800010500', 'c90000000105ff', 'ca00000000', 'cb0000000000000000',
    'cc00', 'cd0000', 'ce00000000', 'cf0000000000000000', 'd000', 'd10000', 'd200000000', 'd30000000000000000',
    'd40100', 'd5010000', 'd601' + '00'.repeat(4), 'd701' + '00'.repeat(8), 'd801' + '00'.repeat(16), 'd90161',
    'da000161', 'db0000000161', 'dc000100', 'dd0000000100', 'de00010000', 'df000000010000',
  ];
  for (const v of values) {
    const bytes = hex(v + 'c0');
    assert.equal(skipValue(bytes, 0), bytes.length - 1, v);
    for (let cut = 0; cut < bytes.length - 1; cut++) {
      assert.throws(() => skipValue(bytes, 0, cut), isMalformed, `${v} cut at ${cut}`);
    }
  }
  // a huge declared count fails fast instead of looping
  assert.throws(() => skipValue(hex('dfffffffff'), 0), isMalformed);
});

test('readTimestampedRecord reads [time, {body}] as in_stdin accepts it', () => {
  const r = readTimestampedRecord(jsonTextToMsgpack('[1700000000.5, {"a":1}]'));
  assert.deepEqual(r && { sec: r.sec, nsec: r.nsec, body: Buffer.from(r.body).toString('hex') }, { sec: 1700000000, nsec: 500000000, body: '81a16101' });
  assert.equal(readTimestampedRecord(jsonTextToMsgpack('[1700000000, {"a":1}]'))?.sec, 1700000000);
  assert.equal(readTimestampedRecord(jsonTextToMsgpack('[1, 2]')), null);
  assert.equal(readTimestampedRecord(jsonTextToMsgpack('[1, {}, 3]')), null);
  assert.equal(readTimestampedRecord(jsonTextToMsgpack('["x", {}]')), null);
  assert.equal(readTimestampedRecord(jsonTextToMsgpack('{"a":1}')), null);
});
