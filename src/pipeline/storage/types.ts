import type { Chunk } from '../chunk.js';

/**
 * Where chunk bytes live besides the engine's memory: nowhere (memory storage), or a file per
 * chunk that survives a crash (filesystem storage). The engine tells the backend about every
 * chunk's life; the backend never decides when a chunk is done.
 */
export interface ChunkStorage {
  readonly kind: 'memory' | 'filesystem';
  /** Memory chunks count against `Mem_Buf_Limit`; filesystem chunks do not (Fluent Bit). */
  readonly countsAgainstMemoryLimit: boolean;
  /** Records appended to a chunk; must be durable (per `storage.sync`) when this returns. */
  append(chunk: Chunk, data: Buffer): void;
  /** No more appends will come. */
  seal(chunk: Chunk): void;
  /** Reads a sealed chunk's events back after its memory was released (filesystem only). */
  read(chunk: Chunk): Buffer;
  /** Every output is done with the chunk. */
  release(chunk: Chunk): void;
}

export const memoryStorage: ChunkStorage = {
  kind: 'memory',
  countsAgainstMemoryLimit: true,
  append: () => undefined,
  seal: () => undefined,
  read: (chunk) => chunk.data,
  release: () => undefined,
};
