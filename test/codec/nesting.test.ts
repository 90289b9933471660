/**
 * One nesting limit for every edge (issue 12, item 2): how it is measured on msgpack, and what every
 * encoder does with a record past it: leave it out, say which and why, and encode the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventTooDeep, nestingExceeds, readEvents, writeEvent, type RejectedRecord } from '../../src/codec/event.js';
import { chunkToGelf } from '../../src/codec/gelf.js';
import { chunkToJson } from '../../src/codec/json.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MAX_NESTING_DEPTH } from '../../src/codec/limits.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { encodePayload, type PayloadOptions } from '../../src/codec/payload.js';
import { printChunkBytes } from '../../src/codec/print.js';
import { defaultGelfOptions } from '../../src/codec/gelf.js';
import { nestedMaps } from './support.js';

test('nestingExceeds counts maps and arrays, the outer value being level 1, and stops at the limit', () => {
  const cases: Array<[string, number, boolean]> = [
    ['{"a":1}', 1, false],
    ['{"a":1}', 0, true],
    ['{"a":{}}', 1, true],
    ['{"a":{}}', 2, false],
    ['{"a":[1,[2,[3]]],"b":"x"}', 4, false],
    ['{"a":[1,[2,[3]]],"b":"x"}', 3, true],
    ['[[],[],[[]]]', 3, false],
    ['[[],[],[[]]]', 2, true],
    ['{"s":"a long string with { and [ inside","n":18446744073709551615,"f":1.5,"t":true}', 1, false],
    ['1', 0, false],
  ];
  for (const [json, limit, expected] of cases) assert.equal(nestingExceeds(jsonTextToMsgpack(json), 0, undefined, limit), expected, `${json} limit ${limit}`);
  assert.equal(nestingExceeds(nestedMaps(MAX_NESTING_DEPTH), 0), false);
  assert.equal(nestingExceeds(nestedMaps(MAX_NESTING_DEPTH + 1), 0), true);
  // bin, ext and str32 are skipped by their lengths, map16/array32 headers read.
  const w = new MsgpackWriter();
  w.mapHeader(3);
  w.str('bin');
  w.bin(Buffer.from([0x91, 0x91, 0x91]));
  w.str('time');
  w.eventTime(1, 2);
  w.str('list');
  w.raw(Buffer.from([0xdd, 0, 0, 0, 1, 0xde, 0, 1, 0xa1, 0x6b, 0xc0]));
  assert.equal(nestingExceeds(w.bytes(), 0, undefined, 3), false);
  assert.equal(nestingExceeds(w.bytes(), 0, undefined, 2), true);
  // A hostile 300,000-level value is answered without recursion.
  assert.equal(nestingExceeds(nestedMaps(300_000), 0), true);
});

/** A chunk of `{"seq":N}` records with one record `poisonDepth` levels deep at index `poisonAt`. */
function chunkWithPoison(count: number, poisonAt: number, poisonDepth = 1500): Buffer {
  const w = new MsgpackWriter();
  for (let i = 0; i < count; i++) {
    const body = i === poisonAt ? nestedMaps(poisonDepth) : jsonTextToMsgpack(`{"seq":${i},"short_message":"m${i}"}`);
    writeEvent(w, 1_700_000_000 + i, 0, null, body);
  }
  return w.bytes();
}

test('eventTooDeep names the body or the metadata', () => {
  const w = new MsgpackWriter();
  writeEvent(w, 1, 0, nestedMaps(MAX_NESTING_DEPTH + 1), jsonTextToMsgpack('{"a":1}'));
  writeEvent(w, 1, 0, nestedMaps(MAX_NESTING_DEPTH), nestedMaps(MAX_NESTING_DEPTH));
  const chunk = w.bytes();
  const [first, second] = readEvents(chunk);
  assert.equal(eventTooDeep(chunk, first!), `metadata nested deeper than ${MAX_NESTING_DEPTH} levels`);
  assert.equal(eventTooDeep(chunk, second!), null);
  const poison = chunkWithPoison(1, 0);
  assert.equal(eventTooDeep(poison, readEvents(poison)[0]!), `record nested deeper than ${MAX_NESTING_DEPTH} levels`);
});

const options = (format: PayloadOptions['format']): PayloadOptions => ({
  format,
  dateKey: null,
  dateFormat: 'double',
  escapeUnicode: true,
  convertNanToNull: false,
  gelf: defaultGelfOptions,
});

