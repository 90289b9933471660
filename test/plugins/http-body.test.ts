import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../../src/base/buffer-pool.js';
import { BODY_BLOCK_BYTES, BodyCollector, PendingBudget } from '../../src/plugins/inputs/http/body.js';

const newPool = (): BufferPool => new BufferPool(16, BODY_BLOCK_BYTES);

describe('BodyCollector', () => {
  it('joins pieces of any size in order; a small body holds a few small blocks, not one Buffer per piece', () => {
    const body = new BodyCollector(newPool());
    const expected: Buffer[] = [];
    const add = (piece: Buffer): void => {
      body.add(piece);
      expected.push(piece);
    };
    for (let i = 0; i < 5000; i++) add(Buffer.from([i % 251]));
    add(Buffer.alloc(10_000, 7));
    add(Buffer.from('end'));
    assert.deepEqual(body.concat(), Buffer.concat(expected));
    assert.equal(body.bytes, 15_003);
    assert.equal(body.reservedBytes, 16 * 1024);
  });

  it('a large body borrows 64 KiB blocks from the pool and hands them back on release', () => {
    const pool = newPool();
    const body = new BodyCollector(pool);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    for (let offset = 0; offset < data.length; offset += 7000) body.add(data.subarray(offset, offset + 7000));
    assert.deepEqual(body.concat(), data);
    assert.equal(pool.idle, 0);
    body.release();
    // 16 KiB of small blocks, then pooled blocks of at least 64 KiB, every byte of them counted.
    const pooled = pool.idle;
    assert.ok(pooled >= 3 && pooled <= 5, String(pooled));
    const blockBytes = (body.reservedBytes - 16 * 1024) / pooled;
    assert.ok(Number.isInteger(blockBytes) && blockBytes >= BODY_BLOCK_BYTES, String(blockBytes));
    // The next body reuses them.
    const next = new BodyCollector(pool);
    next.add(Buffer.alloc(16 * 1024 + 2 * blockBytes));
    assert.equal(pool.idle, pooled - 2);
  });
});

describe('PendingBudget', () => {
  const owner = (): { body: BodyCollector } => ({ body: new BodyCollector(newPool()) });

  it('evicts the largest bodies until the total fits, so a small request gets through', () => {
    const budget = new PendingBudget(500_000);
    const big = [owner(), owner()];
    for (const b of big) budget.open(b);
    assert.deepEqual(budget.add(big[0]!, Buffer.alloc(100_000)), []);
    assert.deepEqual(budget.add(big[1]!, Buffer.alloc(250_000)), []);
    const held = budget.totalBytes;
    assert.equal(held, big[0]!.body.reservedBytes + big[1]!.body.reservedBytes);
    const small = owner();
    budget.open(small);
    const evicted = budget.add(small, Buffer.alloc(100_000));
    assert.equal(evicted.length, 1);
    assert.ok(evicted[0] === big[1]);
    assert.equal(budget.totalBytes, big[0]!.body.reservedBytes + small.body.reservedBytes);
    budget.close(small);
    budget.close(small);
    assert.equal(budget.totalBytes, big[0]!.body.reservedBytes);
  });

  it('evicts the request itself when it is the largest, and never limits with 0', () => {
    const budget = new PendingBudget(10_000);
    const a = owner();
    budget.open(a);
    assert.deepEqual(budget.add(a, Buffer.alloc(20_000)), [a]);
    assert.equal(budget.totalBytes, 0);
    const unlimited = new PendingBudget(0);
    const b = owner();
    unlimited.open(b);
    assert.deepEqual(unlimited.add(b, Buffer.alloc(20_000)), []);
  });
});
