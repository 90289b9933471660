import type { PipelineDescription } from '../../src/config/pipeline.js';

/**
 * A pipeline as two front ends should agree on it: warnings (which name files and lines) left out,
 * and the `order` stamps rule filters take from a process-wide counter removed.
 */
export function comparablePipeline(pipeline: PipelineDescription): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object' || value instanceof RegExp || Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
    if (Object.getPrototypeOf(value) !== Object.prototype) return value;
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'order').map(([key, item]) => [key, strip(item)]));
  };
  return strip({ ...pipeline, warnings: [] });
}
