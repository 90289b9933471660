import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/pipeline/engine.js';
import { ManualClock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import { memoryStorage, type ChunkStorage } from '../../src/pipeline/storage/types.js';
import type { Chunk, ChunkView } from '../../src/pipeline/chunk.js';
import { countingInput } from '../helpers/counting-input.js';
import { HealthCheck } from '../../src/monitoring/health.js';
import { MonitoringServer } from '../../src/monitoring/server.js';

/** A filesystem-kind storage whose writes fail with ENOSPC while `full` is set; it keeps what it took. */
class FlakyDisk implements ChunkStorage {
  readonly kind = 'filesystem';
  readonly countsAgainstMemoryLimit = false;
  full = false;
  /** Records written, by chunk id. */
  readonly written = new Map<string, Buffer[]>();

  append(chunk: Chunk, data: Buffer): void {
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const frames = this.written.get(chunk.id) ?? [];
    frames.push(Buffer.from(data));
    this.written.set(chunk.id, frames);
  }
  seal(): void {}
  read(chunk: Chunk): Buffer {
    return Buffer.concat(this.written.get(chunk.id) ?? []);
  }
  release(chunk: Chunk): void {
    this.written.delete(chunk.id);
  }
  probe(): void {
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }
}

function harness() {
  const clock = new ManualClock(1_700_000_000_000);
  const logLines: string[] = [];
  const root = new LogRoot({ level: 'debug', sink: { write: (line) => logLines.push(line) } });
  const metrics = new MetricsRegistry();
  const disk = new FlakyDisk();
  const engine = new Engine(
    {
      flushSeconds: 1,
      graceSeconds: 5,
      schedulerBaseSeconds: 5,
      schedulerCapSeconds: 2000,
      diskProbeSeconds: 2,
      diskProbe: () => disk.probe(),
      storageTelemetry: new Telemetry('storage', root.scoped('storage'), metrics),
    },
    clock,
    root.scoped(''),
    () => 0,
  );
  const onDisk = countingInput();
  const inMemory = countingInput();
  engine.addInput({ instance: 'forward.0', memBufLimitBytes: 0, storage: disk, plugin: onDisk, telemetry: new Telemetry('forward.0', root.scoped('input'), metrics) });
  engine.addInput({ instance: 'dummy.0', memBufLimitBytes: 0, storage: memoryStorage, plugin: inMemory, telemetry: new Telemetry('dummy.0', root.scoped('input'), metrics) });
  const received: ChunkView[] = [];
  let outputUp = false;
  engine.addOutput({
    instance: 'out.0',
    route: { match: '*', matchRegex: null },
    retryLimit: { kind: 'unlimited' },
    concurrency: 1,
    plugin: {
      flush: async (chunk) => {
        if (!outputUp) return 'retry';
        received.push({ ...chunk, data: Buffer.from(chunk.data) });
        return 'ok';
      },
    },
    telemetry: new Telemetry('out.0', root.scoped('output'), metrics),
  });
  return { engine, clock, logLines, metrics, disk, onDisk, inMemory, received, setOutputUp: (up: boolean) => (outputUp = up) };
}

const record = (n: number) => Buffer.from(`r${n};`);

test('a failed chunk write pauses filesystem inputs, refuses what acknowledging inputs offer, and ends with the first probe that succeeds', async () => {
  const h = harness();
  h.engine.start();
  let stored = 0;
  let notStored = 0;
  let refused = 0;
  let next = 0;
  const offer = (acknowledging: boolean): void => {
    if (acknowledging && !h.engine.admit('forward.0', 1)) {
      refused++;
      return;
    }
    if (h.engine.append('forward.0', 't', record(next++), 1)) stored++;
    else notStored++;
  };
  for (let i = 0; i < 5; i++) offer(true);
  h.disk.full = true;
  offer(true); // this write fails: kept in memory only, not to be acknowledged
  for (let i = 0; i < 4; i++) offer(true); // refused before emitting
  offer(false); // an input without acks (tcp) still hands over what it already read
  assert.deepEqual({ stored, notStored, refused }, { stored: 5, notStored: 2, refused: 4 });
  assert.equal(h.onDisk.pauses, 1);
  assert.equal(h.inMemory.pauses, 0, 'a memory input does not depend on the disk');
  assert.equal(h.engine.admit('dummy.0', 1), true);
  assert.equal(h.metrics.get('fluentbit_storage_writes_failing', 'storage'), 1);
  assert.equal(h.metrics.get('fluentbit_storage_refused_records_total', 'forward.0'), 4);
  assert.equal(h.engine.storageReport().disk?.writable, false);
  assert.match(h.engine.storageReport().disk?.reason ?? '', /ENOSPC/);

  // Probes while the disk is still full change nothing and log nothing new.
  await h.clock.advance(6000);
  assert.equal(h.onDisk.resumes, 0);
  const errors = h.logLines.filter((line) => /\[storage\] cannot write chunk/.test(line));
  assert.equal(errors.length, 1, 'one error line on entering the state');

  h.disk.full = false;
  await h.clock.advance(2000);
  assert.equal(h.onDisk.resumes, 1);
  assert.equal(h.metrics.get('fluentbit_storage_writes_failing', 'storage'), 0);
  const back = h.logLines.filter((line) => /disk writable again after/.test(line));
  assert.equal(back.length, 1);
  // 4 refused + 2 kept in memory only, none of them acknowledged.
  assert.match(back[0] ?? '', /disk writable again after 8 s; 6 records held back by the inputs/);
  for (let i = 0; i < 3; i++) offer(true);
  assert.deepEqual({ stored, notStored, refused }, { stored: 8, notStored: 2, refused: 4 });

  // Everything the engine took is delivered: the stored records and the two kept in memory.
  h.setOutputUp(true);
  h.engine.promoteRetries('out.0');
  await h.clock.advance(60_000);
  const delivered = h.received.map((chunk) => chunk.data.toString()).join('');
  const taken = Array.from({ length: next }, (_, n) => `r${n};`).join('');
  assert.equal(delivered, taken);
  assert.equal(h.disk.written.size, 0, 'delivered chunks leave the disk');
  await h.engine.stop();
});

test('a chunk whose file missed a write takes no more writes, so its file stays a clean prefix of acknowledged records', async () => {
  const h = harness();
  h.engine.start();
  assert.equal(h.engine.append('forward.0', 't', record(0), 1), true);
  h.disk.full = true;
  assert.equal(h.engine.append('forward.0', 't', record(1), 1), false);
  h.disk.full = false;
  await h.clock.advance(2000); // the probe succeeds
  assert.equal(h.engine.append('forward.0', 't', record(2), 1), true);
  const files = [...h.disk.written.values()].map((frames) => Buffer.concat(frames).toString());
  assert.deepEqual(files.sort(), ['r0;', 'r2;'], 'r1 was never acknowledged and is in no file; r2 went to a new chunk');
  h.setOutputUp(true);
  h.engine.promoteRetries('out.0');
  await h.clock.advance(60_000);
  assert.equal(h.received.map((chunk) => chunk.data.toString()).join(''), 'r0;r1;r2;');
  await h.engine.stop();
});

test('/api/v1/health is unhealthy and /api/v1/storage shows the failing disk while chunk writes fail, and both recover with the disk', async (t) => {
  const h = harness();
  h.engine.start();
  const health = new HealthCheck(h.metrics, { errorsCount: 5, retryFailureCount: 5, periodSeconds: 60 });
  const monitoring = new MonitoringServer({ version: 'test', startedAtMs: Date.now(), metrics: () => h.metrics, storage: () => h.engine.storageReport(), health, reload: null });
  const root = new LogRoot({ level: 'error', sink: { write: () => undefined } });
  const port = await monitoring.listen('127.0.0.1', 0, root.scoped('http_server'));
  t.after(() => monitoring.close());
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, text: await response.text() };
  };
  type Disk = { writable: boolean; reason: string | null; failing_since: string | null; held_back_records: number };
  const disk = async (): Promise<Disk> => (JSON.parse((await get('/api/v1/storage')).text) as { storage_layer: { disk: Disk } }).storage_layer.disk;

  assert.equal((await get('/api/v1/health')).status, 200);
  assert.equal((await disk()).writable, true);
  h.disk.full = true;
  assert.equal(h.engine.append('forward.0', 't', record(0), 1), false);
  assert.equal(h.engine.admit('forward.0', 3), false);
  assert.equal((await get('/api/v1/health')).status, 500);
  const failing = await disk();
  assert.equal(failing.writable, false);
  assert.match(failing.reason ?? '', /ENOSPC/);
  assert.equal(failing.held_back_records, 4);
  assert.match((await get('/api/v1/metrics/prometheus')).text, /fluentbit_storage_writes_failing\{name="storage"\} 1/);

  h.disk.full = false;
  await h.clock.advance(2000);
  assert.equal((await get('/api/v1/health')).status, 200);
  assert.deepEqual(await disk(), { writable: true, reason: null, failing_since: null, held_back_records: 0 });
  // The held chunk is delivered, so the engine stops at once (its Grace runs on the manual clock).
  h.setOutputUp(true);
  h.engine.promoteRetries('out.0');
  await h.clock.advance(60_000);
  await h.engine.stop();
});
