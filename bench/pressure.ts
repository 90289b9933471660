import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, freePorts, printTable, quick, RssSampler, scaled, sleep, stopProcess, waitForPort, waitUntil, type Spawned } from './harness.js';
import { classicConf, wsbit, type PipelineSpec } from './lib/agents.js';
import { startSink, type Sink } from './lib/sink-client.js';
import { sendNumbered } from './lib/senders.js';

/**
 * Memory under pressure (issue 8, part 3), tcp json (100 B records numbered in "n") → websocket
 * json_lines → the sink, which checks every number arrives:
 *
 * 1. A slow server: the sender offers 50k records/s and the sink reads 5k/s (10 %), for 20 s. The
 *    input has Mem_Buf_Limit, so wsbit should pause it and hold its RSS flat (sampled every 100 ms).
 *    Then the sink reads at full speed until everything has arrived.
 * 2. A disk backlog: storage.type filesystem with the server down while 1M records come in; then the
 *    server comes up and the backlog drains. Also with wsbit restarted in between, so the backlog is
 *    found on disk at start-up.
 */
const RECORD_BYTES = 100;
const MEM_BUF_LIMIT = '10M';
const FLUSH_SECONDS = 0.2;
const MAX_CHUNKS_UP = 16;

function outcome(sink: Awaited<ReturnType<Sink['report']>>, records: number): { lost: number; duplicates: number } {
  return { lost: records - sink.distinct, duplicates: sink.duplicates };
}

/** Waits until the sink has `records`, or gives up once nothing has arrived for `quietMs`. */
async function settle(sink: Sink, records: number, quietMs: number): Promise<void> {
  let last = sink.records();
  let lastChange = Date.now();
  while (sink.records() < records) {
    if (sink.records() !== last) {
      last = sink.records();
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) return;
    await sleep(10);
  }
}

function startAgent(dir: string, spec: PipelineSpec): Spawned {
  const conf = path.join(dir, 'bench.conf');
  writeFileSync(conf, classicConf(spec));
  return wsbit.start(conf);
}

