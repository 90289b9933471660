import type { Chunk } from './chunk.js';

/**
 * Where chunk bytes live. The engine keeps every chunk object; a storage backend decides what else
 * happens to the bytes (nothing, for memory; a file per chunk, for filesystem).
 */
export interface ChunkStorage {
  readonly kind: 'memory' | 'filesystem';
  /** Bytes of this input's chunks that count against `Mem_Buf_Limit`. */
  countsAgainstMemoryLimit: boolean;
  append(chunk: Chunk, data: Buffer): void;
  seal(chunk: Chunk): void;
  release(chunk: Chunk): void;
}

export const memoryStorage: ChunkStorage = {
  kind: 'memory',
  countsAgainstMemoryLimit: true,
  append: () => undefined,
  seal: () => undefined,
  release: () => undefined,
};
