import { defineOutput } from '../../pipeline/contracts.js';
import { nullManifest } from './null/schema.js';

/** Fluent Bit's `null` output: accepts and discards every chunk (for benchmarks and tests). */
export const nullOutput = defineOutput({
  ...nullManifest,
  create() {
    return { flush: async () => 'ok' };
  },
});
