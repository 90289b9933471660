import { defineOutput } from '../../pipeline/contracts.js';

/** Fluent Bit's `null` output: accepts and discards every chunk (for benchmarks and tests). */
export const nullOutput = defineOutput({
  kind: 'output',
  name: 'null',
  description: 'Throws away events',
  schema: [],
  create() {
    return { flush: async () => 'ok' };
  },
});
