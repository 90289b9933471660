import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsbitError } from '../../src/base/errors.js';
import { EventTime, decodeEvents, encodeBody } from '../../src/codec/msgpack.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { chunkOf, fixture, hex } from './support.js';

test('decodeEvents gives JS values with exact 64-bit integers', () => {
  const [first, second] = decodeEvents(fixture('msgpack.two_records.bin'));
  assert.equal(first!.sec, 1700000000);
  assert.equal(first!.nsec, 123456789);
  assert.deepEqual(first!.metadata, {});
  const body = first!.body as Record<string, unknown>;
  assert.equal(body.big, 18446744073709551615n);
  assert.equal(body.whole_float, 3);
  assert.equal(body.unicode, 'héllo ☃ 😀');
  assert.deepEqual(body.arr, [1, 'two', { three: 3 }]);
  assert.deepEqual(second, first);
});

test('decodeEvents reads metadata, V1 events and EventTime values inside bodies', () => {
  const [ev] = decodeEvents(chunkOf({ body: '{"a":1}', metadata: '{"m":"x"}' }));
  assert.deepEqual(ev!.metadata, { m: 'x' });
  const [v1] = decodeEvents(hex('92 ce6553f100 81 a174 d7006553f100075bcd15'));
  assert.deepEqual(v1, { sec: 1700000000, nsec: 0, metadata: {}, body: { t: new EventTime(1700000000, 123456789) } });
});

test('encodeBody encodes JS values as the JSON scanner encodes the same JSON', () => {
  const value = { a: 1, b: 0.5, c: 'x', d: [true, null], e: { f: -1, g: 3.25 }, big: 2 ** 53, neg: -(2 ** 40) };
  assert.equal(encodeBody(value).toString('hex'), jsonTextToMsgpack(JSON.stringify(value)).toString('hex'));
  assert.equal(encodeBody({ n: 18446744073709551615n }).toString('hex'), jsonTextToMsgpack('{"n":18446744073709551615}').toString('hex'));
  assert.equal(encodeBody(new Map([['k', new Uint8Array([1])]])).toString('hex'), '81a16bc40101');
  assert.equal(encodeBody({ t: new EventTime(1, 2) }).toString('hex'), '81a174d7000000000100000002');
  assert.equal(encodeBody({ inf: Infinity, huge: 2 ** 64 }).toString('hex'), '82a3696e66cb7ff0000000000000a468756765cb43f0000000000000');
  assert.throws(() => encodeBody({ f: () => 1 }), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_CODEC_UNSUPPORTED');
});
