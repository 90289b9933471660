import type { Chunk } from './chunk.js';
import type { ChunkTracking } from './engine-state.js';
import type { DiskStateReport } from './disk-watch.js';

/** Counts for `/api/v1/storage`. */
export interface StorageReport {
  chunks: number;
  memChunks: number;
  fsChunks: number;
  fsChunksUp: number;
  fsChunksDown: number;
  /** Whether chunk writes succeed (the engine adds it; DiskWatch). */
  disk?: DiskStateReport;
}

/** Every chunk the engine holds, open or sealed, until each output it was routed to is done with it. */
export class HeldChunks extends Map<Chunk, ChunkTracking> {
  private idleWaiters: Array<() => void> = [];

  /** Chunks and bytes still held, for tests and the storage metrics. */
  totals(): { chunks: number; bytes: number } {
    let bytes = 0;
    for (const chunk of this.keys()) bytes += chunk.sizeBytes;
    return { chunks: this.size, bytes };
  }

  storageReport(): StorageReport {
    let memChunks = 0;
    let fsChunks = 0;
    let fsChunksUp = 0;
    for (const [chunk, track] of this) {
      if (track.input.storage.kind === 'memory') memChunks++;
      else {
        fsChunks++;
        if (chunk.inMemory) fsChunksUp++;
      }
    }
    return { chunks: this.size, memChunks, fsChunks, fsChunksUp, fsChunksDown: fsChunks - fsChunksUp };
  }

  /** Chunks whose bytes are in memory right now (open ones included), for storage.max_chunks_up checks. */
  inMemory(): number {
    let count = 0;
    for (const chunk of this.keys()) if (chunk.inMemory) count++;
    return count;
  }

  /** Resolves when no chunk is held any more. */
  whenIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Wakes whenIdle() callers if nothing is held any more. */
  settleIdle(): void {
    if (this.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
