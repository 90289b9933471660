import type { PipelinePlan } from '../../src/pipeline/description.js';
import { upstreamFromSections, type UpstreamSource } from '../../src/upstream/config.js';

const isUpstreamSource = (value: unknown): value is UpstreamSource => typeof value === 'object' && value !== null && 'sections' in value && 'from' in value;

/**
 * A pipeline as two front ends should agree on it: warnings (which name files and lines) left out,
 * parsers by their names,
 * the `order` stamps rule filters take from a process-wide counter removed, and an output's resolved
 * upstream compared by what it means (its name and nodes), not by where it was written (a file, or
 * YAML's upstream_servers).
 */
export function comparablePipeline(pipeline: PipelinePlan): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object' || value instanceof RegExp || Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
    if (Object.getPrototypeOf(value) !== Object.prototype) return value;
    // The `upstream` key as written (a path, or a name) is compared through the nodes it resolved to.
    let record = value as Record<string, unknown>;
    if (isUpstreamSource(record['upstream']) && typeof record['config'] === 'object' && record['config'] !== null) {
      record = { ...record, config: { ...(record['config'] as Record<string, unknown>), upstream: 'resolved' } };
    }
    return Object.fromEntries(
      Object.entries(record)
        .filter(([key]) => key !== 'order')
        .map(([key, item]) => [key, key === 'upstream' && isUpstreamSource(item) ? upstreamFromSections(item.sections, 1) : strip(item)]),
    );
  };
  // Parsers are compared by name: a parser is code, and two loads make two of each.
  return strip({ ...pipeline, parsers: { parsers: pipeline.parsers.names(), multiline: pipeline.parsers.multilineNames() }, warnings: [] });
}
