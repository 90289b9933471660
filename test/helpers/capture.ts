import type { ChunkView } from '../../src/pipeline/chunk.js';
import { defineOutput, type FlushResult } from '../../src/pipeline/contracts.js';

/**
 * A test-only output that keeps every chunk it is given. `respond` decides each flush's answer, so
 * engine tests can script retries and errors; `store` is shared by all instances created from it.
 */
export function captureOutput(store: { chunks: ChunkView[]; respond?: (chunk: ChunkView) => FlushResult }) {
  return defineOutput({
    kind: 'output',
    name: 'capture',
    description: 'Keeps chunks in memory (tests only)',
    schema: [],
    create() {
      return {
        async flush(chunk) {
          const answer = store.respond?.(chunk) ?? 'ok';
          if (answer === 'ok') store.chunks.push({ ...chunk, data: Buffer.from(chunk.data) });
          return answer;
        },
      };
    },
  });
}
