import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processStats, waitUntil, type ProcessStats } from '../harness.js';
import type { SinkOptions, SinkReport } from './sink.js';

const sinkScript = fileURLToPath(new URL('./sink.js', import.meta.url));

/** The benchmark's handle on a sink process (see sink.ts). */
export interface Sink {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /** Records received so far, as last reported (at most 10 ms old). */
  records(): number;
  /** When that count last grew (`performance.now()` of this process). */
  lastRecordAtMs(): number;
  /** Stop throttling: read at full speed from now on. */
  fast(): void;
  report(): Promise<SinkReport>;
  stats(): ProcessStats;
  stop(): Promise<void>;
}

export async function startSink(options: SinkOptions): Promise<Sink> {
  const child = spawn(process.execPath, [sinkScript, JSON.stringify(options)]);
  let port = 0;
  let records = 0;
  let lastRecordAtMs = performance.now();
  let pending = '';
  const reports: Array<(report: SinkReport) => void> = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.on('data', (data: Buffer) => {
    pending += data.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const space = line.indexOf(' ');
      const word = line.slice(0, space);
      const value = line.slice(space + 1);
      if (word === 'port') port = Number(value);
      else if (word === 'records') {
        records = Number(value);
        lastRecordAtMs = performance.now();
      }
      else if (word === 'report') {
        // JSON has no NaN: a figure without samples comes back as null.
        const raw = JSON.parse(value) as Record<keyof SinkReport, number | null>;
        const report = Object.fromEntries(Object.entries(raw).map(([key, figure]) => [key, figure ?? Number.NaN])) as unknown as SinkReport;
        reports.shift()?.(report);
      }
    }
  });
  child.stderr.pipe(process.stderr);
  await waitUntil(() => port > 0 || child.exitCode !== null, 10_000, 'the sink to listen');
  if (port === 0) throw new Error('the sink exited before listening');
  const pid = child.pid as number;
  return {
    child,
    port,
    records: () => records,
    lastRecordAtMs: () => lastRecordAtMs,
    fast: () => child.stdin.write('fast\n'),
    report: () =>
      new Promise<SinkReport>((resolve) => {
        reports.push(resolve);
        child.stdin.write('report\n');
      }),
    stats: () => processStats(pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
