import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { currentRssMb, freePorts, processStats, sleep, stopProcess, waitForPort } from '../harness.js';
import { classicConf, type Agent } from './agents.js';
import { sendNumbered } from './senders.js';
import { startSink, type Sink } from './sink-client.js';

/**
 * A steady load held for minutes, to see whether an agent's memory settles: tcp json (numbered
 * records, one connection) at a fixed rate → websocket json_lines → the sink, with the agent's RSS
 * (VmRSS) sampled at a fixed interval. The soak adds sink restarts; the memory benchmark runs it as
 * it is, for wsbit and Fluent Bit side by side.
 */
export interface SteadyLoadOptions {
  agent: Agent;
  minutes: number;
  recordsPerSecond: number;
  recordBytes: number;
  sampleEveryMs: number;
  /** Kill the sink and start it again this often (the soak); never without it. */
  restartEveryMs?: number;
  /** How long the sink stays down at each restart: long enough for the agent to see it gone and retry. */
  downMs?: number;
  /** Once the sender is done, give up on the missing records after this long without one arriving. */
  stallMs: number;
  /** A progress line about once a minute. */
  progress: (line: string) => void;
}

export interface SteadyLoadResult {
  /** [minutes since the load started, RSS MB]; the first at 0. */
  samples: Array<[number, number]>;
  sent: number;
  received: number;
  restarts: number;
  /** VmHWM at the end (or the highest sample, if above): the highest RSS over the agent's whole life. */
  peakRssMb: number;
  /** The agent's CPU while the sender ran, and how long that was (the drain after it is not counted). */
  cpuSeconds: number;
  seconds: number;
}

/** Mem_Buf_Limit on the input: the rate is far below what either agent takes, so it never pauses. */
const MEM_BUF_LIMIT = '10M';
const FLUSH_SECONDS = 0.2;
/** What the generated .conf sets, for a table's title. */
export const STEADY_LOAD_SETTINGS = `Flush ${FLUSH_SECONDS}, Mem_Buf_Limit ${MEM_BUF_LIMIT}`;

export async function steadyLoad(options: SteadyLoadOptions): Promise<SteadyLoadResult> {
  const { agent, minutes, recordsPerSecond, sampleEveryMs } = options;
  const records = Math.round(minutes * 60 * recordsPerSecond);
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-steady-'));
  const [sinkPort, port] = (await freePorts(2)) as [number, number];
  const conf = path.join(dir, 'steady.conf');
  writeFileSync(
    conf,
    classicConf({
      input: { name: 'tcp', port },
      inputKeys: [['Mem_Buf_Limit', MEM_BUF_LIMIT]],
      output: { port: sinkPort, format: 'json_lines' },
      flushSeconds: FLUSH_SECONDS,
    }),
  );
  const running = agent.start(conf);
  const pid = running.child.pid as number;
  /** Records received by sinks already stopped; the running one adds its own count. */
  let receivedBefore = 0;
  let sink: Sink | null = null;
  let restarts = 0;
  const received = (): number => receivedBefore + (sink?.records() ?? 0);
  const startSinkOnPort = (): Promise<Sink> => startSink({ format: 'json_lines', marker: 'json', port: sinkPort });
  try {
    sink = await startSinkOnPort();
    await waitForPort(port, 15_000, agent.name, running);
    const cpuBefore = processStats(pid).cpuSeconds;
    const started = Date.now();
    const endAt = started + minutes * 60_000;
    const sender = sendNumbered(port, options.recordBytes, records, recordsPerSecond);
    const samples: Array<[number, number]> = [[0, currentRssMb(pid)]];
    let nextSample = started + sampleEveryMs;
    let nextProgress = started + 60_000;
    let nextRestart = options.restartEveryMs === undefined ? Infinity : started + options.restartEveryMs;
    while (Date.now() < endAt) {
      await sleep(Math.max(0, Math.min(nextRestart, nextSample, endAt) - Date.now()));
      if (running.child.exitCode !== null || running.child.signalCode !== null) {
        throw new Error(`${agent.name} exited (${running.child.exitCode ?? running.child.signalCode}) under the steady load\n${running.stderr().slice(-3000)}`);
      }
      if (Date.now() >= nextRestart) {
        const stopping: Sink = sink;
        sink = null;
        await stopping.stop();
        // A sink's count is whatever it had reported when killed: records in its socket buffer are
        // lost to it, and the agent sends their chunk again to the next sink (at least once).
        receivedBefore += stopping.records();
        await sleep(options.downMs ?? 3_000);
        sink = await startSinkOnPort();
        restarts++;
        nextRestart += options.restartEveryMs ?? Infinity;
      }
      if (Date.now() >= nextSample) {
        const rss = currentRssMb(pid);
        samples.push([(Date.now() - started) / 60_000, rss]);
        nextSample += sampleEveryMs;
        if (Date.now() >= nextProgress) {
          const minute = Math.round((Date.now() - started) / 60_000);
          options.progress(
            `${agent.name}, minute ${minute}: RSS ${rss.toFixed(1)} MB, ${sender.sent().toLocaleString('en')} sent, ${received().toLocaleString('en')} received` +
              (options.restartEveryMs === undefined ? '' : `, ${restarts} sink restarts`),
          );
          nextProgress += 60_000;
        }
      }
    }
    await sender.done;
    const loaded = { cpuSeconds: processStats(pid).cpuSeconds - cpuBefore, seconds: (Date.now() - started) / 1000 };
    let last = received();
    let lastChangeAt = Date.now();
    while (received() < records && Date.now() - lastChangeAt < options.stallMs) {
      await sleep(50);
      if (received() !== last) {
        last = received();
        lastChangeAt = Date.now();
      }
    }
    // The kernel updates VmHWM lazily, so a sample can be a little above it.
    const peakRssMb = Math.max(processStats(pid).peakRssMb, ...samples.map(([, rss]) => rss));
    return { samples, sent: records, received: received(), restarts, peakRssMb, ...loaded };
  } finally {
    await stopProcess(running);
    await sink?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MB per minute of the least-squares line through (minute, RSS) points; NaN with fewer than 2. */
export function slope(points: Array<[number, number]>): number {
  if (points.length < 2) return Number.NaN;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return covariance / variance;
}
