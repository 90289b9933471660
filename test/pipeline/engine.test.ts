import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/pipeline/engine.js';
import type { RetryLimit } from '../../src/config/common-keys.js';
import { ManualClock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import { memoryStorage } from '../../src/pipeline/storage/types.js';
import { chunkBytesLimit, type ChunkView } from '../../src/pipeline/chunk.js';
import type { FlushResult, InputInstance, OutputInstance } from '../../src/pipeline/contracts.js';
import { countingInput } from '../helpers/counting-input.js';

interface Harness {
  engine: Engine;
  clock: ManualClock;
  metrics: MetricsRegistry;
  logLines: string[];
  input: InputInstance & { pauses: number; resumes: number };
  addOutput(
    name: string,
    match: string | null,
    results: FlushResult[] | (() => FlushResult),
    retryLimit?: RetryLimit,
    options?: { concurrency?: number; signalsReady?: boolean },
  ): ChunkView[];
}

function harness(options: { memBufLimitBytes?: number; graceSeconds?: number } = {}): Harness {
  const clock = new ManualClock(1_700_000_000_000);
  const logLines: string[] = [];
  const root = new LogRoot({ level: 'debug', sink: { write: (line) => logLines.push(line) } });
  const metrics = new MetricsRegistry();
  // Random fixed at 0 makes every retry wait exactly base + 1 seconds.
  const engine = new Engine(
    { flushSeconds: 1, graceSeconds: options.graceSeconds ?? 5, schedulerBaseSeconds: 5, schedulerCapSeconds: 2000 },
    clock,
    root.scoped(''),
    () => 0,
  );
  const input = countingInput();
  engine.addInput({
    instance: 'dummy.0',
    memBufLimitBytes: options.memBufLimitBytes ?? 0,
    storage: memoryStorage,
    plugin: input,
    telemetry: new Telemetry('dummy.0', root.scoped('input:dummy:dummy.0'), metrics),
  });
  return {
    engine,
    clock,
    metrics,
    logLines,
    input,
    addOutput(name, match, results, retryLimit: RetryLimit = { kind: 'limit', retries: 1 }, options = {}) {
      const received: ChunkView[] = [];
      const plugin: OutputInstance = {
        signalsReady: options.signalsReady === true,
        flush: async (chunk) => {
          received.push(chunk);
          if (typeof results === 'function') return results();
          return results.shift() ?? 'ok';
        },
      };
      engine.addOutput({
        instance: name,
        route: { match, matchRegex: null },
        retryLimit,
        concurrency: options.concurrency ?? 1,
        plugin,
        telemetry: new Telemetry(name, root.scoped(`output:${name}`), metrics),
      });
      return received;
    },
  };
}

const event = (text: string) => Buffer.from(text);

test('records appended between flush ticks go out as one chunk per tag', async () => {
  const h = harness();
  const received = h.addOutput('capture.0', '*', []);
  h.engine.start();
  h.engine.append('dummy.0', 'a', event('x'), 1);
  h.engine.append('dummy.0', 'a', event('y'), 1);
  h.engine.append('dummy.0', 'b', event('z'), 1);
  assert.equal(received.length, 0);
  await h.clock.advance(1000);
  assert.deepEqual(
    received.map((chunk) => [chunk.tag, chunk.data.toString(), chunk.records]),
    [
      ['a', 'xy', 2],
      ['b', 'z', 1],
    ],
  );
  assert.equal(h.metrics.get('fluentbit_output_proc_records_total', 'capture.0'), 3);
  assert.equal(h.engine.bufferedChunks().chunks, 0);
});

test('a chunk is sealed as soon as it reaches the 2 MB limit', async () => {
  const h = harness();
  const received = h.addOutput('capture.0', '*', []);
  h.engine.append('dummy.0', 't', Buffer.alloc(chunkBytesLimit), 1);
  await h.clock.advance(0);
  assert.equal(received.length, 1);
});

test('routing follows Match and skips outputs that do not match', async () => {
  const h = harness();
  const apps = h.addOutput('apps.0', 'app.*', []);
  const all = h.addOutput('all.0', '*', []);
  const none = h.addOutput('none.0', null, []);
  h.engine.append('dummy.0', 'app.web', event('1'), 1);
  h.engine.append('dummy.0', 'sys.kernel', event('2'), 1);
  h.engine.flushOpenChunks();
  await h.clock.advance(0);
  assert.deepEqual(apps.map((c) => c.tag), ['app.web']);
  assert.deepEqual(all.map((c) => c.tag).sort(), ['app.web', 'sys.kernel']);
  assert.equal(none.length, 0);
});

test('retry waits base+1 seconds with random 0, then succeeds and logs the retry', async () => {
  const h = harness();
  const received = h.addOutput('ws.0', '*', ['retry', 'ok']);
  h.engine.append('dummy.0', 't', event('x'), 1);
  h.engine.flushOpenChunks();
  await h.clock.advance(0);
  assert.equal(received.length, 1);
  await h.clock.advance(5999);
  assert.equal(received.length, 1, 'no retry before 6 s');
  await h.clock.advance(1);
  assert.equal(received.length, 2);
  assert.ok(h.logLines.some((l) => l.includes("[engine] failed to flush chunk") && l.includes('retry in 6 seconds')));
  assert.ok(h.logLines.some((l) => l.includes('succeeded at retry 1')));
  assert.equal(h.metrics.get('fluentbit_output_retries_total', 'ws.0'), 1);
  assert.equal(h.engine.bufferedChunks().chunks, 0);
});

const retryCases: Array<{ limit: RetryLimit; attemptsBeforeDrop: number | null }> = [
  { limit: { kind: 'limit', retries: 0 }, attemptsBeforeDrop: 1 },
  { limit: { kind: 'limit', retries: 1 }, attemptsBeforeDrop: 2 },
  { limit: { kind: 'limit', retries: 3 }, attemptsBeforeDrop: 4 },
  { limit: { kind: 'unlimited' }, attemptsBeforeDrop: null },
];

for (const { limit, attemptsBeforeDrop } of retryCases) {
  test(`Retry_Limit ${limit.kind === 'unlimited' ? 'no_limits' : limit.retries}: chunk dropped after ${attemptsBeforeDrop ?? 'never'} attempts`, async () => {
    const h = harness();
    const received = h.addOutput('ws.0', '*', () => 'retry', limit);
    h.engine.append('dummy.0', 't', event('x'), 7);
    h.engine.flushOpenChunks();
    // With random fixed at 0 every wait is exactly base + 1 = 6 s: each step allows one more attempt.
    for (let i = 0; i < 12; i++) await h.clock.advance(6000);
    if (attemptsBeforeDrop === null) {
      assert.equal(received.length, 13);
      assert.equal(h.engine.bufferedChunks().chunks, 1);
      assert.equal(h.metrics.get('fluentbit_output_dropped_records_total', 'ws.0'), 0);
    } else {
      assert.equal(received.length, attemptsBeforeDrop);
      assert.equal(h.engine.bufferedChunks().chunks, 0);
      assert.equal(h.metrics.get('fluentbit_output_dropped_records_total', 'ws.0'), 7);
      assert.ok(h.logLines.some((l) => l.includes('cannot be retried')));
    }
  });
}

test('an error result drops the chunk at once and counts it', async () => {
  const h = harness();
  const received = h.addOutput('ws.0', '*', ['error']);
  h.engine.append('dummy.0', 't', event('x'), 2);
  h.engine.flushOpenChunks();
  await h.clock.advance(60_000);
  assert.equal(received.length, 1);
  assert.equal(h.metrics.get('fluentbit_output_dropped_records_total', 'ws.0'), 2);
  assert.equal(h.metrics.get('fluentbit_output_errors_total', 'ws.0'), 1);
});

test('promoteRetries sends waiting chunks at once instead of after the backoff', async () => {
  const h = harness();
  const received = h.addOutput('ws.0', '*', ['retry', 'ok'], { kind: 'unlimited' });
  h.engine.append('dummy.0', 't', event('x'), 1);
  h.engine.flushOpenChunks();
  await h.clock.advance(0);
  assert.equal(received.length, 1);
  h.engine.promoteRetries('ws.0');
  await h.clock.advance(0);
  assert.equal(received.length, 2);
  assert.equal(h.engine.bufferedChunks().chunks, 0);
});

test('Mem_Buf_Limit pauses the input and resumes it once chunks are delivered', async () => {
  const h = harness({ memBufLimitBytes: 10 });
  let answer: FlushResult = 'retry';
  h.addOutput('ws.0', '*', () => answer, { kind: 'unlimited' });
  h.engine.append('dummy.0', 't', Buffer.alloc(6), 1);
  assert.equal(h.input.pauses, 0);
  h.engine.append('dummy.0', 't', Buffer.alloc(6), 1);
  assert.equal(h.input.pauses, 1);
  assert.ok(h.logLines.some((l) => l.includes('[input] dummy.0 paused (mem buf overlimit')));
  h.engine.flushOpenChunks();
  await h.clock.advance(0);
  assert.equal(h.input.resumes, 0, 'still buffered while the output retries');
  answer = 'ok';
  await h.clock.advance(6000);
  assert.equal(h.input.resumes, 1);
});

test('stop flushes what is buffered and reports nothing lost', async () => {
  const h = harness();
  const received = h.addOutput('ws.0', '*', []);
  h.engine.start();
  h.engine.append('dummy.0', 't', event('x'), 1);
  const result = await h.engine.stop();
  assert.equal(received.length, 1);
  assert.deepEqual(result, { undeliveredRecords: 0, handedOver: [] });
});

test('stop gives up after Grace and reports the lost records', async () => {
  const h = harness({ graceSeconds: 2 });
  h.addOutput('ws.0', '*', () => 'retry', { kind: 'unlimited' });
  h.engine.append('dummy.0', 't', event('x'), 4);
  const stopping = h.engine.stop();
  await h.clock.advance(2000);
  assert.deepEqual(await stopping, { undeliveredRecords: 4, handedOver: [] });
  assert.ok(h.logLines.some((l) => l.includes('[engine] 4 records (1 chunk) were not delivered within Grace=2s and are lost: output ws.0 did not deliver them in time')));
  assert.ok(!h.logLines.some((l) => l.includes('[ warn]') && l.includes('retry in')), 'retries while stopping are not promised at warn level');
  assert.equal(h.metrics.get('fluentbit_output_dropped_records_total', 'ws.0'), 4);
});

test('a chunk routed to no output is discarded with one warning and counted', async () => {
  const h = harness();
  h.addOutput('ws.0', 'other', []);
  h.engine.append('dummy.0', 't', event('x'), 3);
  h.engine.append('dummy.0', 't', event('x'), 3);
  h.engine.flushOpenChunks();
  h.engine.append('dummy.0', 't', event('x'), 3);
  h.engine.flushOpenChunks();
  assert.equal(h.logLines.filter((l) => l.includes('no output matches')).length, 1);
  assert.equal(h.metrics.get('wsbit_input_rejected_records_total', 'dummy.0'), 9);
});

test('retry waits follow Fluent Bit: uniform in [base, min(cap, base*2^n)] plus one', async () => {
  const { retryWaitSeconds } = await import('../../src/base/backoff.js');
  assert.equal(retryWaitSeconds(1, 5, 2000, () => 0), 6);
  assert.equal(retryWaitSeconds(1, 5, 2000, () => 0.9999), 11);
  assert.equal(retryWaitSeconds(3, 5, 2000, () => 0.9999), 41);
  assert.equal(retryWaitSeconds(20, 5, 2000, () => 0.9999), 2001);
});

/** Appends one chunk's worth (a single record `text`) and seals it, as a flush tick would. */
function flushOne(h: Harness, text: string): void {
  h.engine.append('dummy.0', 't', event(text), 1);
  h.engine.flushOpenChunks();
}

const texts = (chunks: ChunkView[]): string[] => chunks.map((chunk) => chunk.data.toString());

test('workers 1: a chunk waiting for its retry holds back later chunks, and goes first when the output is back', async () => {
  const h = harness();
  let answer: FlushResult = 'retry';
  const received = h.addOutput('ws.0', '*', () => answer, { kind: 'unlimited' });
  flushOne(h, 'a');
  await h.clock.advance(0);
  flushOne(h, 'b');
  flushOne(h, 'c');
  await h.clock.advance(0);
  assert.deepEqual(texts(received), ['a'], 'b and c wait behind a');
  // Each held-back chunk counts as one output error, as its own failed flush would (HC_Errors_Count).
  assert.equal(h.metrics.get('fluentbit_output_errors_total', 'ws.0'), 3);
  // The retry timer (6 s with random 0) tries a alone again; b and c still wait.
  await h.clock.advance(6000);
  assert.deepEqual(texts(received), ['a', 'a']);
  assert.equal(h.metrics.get('fluentbit_output_errors_total', 'ws.0'), 4, 'held-back chunks are counted once');
  answer = 'ok';
  h.engine.promoteRetries('ws.0');
  await h.clock.advance(0);
  assert.deepEqual(texts(received), ['a', 'a', 'a', 'b', 'c']);
  assert.equal(h.engine.bufferedChunks().chunks, 0);
});

test('workers 1: a chunk that arrives while the oldest is being retried still goes after it', async () => {
  const h = harness();
  const answers: FlushResult[] = ['retry', 'retry'];
  const received = h.addOutput('ws.0', '*', () => answers.shift() ?? 'ok', { kind: 'unlimited' });
  flushOne(h, '1');
  await h.clock.advance(0);
  flushOne(h, '2');
  await h.clock.advance(6000);
  flushOne(h, '3');
  await h.clock.advance(60_000);
  assert.deepEqual(texts(received), ['1', '1', '1', '2', '3']);
});

test('workers 2: chunks in flight carry no order promise; a waiting chunk does not hold back the others', async () => {
  const h = harness();
  const answers: FlushResult[] = ['retry'];
  const received = h.addOutput('ws.0', '*', () => answers.shift() ?? 'ok', { kind: 'unlimited' }, { concurrency: 2 });
  flushOne(h, 'a');
  await h.clock.advance(0);
  flushOne(h, 'b');
  await h.clock.advance(0);
  assert.deepEqual(texts(received), ['a', 'b']);
  await h.clock.advance(6000);
  assert.deepEqual(texts(received), ['a', 'b', 'a']);
});

test('an output that signals readiness: an outage is a few state-change lines with true figures, not one per chunk per retry', async () => {
  const h = harness();
  let answer: FlushResult = 'retry';
  const received = h.addOutput('ws.0', '*', () => answer, { kind: 'unlimited' }, { concurrency: 2, signalsReady: true });
  // Five minutes at one chunk of 5 records a second: every chunk fails and is retried on its timer.
  for (let second = 0; second < 300; second++) {
    for (let i = 0; i < 5; i++) h.engine.append('dummy.0', 't', event(`${second}.${i}`), 1);
    h.engine.flushOpenChunks();
    await h.clock.advance(1000);
  }
  const loud = () => h.logLines.filter((line) => /\[ (warn|info|error)\]/.test(line));
  const outageLines = loud();
  assert.ok(received.length > 300, 'the chunks were tried, and retried');
  assert.ok(outageLines.length >= 1 && outageLines.length <= 4, `a few lines, not one per chunk per retry:\n${outageLines.join('')}`);
  assert.match(outageLines[0] ?? '', /\[ warn\] \[engine\] output ws\.0 cannot deliver: 1 chunk \(5 records\) wait; the next attempt as soon as the output is back, at the latest in 6 s/);
  assert.match(outageLines[1] ?? '', /still cannot deliver, since .* \(6\d\.\d s\): \d+ chunks \(\d+ records\) wait/);
  assert.ok(!outageLines.some((line) => line.includes('retry in')), 'no per-chunk retry promise at warn level');
  assert.ok(h.logLines.some((line) => line.includes('[debug] [engine] failed to flush chunk') && line.includes('retry when the output is back, at the latest in')));

  answer = 'ok';
  const before = received.length;
  h.engine.promoteRetries('ws.0');
  await h.clock.advance(0);
  const delivered = received.length - before;
  assert.equal(h.engine.bufferedChunks().chunks, 0);
  const recovery = loud().slice(outageLines.length);
  assert.equal(recovery.length, 2, recovery.join(''));
  assert.match(recovery[0] ?? '', /\[ info\] \[engine\] output ws\.0 delivers again after 300\.0 s \(failing since .*\); \d+ more chunks \(\d+ records\) to catch up/);
  assert.match(recovery[1] ?? '', new RegExp(`\\[ info\\] \\[engine\\] output ws\\.0 caught up: delivered ${delivered} chunks \\(${delivered * 5} records\\) in 0\\.0 s after an outage of 300\\.0 s`));
});