test('every output format leaves the over-deep record out, lists it, and encodes the rest', () => {
  const chunk = chunkWithPoison(5, 2);
  const expectedRejected: RejectedRecord[] = [{ index: 2, reason: `record nested deeper than ${MAX_NESTING_DEPTH} levels` }];
  const seqs = [0, 1, 3, 4];

  for (const format of ['json', 'json_lines', 'json_stream'] as const) {
    const { payload, rejected, isText } = encodePayload(chunk, options(format));
    assert.deepEqual(rejected, expectedRejected, format);
    assert.equal(isText, true);
    const text = payload.toString('utf8');
    const bodies = format === 'json' ? (JSON.parse(text) as unknown[]) : text.trim().split(/\n|(?<=\})(?=\{)/).map((line) => JSON.parse(line) as unknown);
    assert.deepEqual(bodies.map((body) => (body as { seq: number }).seq), seqs, format);
  }

  const gelf = encodePayload(chunk, options('gelf'));
  assert.deepEqual(gelf.rejected, expectedRejected);
  assert.deepEqual(gelf.payload.toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { _seq: number })._seq), seqs);
  assert.deepEqual(chunkToGelf(chunk).rejected, expectedRejected);

  const msgpack = encodePayload(chunk, options('msgpack'));
  assert.deepEqual(msgpack.rejected, expectedRejected);
  assert.deepEqual(decodeEvents(msgpack.payload).map((event) => (event.body as { seq: number }).seq), seqs);
  // A chunk with nothing to leave out is sent as it is, not copied.
  const clean = chunkWithPoison(3, -1);
  assert.equal(encodePayload(clean, options('msgpack')).payload, clean);

  const printed: RejectedRecord[] = [];
  const lines = printChunkBytes(chunk, 'app', printed).toString('utf8').trim().split('\n');
  assert.deepEqual(printed, expectedRejected);
  assert.equal(lines.length, 4);
  assert.match(lines[2] ?? '', /^\[2\] app: \[\[1700000003\.000000000, \{\}\], \{"seq"=>3, /);

  const collected: RejectedRecord[] = [];
  const json = chunkToJson(chunk, { format: 'json_lines', dateKey: 'date', dateFormat: 'double', escapeUnicode: true }, undefined, collected);
  assert.deepEqual(collected, expectedRejected);
  assert.equal(json.toString('utf8').trim().split('\n').length, 4);
});

test('a record exactly at the limit is encoded by every format', () => {
  const chunk = chunkWithPoison(2, 1, MAX_NESTING_DEPTH);
  for (const format of ['json', 'json_lines', 'json_stream', 'msgpack'] as const) {
    assert.deepEqual(encodePayload(chunk, options(format)).rejected, [], format);
  }
  const printed: RejectedRecord[] = [];
  printChunkBytes(chunk, 'app', printed);
  assert.deepEqual(printed, []);
  // GELF flattens the nested maps into one key; it has no short_message, so it fails for that reason only.
  assert.deepEqual(chunkToGelf(chunk).rejected, [{ index: 1, reason: 'missing short_message key' }]);
});

test('a record with many maps and arrays side by side is not too deep; deep metadata is still found', () => {
  // More containers than the limit, one level deep each: the depth walk must run and find nothing.
  const wide = jsonTextToMsgpack(`{${Array.from({ length: 200 }, (_, i) => `"k${i}":{"a":[1]}`).join(',')}}`);
  const writer = new MsgpackWriter();
  writeEvent(writer, 1700000000, 0, null, wide);
  writeEvent(writer, 1700000001, 0, nestedMaps(MAX_NESTING_DEPTH + 1), jsonTextToMsgpack('{"seq":1}'));
  const rejected: RejectedRecord[] = [];
  const json = chunkToJson(writer.bytes(), { format: 'json_lines', dateKey: null, dateFormat: 'double', escapeUnicode: true }, undefined, rejected);
  assert.deepEqual(rejected, [{ index: 1, reason: `metadata nested deeper than ${MAX_NESTING_DEPTH} levels` }]);
  const [first, rest] = json.toString('utf8').split('\n');
  assert.equal(Object.keys(JSON.parse(first ?? '') as object).length, 200);
  assert.equal(rest, '');
});
