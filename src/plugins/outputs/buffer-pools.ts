import { BufferPool } from '../../base/buffer-pool.js';
import { chunkBytesLimit } from '../../pipeline/chunk.js';

/**
 * Payload (or frame) buffers an output reuses chunk after chunk. One per chunk it may flush at once
 * (`workers`; 0 and 1 flush one at a time), since a flush gives its buffer back before the next one
 * takes it. A buffer grown past four times the chunk limit (a chunk of tiny records, or of text
 * escaped to \uXXXX) serves that chunk only, so one odd chunk does not keep its memory.
 */
export function outputBufferPool(config: unknown): BufferPool {
  // `workers` is a shared output key, resolved beside the plugin's own (outside its schema's type).
  const workers = Number((config as Record<string, unknown>)['workers'] ?? 0);
  return new BufferPool(Math.max(1, workers), undefined, 4 * chunkBytesLimit);
}
