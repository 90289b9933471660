import assert from 'node:assert/strict';
import test from 'node:test';
import { BufferPool } from '../../src/base/buffer-pool.js';
import { LogRoot } from '../../src/base/logger.js';
import { ManualClock } from '../../src/base/clock.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import { Chunk, chunkBufferStats, chunkBytesLimit, idleChunkBuffersFor } from '../../src/pipeline/chunk.js';
import { Engine } from '../../src/pipeline/engine.js';
import { memoryStorage } from '../../src/pipeline/storage/types.js';
import { outputBufferPool } from '../../src/plugins/outputs/buffer-pools.js';
import { countingInput } from '../helpers/counting-input.js';

test('BufferPool never holds more idle buffers than its bound, however many come back', () => {
  const pool = new BufferPool(3, 1024);
  const taken = Array.from({ length: 10 }, (_, i) => pool.take(4096 + i * 1024));
  for (const buffer of taken) {
    pool.give(buffer);
    assert.ok(pool.idle <= 3, `${pool.idle} idle buffers`);
  }
  assert.equal(pool.idle, 3);
  // The three kept are the largest: each serves any request a smaller one would.
  assert.ok(pool.idleBytes >= (4096 + 7 * 1024) * 3, `${pool.idleBytes} idle bytes`);
});

test('BufferPool lets idle buffers go at once when its bound is lowered, the smaller ones first', () => {
  const pool = new BufferPool(4, 1024);
  const buffers = [8192, 2048, 16384, 4096].map((bytes) => pool.take(bytes));
  for (const buffer of buffers) pool.give(buffer);
  assert.equal(pool.idle, 4);
  pool.keep = 1;
  assert.equal(pool.keep, 1);
  assert.equal(pool.idle, 1);
  assert.equal(pool.takeIdle(1)?.buffer, buffers[2]?.buffer, 'the largest buffer stayed');
  pool.keep = 0;
  pool.give(buffers[0] as Buffer);
  assert.equal(pool.idle, 0, 'a pool bound to nothing keeps nothing');
});

test('BufferPool does not keep a buffer larger than its maxBytes: one odd request does not hold its memory', () => {
  const pool = new BufferPool(2, 1024, 100_000);
  const usual = pool.take(50_000);
  const huge = pool.take(1_000_000);
  pool.give(huge);
  assert.equal(pool.idle, 0);
  pool.give(usual);
  assert.equal(pool.idle, 1);
  assert.equal(pool.take(40_000).buffer, usual.buffer);
});

test('BufferPool lets an idle buffer too small for a request go at once when the larger one will take its place', () => {
  const pool = new BufferPool(1, 1024);
  const small = pool.take(100_000);
  pool.give(small);
  assert.equal(pool.idle, 1);
  const large = pool.take(200_000);
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(pool.idle, 0, 'the small buffer does not stay alive beside the large one');
  pool.give(large);
  assert.equal(pool.take(150_000).buffer, large.buffer);

  // With room for more, smaller idle buffers stay for smaller requests.
  const roomy = new BufferPool(2, 1024);
  roomy.give(roomy.take(100_000));
  roomy.take(200_000);
  assert.equal(roomy.idle, 1);
});

test('the idle chunk buffers kept follow the inputs Mem_Buf_Limit: no more than the limit can fill', () => {
  assert.equal(idleChunkBuffersFor([]), 1);
  assert.equal(idleChunkBuffersFor([512 * 1024]), 1);
  assert.equal(idleChunkBuffersFor([chunkBytesLimit]), 1);
  assert.equal(idleChunkBuffersFor([3 * 1024 * 1024]), 2);
  assert.equal(idleChunkBuffersFor([1024 * 1024, 1024 * 1024, 1024 * 1024]), 3);
  // 8M fills four chunks and part of a fifth; the bound stops at four, as for an input without a limit.
  assert.equal(idleChunkBuffersFor([8 * 1024 * 1024]), 4);
  assert.equal(idleChunkBuffersFor([0]), 4);
  assert.equal(idleChunkBuffersFor([1024 * 1024, 0]), 4);
  assert.equal(idleChunkBuffersFor([64 * 1024 * 1024]), 4);
});

