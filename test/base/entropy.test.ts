import assert from 'node:assert/strict';
import { randomBytes as opensslRandomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EntropyPool, randomBytes, randomFill } from '../../src/base/entropy.js';
import { tempDir } from '../helpers/temp.js';

/** Every byte value turns up in 64 KB of random bytes (a missing one has odds of about 2^-90000). */
function assertLooksRandom(bytes: Uint8Array): void {
  const seen = new Set(bytes);
  assert.equal(seen.size, 256, `only ${seen.size} byte values in ${bytes.length} bytes`);
}

describe('entropy', () => {
  it('hands out each byte of the device once, in order, across refills', () => {
    // A file stands in for the device, so that what the pool hands out can be checked byte for byte.
    const device = path.join(tempDir('wsbit-entropy-'), 'device');
    const content = opensslRandomBytes(1000);
    writeFileSync(device, content);
    const pool = new EntropyPool(device, 100);
    const taken: Buffer[] = [];
    let total = 0;
    for (const length of [4, 4, 16, 8, 150, 4, 1, 13, 300, 0, 400]) {
      const bytes = pool.bytes(length);
      assert.equal(bytes.length, length);
      taken.push(bytes);
      total += length;
    }
    assert.equal(pool.source, 'kernel');
    assert.deepEqual(Buffer.concat(taken), content.subarray(0, total));
    pool.close();
  });

  it('falls back to node:crypto when the device is missing', () => {
    const pool = new EntropyPool(path.join(tempDir('wsbit-entropy-'), 'no-such-device'));
    const bytes = pool.bytes(64 * 1024);
    assert.equal(pool.source, 'node:crypto');
    assertLooksRandom(bytes);
  });

  it('falls back to node:crypto when the device runs dry, never handing out its partial read', () => {
    const device = path.join(tempDir('wsbit-entropy-'), 'short');
    writeFileSync(device, Buffer.alloc(10));
    const pool = new EntropyPool(device, 4096);
    const bytes = pool.bytes(64 * 1024);
    assert.equal(pool.source, 'node:crypto');
    assertLooksRandom(bytes);
    // A pool of zeros from the file would show as 4096 zeros at the start.
    assert.notDeepEqual(bytes.subarray(0, 16), Buffer.alloc(16));
  });

  it('reads the kernel CSPRNG from /dev/urandom', () => {
    const pool = new EntropyPool();
    const first = pool.bytes(64 * 1024);
    const second = pool.bytes(64 * 1024);
    assert.equal(pool.source, 'kernel');
    assertLooksRandom(first);
    assert.notDeepEqual(first, second);
    pool.close();
    // Opens the device again after close().
    assertLooksRandom(pool.bytes(64 * 1024));
    assert.equal(pool.source, 'kernel');
    pool.close();
  });

  it('the shared pool gives distinct keys and fills views in place', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5000; i++) keys.add(randomBytes(4).toString('hex'));
    // 5000 draws of 32 bits collide with odds of about 0.3%; a pool handing out a slice twice would collide a lot.
    assert.ok(keys.size >= 4990, `${keys.size} distinct keys of 5000`);
    const whole = Buffer.alloc(64 * 1024 + 20);
    randomFill(whole.subarray(10, whole.length - 10));
    assert.deepEqual(whole.subarray(0, 10), Buffer.alloc(10));
    assert.deepEqual(whole.subarray(whole.length - 10), Buffer.alloc(10));
    assertLooksRandom(whole.subarray(10, whole.length - 10));
  });
});
