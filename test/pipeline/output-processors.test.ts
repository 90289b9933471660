import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../../src/pipeline/engine.js';
import type { RunningFilter } from '../../src/pipeline/filter-chain.js';
import type { ChunkView } from '../../src/pipeline/chunk.js';
import { ManualClock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import { memoryStorage } from '../../src/pipeline/storage/types.js';
import type { FilterInstance, FlushResult, OutputInstance } from '../../src/pipeline/contracts.js';
import { launchAgent } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { wsClient, closeAllClients } from '../plugins/websocket-server-support.js';

/** A processor on an output's path, as the agent builds one (no emitter, matches every tag). */
function processor(plugin: FilterInstance): RunningFilter {
  const logger = new LogRoot({ sink: { write: () => undefined } }).scoped('filter:test:test.0');
  return { instance: 'test.0', route: { match: '*', matchRegex: null }, plugin, telemetry: new Telemetry('test.0', logger, new MetricsRegistry()), emitterInstance: null };
}

/** An engine with one input and one output whose processors are `processors`; `answers` are the output's flush results. */
function engineWith(processors: RunningFilter[], answers: FlushResult[], signalsReady?: boolean) {
  const clock = new ManualClock(1_700_000_000_000);
  const logLines: string[] = [];
  const root = new LogRoot({ level: 'debug', sink: { write: (line) => logLines.push(line) } });
  const metrics = new MetricsRegistry();
  const engine = new Engine({ flushSeconds: 1, graceSeconds: 5, schedulerBaseSeconds: 5, schedulerCapSeconds: 2000 }, clock, root.scoped(''), () => 0);
  const idle = { start: async () => undefined, stop: async () => undefined, pause: () => undefined, resume: () => undefined };
  engine.addInput({ instance: 'dummy.0', memBufLimitBytes: 0, storage: memoryStorage, plugin: idle, telemetry: new Telemetry('dummy.0', root.scoped('input'), metrics) });
  const flushed: ChunkView[] = [];
  const plugin: OutputInstance = {
    ...(signalsReady === undefined ? {} : { signalsReady }),
    flush: async (view) => {
      flushed.push({ ...view, data: Buffer.from(view.data) });
      return answers.shift() ?? 'ok';
    },
  };
  engine.addOutput({
    instance: 'out.0',
    route: { match: '*', matchRegex: null },
    retryLimit: { kind: 'unlimited' },
    concurrency: 1,
    plugin,
    processors,
    telemetry: new Telemetry('out.0', root.scoped('output'), metrics),
  });
  engine.append('dummy.0', 'app', Buffer.from([1, 2, 3]), 3);
  engine.flushOpenChunks();
  return { engine, clock, metrics, flushed, logLines };
}

const passThrough = () => processor({ filter: (events, records) => ({ events, records }) });
const dropFirst = () => processor({ filter: (events, records) => ({ events: events.subarray(1), records: records - 1 }) });
const dropAll = () => processor({ filter: (events) => ({ events: events.subarray(0, 0), records: 0 }) });

describe("an output's processors, run in the engine's flush task", () => {
  it('leave the output the engine holds as it is: its signalsReady still quiets the retries of an outage', async () => {
    const { clock, logLines } = engineWith([passThrough()], ['retry', 'retry'], true);
    await clock.advance(0);
    await clock.advance(6000);
    assert.ok(logLines.some((line) => line.includes('[debug] [engine] failed to flush chunk') && line.includes('retry when the output is back')), logLines.join(''));
    assert.ok(!logLines.some((line) => line.includes('[ warn] [engine] failed to flush chunk')), logLines.join(''));
  });

  it('hand the output what they made; a retry processes the stored chunk again, which they never modify', async () => {
    const { engine, clock, metrics, flushed } = engineWith([dropFirst()], ['retry']);
    await clock.advance(0);
    assert.deepEqual([...(flushed[0]?.data ?? [])], [2, 3]);
    assert.equal(flushed[0]?.records, 2);
    await clock.advance(6000);
    assert.equal(flushed.length, 2);
    assert.deepEqual([...(flushed[1]?.data ?? [])], [2, 3], 'the retry started again from the original three records');
    assert.equal(engine.bufferedChunks().chunks, 0);
    assert.equal(metrics.get('fluentbit_output_proc_records_total', 'out.0'), 3);
  });

  it('count a chunk they empty as delivered, without flushing it', async () => {
    const { engine, clock, metrics, flushed } = engineWith([dropAll()], []);
    await clock.advance(0);
    assert.equal(flushed.length, 0, 'an emptied chunk is not flushed');
    assert.equal(engine.bufferedChunks().chunks, 0);
    assert.equal(metrics.get('fluentbit_output_proc_records_total', 'out.0'), 3);
  });
});

describe('a websocket_server output with processors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-output-processors-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps its own members: the object the agent holds reports its port and clients, who get the processed records', async () => {
    const file = path.join(dir, 'websocket-server.yaml');
    fs.writeFileSync(
      file,
      [
        'pipeline:',
        '  outputs:',
        '    - name: websocket_server',
        '      match: "*"',
        '      host: 127.0.0.1',
        '      port: 0',
        '      processors:',
        '        logs:',
        '          - name: record_modifier',
        '            record: processed yes',
      ].join('\n') + '\n',
    );
    const running = await launchAgent(['-c', file, '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app', '-f', '0.2']);
    try {
      const held = running.agent.output('websocket_server.0') as (OutputInstance & { listeningPort?(): number | null; clientCount?(): number }) | undefined;
      assert.equal(typeof held?.listeningPort, 'function', 'listeningPort is a member of the object the agent holds');
      assert.equal(typeof held?.clientCount, 'function', 'clientCount is a member of the object the agent holds');
      const port = held?.listeningPort?.() ?? null;
      assert.ok(port !== null && port > 0, `reported port ${String(port)}`);
      const client = await wsClient(`ws://127.0.0.1:${port}/`);
      await waitFor(() => held?.clientCount?.() === 1, 'the client to be registered');
      const socket = net.connect(running.tcpPort(), '127.0.0.1', () => socket.end('{"log":"hello"}\n'));
      await client.waitForFrames(1);
      const record = JSON.parse(client.frames[0]?.data.toString() ?? 'null') as unknown;
      assert.deepEqual(record, ['app', { log: 'hello', processed: 'yes' }], client.frames[0]?.data.toString());
    } finally {
      closeAllClients();
      await running.stop();
    }
  });
});
