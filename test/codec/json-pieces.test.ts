/**
 * JsonPieces: a chunk's JSON text in pieces (the websocket output's fragments). Joined, the pieces are
 * chunkToJson's text byte for byte, whatever the piece size, the format, the records left out (too deep)
 * and the group markers in the chunk; each piece is cut between records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/base/buffer-pool.js';
import { writeEvent, type RejectedRecord } from '../../src/codec/event.js';
import { chunkToJson, JsonPieces, type JsonFormat, type JsonOptions } from '../../src/codec/json.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { nestedMaps } from './support.js';

const formats: JsonFormat[] = ['json', 'json_lines', 'json_stream'];

function options(format: JsonFormat): JsonOptions {
  return { format, dateKey: 'date', dateFormat: 'double', escapeUnicode: true };
}

/** `count` records of varied sizes and text; `tooDeep` indexes nest past the limit; a group marker before `markerAt`. */
function chunkOf(count: number, tooDeep: readonly number[] = [], markerAt: readonly number[] = []): Buffer {
  const w = new MsgpackWriter();
  for (let i = 0; i < count; i++) {
    if (markerAt.includes(i)) writeEvent(w, -1, 0, jsonTextToMsgpack('{}'), jsonTextToMsgpack('{}'));
    const body = tooDeep.includes(i) ? nestedMaps(1500) : jsonTextToMsgpack(`{"seq":${i},"log":"${'é\\n\\"x'.repeat(i % 37)}","n":${i * 1.5}}`);
    writeEvent(w, 1_700_000_000 + i, i * 1000, null, body);
  }
  return w.bytes();
}

/** Every piece of `chunk`, copied (each is written over by the next). */
function allPieces(chunk: Buffer, format: JsonFormat, pieceBytes: number, rejected: RejectedRecord[] = []): Buffer[] {
  const pieces = new JsonPieces(chunk, options(format), 64, undefined, rejected);
  const out: Buffer[] = [];
  while (!pieces.done) out.push(Buffer.from(pieces.next(pieceBytes)));
  assert.equal(pieces.next(pieceBytes).length, 0, 'nothing after the last piece');
  return out;
}

test('joined, the pieces are chunkToJson\'s text, for every format and piece size', () => {
  const chunk = chunkOf(300);
  for (const format of formats) {
    const whole = chunkToJson(chunk, options(format));
    for (const pieceBytes of [1, 7, 100, 4096, 1 << 20]) {
      const pieces = allPieces(chunk, format, pieceBytes);
      assert.deepEqual(Buffer.concat(pieces), whole, `${format}, pieces of ${pieceBytes}`);
      if (pieceBytes === 1) assert.equal(pieces.length, 300, 'one record a piece: a piece is never cut inside a record');
      if (pieceBytes === 1 << 20) assert.equal(pieces.length, 1);
    }
  }
});

test('each piece holds whole records, and stops at the first record that takes it to the size', () => {
  const chunk = chunkOf(200);
  const pieces = allPieces(chunk, 'json_lines', 1000);
  for (const piece of pieces) {
    const text = piece.toString('utf8');
    assert.ok(text.endsWith('\n'));
    for (const line of text.slice(0, -1).split('\n')) JSON.parse(line);
    const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
    assert.ok(piece.length - lastLine.length < 1000, 'the piece had not reached the size before its last record');
  }
  assert.ok(pieces.slice(0, -1).every((piece) => piece.length >= 1000));
});

test('records too deep and group markers are left out as chunkToJson leaves them, with the same record indexes', () => {
  for (const [tooDeep, markers] of [[[0], []], [[5, 6, 150], [3, 100]], [[299], [299]], [[], [0]]] as const) {
    const chunk = chunkOf(300, tooDeep, markers);
    for (const format of formats) {
      const wholeRejected: RejectedRecord[] = [];
      const whole = chunkToJson(chunk, options(format), undefined, wholeRejected);
      for (const pieceBytes of [1, 333]) {
        const rejected: RejectedRecord[] = [];
        assert.deepEqual(Buffer.concat(allPieces(chunk, format, pieceBytes, rejected)), whole, `${format} ${JSON.stringify(tooDeep)}`);
        assert.deepEqual(rejected, wholeRejected);
        assert.deepEqual(rejected.map((r) => r.index), [...tooDeep]);
      }
    }
  }
});

test('a chunk whose every record is left out: json is [], the line formats are empty, in one piece', () => {
  const chunk = chunkOf(2, [0, 1]);
  assert.deepEqual(allPieces(chunk, 'json', 10).map(String), ['[]']);
  assert.deepEqual(allPieces(chunk, 'json_lines', 10).map(String), ['']);
});

test('the pieces are written in one buffer from the pool, given back once', () => {
  const pool = new BufferPool(1);
  const chunk = chunkOf(3000);
  const pieces = new JsonPieces(chunk, options('json_lines'), 70_000, pool, []);
  const buffers = new Set<ArrayBufferLike>();
  while (!pieces.done) buffers.add(pieces.next(64 * 1024).buffer);
  assert.equal(buffers.size, 1, 'every piece in the same buffer');
  pool.give(pieces.buffer);
  assert.equal(pool.idle, 1);
});

test('a malformed event after the first piece throws when its piece is made, not before', () => {
  const chunk = chunkOf(100);
  const broken = Buffer.concat([chunk, Buffer.from([0x92, 0xc1])]);
  const pieces = new JsonPieces(broken, options('json_lines'), 64, undefined, []);
  assert.ok(pieces.next(500).length >= 500);
  assert.throws(() => {
    while (!pieces.done) pieces.next(500);
  }, /malformed|WSBIT_CODEC/i);
});
