/**
 * Request bodies of the http input while they stream in, and the budget they share.
 *
 * Node hands over a body one `data` Buffer per read or per chunk: kept as they come, 1-byte chunks
 * would cost some 300 bytes of bookkeeping per byte, and the Buffers of a body refused after a while
 * would be dead memory that V8 lets pile up to 64 MB before it frees any (see buffer-pool.ts). So each
 * piece is copied at once into blocks lent by a pool and handed back when the request is over, and a
 * body is counted by the blocks it holds, not by the bytes it has delivered.
 */
import type { BufferPool } from '../../../base/buffer-pool.js';


/** Bodies start in small private blocks up to this much, then continue in pooled blocks. */
const FIRST_BLOCKS_MAX_BYTES = 16 * 1024;
const MIN_FIRST_BLOCK_BYTES = 1024;
/** The smallest size of a pooled block. */
export const BODY_BLOCK_BYTES = 64 * 1024;

export class BodyCollector {
  private readonly blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private lastUsed = 0;
  /** Bytes of body received. */
  bytes = 0;
  /** Memory held for them: the capacity of every block. */
  reservedBytes = 0;

  /** `pool` lends the 64 KiB blocks; they go back with release(). */
  constructor(private readonly pool: BufferPool) {}

  add(data: Buffer): void {
    this.bytes += data.length;
    let offset = 0;
    while (offset < data.length) {
      let last = this.blocks[this.blocks.length - 1];
      if (last === undefined || this.lastUsed === last.length) {
        last = this.newBlock(data.length - offset);
        this.blocks.push(last);
        this.lastUsed = 0;
      }
      const copied = data.copy(last, this.lastUsed, offset);
      this.lastUsed += copied;
      offset += copied;
    }
  }

  /** The whole body in one new buffer. */
  concat(): Buffer {
    const last = this.blocks.length - 1;
    return Buffer.concat(this.blocks.map((block, index) => (index === last ? block.subarray(0, this.lastUsed) : block)), this.bytes);
  }

  /** Hands the blocks back to the pool; nothing is added afterwards. */
  release(): void {
    for (const block of this.blocks) this.pool.give(block);
    this.blocks.length = 0;
    this.lastUsed = 0;
  }

  private newBlock(wanted: number): Buffer {
    const held = this.reservedBytes;
    if (held < FIRST_BLOCKS_MAX_BYTES) {
      // Small bodies (most requests) grow through private blocks of 1, 1, 2, 4, 8 KiB, so that a
      // 200-byte request does not reserve 64 KiB; larger ones then borrow pooled blocks.
      const capacity = Math.min(FIRST_BLOCKS_MAX_BYTES - held, Math.max(MIN_FIRST_BLOCK_BYTES, held, wanted));
      this.reservedBytes += capacity;
      return Buffer.allocUnsafeSlow(capacity);
    }
    // The pool's buffers come with some room to spare: use all of it, and count all of it.
    const block = this.pool.take(BODY_BLOCK_BYTES);
    this.reservedBytes += block.length;
    return block;
  }
}

/**
 * What all bodies in flight may hold together (`buffer_total_limit`). When a piece would take the total
 * beyond it, the body holding the most gives way (503), again until the total fits: a client uploading
 * megabytes, or stalling after it did, loses its place before a small request does, so small requests
 * are still served while large stalled bodies fill the budget.
 */
export class PendingBudget<Owner extends { body: BodyCollector }> {
  private readonly owners = new Set<Owner>();
  totalBytes = 0;

  constructor(private readonly limitBytes: number) {}

  get size(): number {
    return this.owners.size;
  }

  open(owner: Owner): void {
    this.owners.add(owner);
  }

  /** Forgets `owner` and releases what its body reserved. */
  close(owner: Owner): void {
    if (!this.owners.delete(owner)) return;
    this.totalBytes -= owner.body.reservedBytes;
  }

  /**
   * Adds `data` to `owner`'s body, then returns the owners that must give way, largest first, until the
   * total fits; `owner` itself may be among them (then its data was released with it).
   */
  add(owner: Owner, data: Buffer): Owner[] {
    const before = owner.body.reservedBytes;
    owner.body.add(data);
    this.totalBytes += owner.body.reservedBytes - before;
    const evicted: Owner[] = [];
    while (this.limitBytes > 0 && this.totalBytes > this.limitBytes && this.owners.size > 0) {
      let largest: Owner | null = null;
      for (const candidate of this.owners) if (largest === null || candidate.body.reservedBytes > largest.body.reservedBytes) largest = candidate;
      if (largest === null) break;
      this.close(largest);
      evicted.push(largest);
      if (largest === owner) break;
    }
    return evicted;
  }
}
