import { errorMessage } from '../base/errors.js';
import type { Telemetry } from '../base/telemetry.js';
import type { ChunkView } from './chunk.js';
import type { FilterInstance } from './contracts.js';
import { routeMatches, type RouteRule } from './router.js';

export interface RunningFilter {
  instance: string;
  route: RouteRule;
  plugin: FilterInstance;
  telemetry: Telemetry;
  /** The input instance of the filter's own emitter, whose records this filter does not see again. */
  emitterInstance: string | null;
}

export interface FilteredEvents {
  events: Buffer;
  records: number;
}

/**
 * How deep records emitted by one filter's emitter may cause another emitter to emit, within one
 * ingest. Each filter skips its own emitter's records, so one rewrite_tag cannot loop; two that
 * re-tag each other's output could, and this stops them (the records stay under their last tag).
 */
const maxEmitterDepth = 8;

/**
 * Runs the filters from index `first` on that match `tag`, in order; a filter that throws passes its
 * records on unchanged. `inputInstance` is null on an output's path, where records have left their input.
 */
export function runFilters(
  filters: readonly RunningFilter[],
  first: number,
  events: FilteredEvents,
  tag: string,
  inputInstance: string | null,
): FilteredEvents {
  let current = events;
  for (let index = first; index < filters.length; index++) {
    const filter = filters[index] as RunningFilter;
    if (current.records === 0) break;
    if ((filter.emitterInstance !== null && filter.emitterInstance === inputInstance) || !routeMatches(filter.route, tag)) continue;
    try {
      current = filter.plugin.filter(current.events, current.records, tag, inputInstance ?? undefined);
    } catch (error) {
      // A filter bug must not lose records: pass them on unfiltered and say so.
      filter.telemetry.logger.error(`filter failed, records passed on unfiltered: ${errorMessage(error)}`);
    }
  }
  return current;
}

/**
 * An output's processors, run on a chunk just before that output flushes it (Fluent Bit runs them in
 * the flush path), so other outputs of the same records see them unchanged. The stored chunk is never
 * modified: a retry processes the original again. Null when the processors left no record.
 */
export function processChunk(processors: readonly RunningFilter[], chunk: ChunkView): ChunkView | null {
  if (processors.length === 0) return chunk;
  const processed = runFilters(processors, 0, { events: chunk.data, records: chunk.records }, chunk.tag, null);
  if (processed.events === chunk.data) return chunk;
  if (processed.records === 0) return null;
  return { id: chunk.id, tag: chunk.tag, inputInstance: chunk.inputInstance, data: processed.events, records: processed.records };
}

/**
 * The shared [FILTER]s and the paths records take through them: an input's processors, then the
 * shared filters. Records a filter's emitter re-injects come back in here, nested; the depth is bounded.
 */
export class FilterChain {
  readonly shared: RunningFilter[] = [];
  /** Emitters currently emitting, nested: see maxEmitterDepth. */
  private emitterDepth = 0;

  /**
   * Runs records along an input's path from position `first`: through `processors` (the input's own,
   * or null for records already on the shared route), then the shared filters.
   */
  runPath(processors: readonly RunningFilter[] | null, first: number, inputInstance: string, tag: string, events: FilteredEvents): FilteredEvents {
    let current = events;
    if (processors !== null) current = runFilters(processors, first, current, tag, inputInstance);
    return runFilters(this.shared, processors === null ? first : 0, current, tag, inputInstance);
  }

  /** Whether an emitter may emit now without nesting too deep. */
  mayReenter(): boolean {
    return this.emitterDepth < maxEmitterDepth;
  }

  /** Runs an emitter's re-injection, one level deeper. */
  reenter(emit: () => void): void {
    this.emitterDepth++;
    try {
      emit();
    } finally {
      this.emitterDepth--;
    }
  }

  /**
   * Filters that hold records back hand them over now that no input sends more: an input's processors
   * first, since what they release still passes the shared filters.
   */
  stop(inputProcessors: readonly RunningFilter[]): void {
    for (const filter of [...inputProcessors, ...this.shared]) {
      try {
        filter.plugin.stop?.();
      } catch (error) {
        filter.telemetry.logger.error(`error while stopping: ${errorMessage(error)}`);
      }
    }
  }
}
