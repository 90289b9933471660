import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withProcessors } from '../../src/pipeline/agent.js';
import type { RunningFilter } from '../../src/pipeline/filter-chain.js';
import type { ChunkView } from '../../src/pipeline/chunk.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import type { FilterInstance, OutputInstance } from '../../src/pipeline/contracts.js';

/** A processor on an output's path, as the agent builds one (no emitter, matches every tag). */
function processor(plugin: FilterInstance): RunningFilter {
  const logger = new LogRoot({ sink: { write: () => undefined } }).scoped('filter:test:test.0');
  return { instance: 'test.0', route: { match: '*', matchRegex: null }, plugin, telemetry: new Telemetry('test.0', logger, new MetricsRegistry()), emitterInstance: null };
}

const chunk: ChunkView = { id: 'c1', tag: 'app', inputInstance: 'dummy.0', data: Buffer.from([1, 2, 3]), records: 3 };

describe("an output's processors", () => {
  it('keep every member of the output the engine reads, such as signalsReady', () => {
    const quiet: OutputInstance = { signalsReady: true, flush: async () => 'ok' };
    const plain: OutputInstance = { flush: async () => 'ok' };
    const passThrough = processor({ filter: (events, records) => ({ events, records }) });
    assert.equal(withProcessors(quiet, [passThrough]).signalsReady, true);
    assert.equal(withProcessors(plain, [passThrough]).signalsReady, undefined);
  });

  it('hand the output what they made, leave the stored chunk alone, and count an emptied chunk delivered', async () => {
    const flushed: ChunkView[] = [];
    const output: OutputInstance = {
      flush: async (view) => {
        flushed.push(view);
        return 'retry';
      },
    };
    const dropFirst = processor({ filter: (events, records) => ({ events: events.subarray(1), records: records - 1 }) });
    assert.equal(await withProcessors(output, [dropFirst]).flush(chunk), 'retry');
    assert.deepEqual([...(flushed[0]?.data ?? [])], [2, 3]);
    assert.equal(flushed[0]?.records, 2);
    assert.deepEqual([...chunk.data], [1, 2, 3]);

    const dropAll = processor({ filter: (events) => ({ events: events.subarray(0, 0), records: 0 }) });
    assert.equal(await withProcessors(output, [dropAll]).flush(chunk), 'ok');
    assert.equal(flushed.length, 1, 'an emptied chunk is not flushed');
  });
});