function engineWithInputs(limits: number[]): Engine {
  const root = new LogRoot({ level: 'error', sink: { write: () => undefined } });
  const engine = new Engine(
    { flushSeconds: 1, graceSeconds: 5, schedulerBaseSeconds: 5, schedulerCapSeconds: 2000 },
    new ManualClock(1_700_000_000_000),
    root.scoped(''),
    () => 0,
  );
  limits.forEach((limit, i) => {
    engine.addInput({
      instance: `dummy.${i}`,
      memBufLimitBytes: limit,
      storage: memoryStorage,
      plugin: countingInput(),
      telemetry: new Telemetry(`dummy.${i}`, root.scoped(''), new MetricsRegistry()),
    });
  });
  return engine;
}

/** A delivered chunk of about `bytes`, so that its buffer goes back to the pool. */
function deliveredChunk(id: string, bytes: number): Chunk {
  const chunk = new Chunk(id, 'dummy.0', 'tag');
  chunk.append(Buffer.alloc(bytes, 0x90), bytes);
  chunk.seal();
  return chunk;
}

test('the engine sizes the chunk buffer pool from Mem_Buf_Limit, and the pool keeps to it', () => {
  engineWithInputs([1024 * 1024]);
  assert.equal(chunkBufferStats().keep, 1);
  const chunks = ['a', 'b', 'c'].map((id) => deliveredChunk(id, chunkBytesLimit));
  for (const chunk of chunks) chunk.recycle();
  assert.equal(chunkBufferStats().idle, 1, 'a 1M limit keeps one idle chunk buffer');

  engineWithInputs([0]);
  assert.equal(chunkBufferStats().keep, 4, 'an input without a limit');
  const more = ['d', 'e', 'f', 'g', 'h', 'i'].map((id) => deliveredChunk(id, chunkBytesLimit));
  for (const chunk of more) chunk.recycle();
  assert.equal(chunkBufferStats().idle, 4);
  assert.ok(chunkBufferStats().idleBytes <= 4 * 2 * chunkBytesLimit);

  engineWithInputs([2 * 1024 * 1024]);
  assert.equal(chunkBufferStats().keep, 2);
  assert.equal(chunkBufferStats().idle, 2, 'lowering the bound lets the extra buffers go');
});

test('a chunk grown by one huge append does not leave its buffer in the pool', () => {
  engineWithInputs([0]);
  const huge = deliveredChunk('huge', 3 * chunkBytesLimit);
  const before = chunkBufferStats().idleBytes;
  huge.recycle();
  assert.equal(chunkBufferStats().idleBytes, before);
});

test('output payload pools hold one buffer per worker', () => {
  assert.equal(outputBufferPool({}).keep, 1);
  assert.equal(outputBufferPool({ workers: 0 }).keep, 1);
  assert.equal(outputBufferPool({ workers: 3 }).keep, 3);
  const pool = outputBufferPool({ workers: 2 });
  const buffers = [1, 2, 3].map(() => pool.take(chunkBytesLimit));
  for (const buffer of buffers) pool.give(buffer);
  assert.equal(pool.idle, 2);
  pool.give(pool.take(5 * chunkBytesLimit));
  assert.ok(pool.idleBytes < 3 * chunkBytesLimit, 'a payload past four chunks is not kept');
});

test('a new buffer has an eighth to spare, or the spare the pool was given; a chunk buffer 64 KB past the chunk limit', () => {
  assert.equal(new BufferPool(1, 1024).take(80_000).length, 90_000);
  assert.equal(new BufferPool(1, 1024, Number.POSITIVE_INFINITY, 100).take(80_000).length, 80_100);
  const chunk = new Chunk('full', 'in', 'tag');
  // Fill a chunk past the limit in tcp-read-sized appends, with no idle buffer to start in.
  const read = Buffer.alloc(60_000, 1);
  while (chunk.sizeBytes < chunkBytesLimit) chunk.append(read, 1);
  assert.ok(chunk.capacityBytes <= chunkBytesLimit + 4096 + 64 * 1024, `capacity ${chunk.capacityBytes}`);
});