async function slowServer(): Promise<Record<string, string | number>> {
  const offeredPerSecond = 50_000;
  const readPerSecond = offeredPerSecond / 10;
  const slowSeconds = quick ? 4 : 20;
  const records = offeredPerSecond * slowSeconds;
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-pressure-'));
  const sink = await startSink({ format: 'json_lines', marker: 'json', recordsPerSecond: readPerSecond, seqCapacity: records });
  const port = await freePort();
  const agent = startAgent(dir, {
    input: { name: 'tcp', port },
    inputKeys: [['Mem_Buf_Limit', MEM_BUF_LIMIT]],
    output: { port: sink.port, format: 'json_lines' },
    flushSeconds: FLUSH_SECONDS,
  });
  const sampler = new RssSampler(agent.child.pid as number);
  try {
    await waitForPort(port, 15_000, 'wsbit', agent);
    sampler.reset();
    const sender = sendNumbered(port, RECORD_BYTES, records, offeredPerSecond);
    await sleep(2000);
    const rssAfter2s = sampler.last();
    await sleep(slowSeconds * 1000 - 2000);
    const slowSamples = [...sampler.samples];
    const readDuringSlow = sink.records();
    const sentDuringSlow = sender.sent();
    const half = Math.floor(slowSamples.length / 2);
    const firstHalfPeak = Math.max(...slowSamples.slice(0, half));
    const secondHalfPeak = Math.max(...slowSamples.slice(half));
    sink.fast();
    const drainStarted = Date.now();
    await sender.done;
    await settle(sink, records, 15_000);
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const { lost, duplicates } = outcome(await sink.report(), records);
    const paused = (agent.stderr().match(/ paused \(/g) ?? []).length;
    return {
      test: `slow server: offered ${offeredPerSecond / 1000}k rec/s, read ${readPerSecond / 1000}k rec/s for ${slowSeconds} s; Mem_Buf_Limit ${MEM_BUF_LIMIT}`,
      records: records.toLocaleString('en'),
      'sent / read in slow phase': `${sentDuringSlow.toLocaleString('en')} / ${readDuringSlow.toLocaleString('en')}`,
      'input paused': `${paused}×`,
      'RSS MB at 2 s': rssAfter2s.toFixed(0),
      'peak RSS MB, 1st / 2nd half': `${firstHalfPeak.toFixed(0)} / ${secondHalfPeak.toFixed(0)}`,
      'drain s': drainSeconds.toFixed(1),
      'peak RSS MB draining': Math.max(...sampler.samples.slice(slowSamples.length)).toFixed(0),
      lost,
      duplicates,
    };
  } finally {
    sampler.stop();
    await stopProcess(agent);
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function diskBacklog(restart: boolean): Promise<Record<string, string | number>> {
  const records = scaled(1_000_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-backlog-'));
  const [sinkPort, port] = (await freePorts(2)) as [number, number];
  const spec: PipelineSpec = {
    input: { name: 'tcp', port },
    inputKeys: [['storage.type', 'filesystem']],
    output: { port: sinkPort, format: 'json_lines' },
    serviceKeys: [
      ['storage.path', path.join(dir, 'chunks')],
      // Fluent Bit's default of 128 chunks up would keep this whole backlog (about 50 chunks) in memory.
      ['storage.max_chunks_up', String(MAX_CHUNKS_UP)],
      ['Log_Level', 'debug'],
    ],
    flushSeconds: FLUSH_SECONDS,
  };
  let agent = startAgent(dir, spec);
  let sampler = new RssSampler(agent.child.pid as number);
  let sink: Sink | null = null;
  try {
    // The server is down: records go to disk and every flush fails to connect.
    await waitForPort(port, 15_000, 'wsbit', agent);
    const fillStarted = Date.now();
    const sender = sendNumbered(port, RECORD_BYTES, records);
    await sender.done;
    const filling = agent;
    const routed = (): number => [...filling.stderr().matchAll(/with (\d+) records? from/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    await waitUntil(() => routed() >= records, 120_000, () => `${records} records routed (${routed()} so far)`);
    const fillSeconds = (Date.now() - fillStarted) / 1000;
    const fillPeak = sampler.peak();
    let drainStarted: number;
    if (restart) {
      sampler.stop();
      await stopProcess(agent);
      sink = await startSink({ format: 'json_lines', marker: 'json', port: sinkPort, seqCapacity: records });
      drainStarted = Date.now();
      agent = startAgent(dir, spec);
      sampler = new RssSampler(agent.child.pid as number);
    } else {
      sampler.reset();
      drainStarted = Date.now();
      sink = await startSink({ format: 'json_lines', marker: 'json', port: sinkPort, seqCapacity: records });
    }
    const activeSink = sink;
    await waitUntil(() => activeSink.records() > 0, 60_000, 'the first record after the server came up');
    const firstAfter = (Date.now() - drainStarted) / 1000;
    await settle(activeSink, records, 15_000);
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const { lost, duplicates } = outcome(await activeSink.report(), records);
    return {
      test: restart
        ? 'disk backlog, wsbit restarted while the server is down, then the server comes up'
        : 'disk backlog (storage.type filesystem), server down, then up',
      records: records.toLocaleString('en'),
      'fill s / peak RSS MB filling': `${fillSeconds.toFixed(1)} / ${fillPeak.toFixed(0)}`,
      'first record after s': firstAfter.toFixed(1),
      'drain s': drainSeconds.toFixed(1),
      'peak RSS MB draining': sampler.peak().toFixed(0),
      lost,
      duplicates,
    };
  } finally {
    sampler.stop();
    await stopProcess(agent);
    await sink?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const slow = await slowServer();
printTable(`Memory under a slow server (tcp json 100 B → websocket json_lines, RSS sampled every 100 ms${quick ? ', QUICK' : ''})`, [slow]);
const backlogRows = [await diskBacklog(false), await diskBacklog(true)];
printTable(`Memory with a disk backlog (tcp json 100 B → websocket json_lines, RSS sampled every 100 ms; storage.max_chunks_up ${MAX_CHUNKS_UP}; target: under 150 MB${quick ? ', QUICK' : ''})`, backlogRows);
