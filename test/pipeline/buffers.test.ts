import assert from 'node:assert/strict';
import test from 'node:test';
import { BufferPool } from '../../src/base/buffer-pool.js';
import { Chunk, chunkBytesLimit } from '../../src/pipeline/chunk.js';
import { chunkToJson } from '../../src/codec/json.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { writeEventHeader } from '../../src/codec/event.js';
import { encodeFrame, Opcode } from '../../src/websocket/frame.js';

test('BufferPool hands back what it was given, and ignores bytes it did not hand out', () => {
  const pool = new BufferPool(2, 1024);
  const first = pool.take(4096);
  assert.ok(first.length >= 4096);
  pool.give(first.subarray(0, 10)); // a view of a pooled buffer returns the whole buffer
  assert.equal(pool.idle, 1);
  const again = pool.take(2048);
  assert.equal(again.buffer, first.buffer, 'the pooled buffer serves a smaller request');
  assert.equal(pool.idle, 0);

  pool.give(Buffer.alloc(8192)); // not from this pool, e.g. a chunk's bytes
  assert.equal(pool.idle, 0);
  const small = pool.take(100); // below minBytes: never pooled
  pool.give(small);
  assert.equal(pool.idle, 0);
});

test('BufferPool keeps at most `keep` buffers, preferring the larger ones, and never one twice', () => {
  const pool = new BufferPool(1, 1024);
  const a = pool.take(2000);
  const b = pool.take(50_000);
  pool.give(a);
  pool.give(a);
  assert.equal(pool.idle, 1);
  pool.give(b);
  assert.equal(pool.idle, 1);
  assert.equal(pool.take(40_000).buffer, b.buffer, 'the larger buffer was kept');
});

function events(count: number, text: string): Buffer {
  const writer = new MsgpackWriter(1024);
  for (let i = 0; i < count; i++) {
    writeEventHeader(writer, 1_700_000_000 + i, 0, null);
    writer.mapHeader(1);
    writer.str('msg');
    writer.str(text);
  }
  return writer.bytes();
}

test('a chunk copies what is appended, so an input may reuse its buffer at once', () => {
  const chunk = new Chunk('c1', 'dummy.0', 'tag');
  const scratch = events(2, 'first');
  const expected = Buffer.from(scratch);
  chunk.append(scratch, 2);
  scratch.fill(0xc1); // the input reuses its writer
  const more = events(3, 'second');
  chunk.append(more, 3);
  assert.deepEqual(chunk.data, Buffer.concat([expected, more]));
  assert.equal(chunk.records, 5);
  assert.equal(chunk.sizeBytes, expected.length + more.length);
});

test('a chunk grows past its first buffer up to the chunk limit without losing bytes', () => {
  const chunk = new Chunk('c2', 'tcp.0', 'tag');
  const piece = events(100, 'x'.repeat(200));
  const parts: Buffer[] = [];
  while (chunk.sizeBytes < chunkBytesLimit) {
    chunk.append(piece, 100);
    parts.push(piece);
  }
  assert.deepEqual(chunk.data, Buffer.concat(parts));
});

test('a recycled chunk no longer has its bytes, and a new chunk reuses its buffer', () => {
  const big = events(3000, 'y'.repeat(600));
  const first = new Chunk('c3', 'tcp.0', 'tag');
  first.append(big, 3000);
  const memory = first.data.buffer;
  first.recycle();
  assert.equal(first.inMemory, false);
  assert.throws(() => first.data, /not in memory/);
  const second = new Chunk('c4', 'tcp.0', 'tag');
  second.append(big, 3000);
  assert.equal(second.data.buffer, memory, 'the buffer was reused');
  assert.deepEqual(second.data, big);
});

test('a new chunk starts in an idle delivered buffer, and a small one does not keep it', () => {
  const big = events(3000, 'y'.repeat(600));
  const first = new Chunk('c5', 'tcp.0', 'tag');
  first.append(big, 3000);
  const memory = first.data.buffer;
  first.recycle();
  // A small first append lands in the idle big buffer, which then takes the rest without growing.
  const small = events(1, 's');
  const second = new Chunk('c6', 'tcp.0', 'tag');
  second.append(small, 1);
  assert.ok(second.capacityBytes >= big.length + small.length, `capacity ${second.capacityBytes} after the first append`);
  second.append(big, 3000);
  assert.equal(second.data.buffer, memory, 'no new buffer for the growing chunk');
  assert.deepEqual(second.data, Buffer.concat([small, big]));
  second.recycle();
  // A chunk sealed mostly empty is copied out and its big buffer goes back to the pool.
  const third = new Chunk('c7', 'tcp.0', 'tag');
  third.append(small, 1);
  assert.notEqual(third.data.buffer, memory);
  assert.deepEqual(third.data, small);
  const fourth = new Chunk('c8', 'tcp.0', 'tag');
  fourth.append(small, 1);
  fourth.append(big, 3000);
  assert.equal(fourth.data.buffer, memory, 'the small chunk gave the buffer back');
  third.recycle();
  fourth.recycle();
});

test('JSON encoded into pooled buffers is byte-identical, and masked frames too', () => {
  const chunk = events(500, 'z'.repeat(300));
  const options = { format: 'json_lines' as const, dateKey: 'date', dateFormat: 'double' as const, escapeUnicode: true };
  const pool = new BufferPool(2, 1024);
  const plain = chunkToJson(chunk, options);
  const pooled = chunkToJson(chunk, options, pool);
  assert.deepEqual(pooled, plain);
  pool.give(pooled);
  // Encoding again reuses the buffer that was given back, and still gives the same bytes.
  const again = chunkToJson(chunk, options, pool);
  assert.equal(again.buffer, pooled.buffer);
  assert.deepEqual(again, plain);

  const maskKey = Uint8Array.of(1, 2, 3, 4);
  const frames = new BufferPool(1, 1024);
  const framed = encodeFrame(Opcode.Text, plain, { mask: true, maskKey, pool: frames });
  assert.deepEqual(framed, encodeFrame(Opcode.Text, plain, { mask: true, maskKey }));
  assert.equal(framed.length, plain.length + 14);
});
