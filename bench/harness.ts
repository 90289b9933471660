import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Shared pieces of the benchmarks: spawning wsbit, reading its CPU and memory, printing tables. */
export const binPath = path.join(process.cwd(), 'bin', 'wsbit');

/** `WSBIT_BENCH_QUICK=1`: a smoke run with a tenth of the records (and shorter windows). */
export const quick = process.env['WSBIT_BENCH_QUICK'] === '1';

/** A record count, cut by 10 in a quick run. */
export function scaled(records: number): number {
  return quick ? Math.max(100, Math.round(records / 10)) : records;
}

/** Node flags for wsbit itself, e.g. `WSBIT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
export const wsbitNodeArgs = (process.env['WSBIT_BENCH_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');

export interface ProcessStats {
  cpuSeconds: number;
  peakRssMb: number;
}

const clockTicksPerSecond = 100;

/** User+system CPU seconds (/proc/PID/stat) and peak RSS (VmHWM in /proc/PID/status) of a live process. */
export function processStats(pid: number): ProcessStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / clockTicksPerSecond, peakRssMb: hwmKb / 1024 };
}

/** Current RSS (VmRSS) of a live process, in MB; 0 once it is gone. */
export function currentRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; `peak()` is the highest sample since the last `reset()`. */
export class RssSampler {
  private timer: NodeJS.Timeout;
  private peakMb = 0;
  private lastMb = 0;
  readonly samples: number[] = [];

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.lastMb = currentRssMb(this.pid);
    this.samples.push(this.lastMb);
    this.peakMb = Math.max(this.peakMb, this.lastMb);
  }

  /** Starts a new window: the peak and the samples only cover what comes after. */
  reset(): void {
    this.sample();
    this.samples.length = 0;
    this.peakMb = this.lastMb;
  }

  peak(): number {
    return this.peakMb;
  }

  last(): number {
    return this.lastMb;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface Spawned {
  child: ChildProcessWithoutNullStreams;
  /** Everything the process wrote to stderr (and stdout, for agents that log there). */
  stderr: () => string;
  /** Resolves once the process has exited (at once if it already has). */
  exited: () => Promise<void>;
}

/** Spawns a program, collecting its output and remembering when it exits. */
export function spawnProcess(command: string, args: string[]): Spawned {
  const child = spawn(command, args);
  let output = '';
  let hasExited = false;
  const onExit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      hasExited = true;
      resolve();
    }),
  );
  const collect = (data: Buffer): void => {
    output += data.toString();
  };
  child.stderr.on('data', collect);
  child.stdout.on('data', collect);
  return { child, stderr: () => output, exited: () => (hasExited ? Promise.resolve() : onExit) };
}

export function spawnWsbit(args: string[]): Spawned {
  return spawnProcess(process.execPath, [...wsbitNodeArgs, binPath, ...args]);
}

/** Stops a spawned process with SIGTERM (SIGKILL after `graceMs`) and waits for it. */
export async function stopProcess(spawned: Spawned, graceMs = 10_000): Promise<void> {
  if (spawned.child.exitCode !== null || spawned.child.signalCode !== null) return;
  spawned.child.kill('SIGTERM');
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), graceMs);
  await spawned.exited();
  clearTimeout(timer);
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** TCP ports that were free a moment ago, all different (for agents that cannot be told to use port 0 and report it). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((server) => {
      const address = server.address();
      return typeof address === 'object' && address !== null ? address.port : 0;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/** Waits until something accepts TCP connections on the port; with `agent`, fails at once if it exits. */
export async function waitForPort(port: number, timeoutMs: number, what: string, agent?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    const exited = agent !== undefined && (agent.child.exitCode !== null || agent.child.signalCode !== null);
    if (exited || Date.now() > deadline) {
      const log = agent === undefined ? '' : `\n--- end of its log ---\n${agent.stderr().slice(-3000)}`;
      throw new Error(`${exited ? `${what} exited before listening` : `timed out waiting for ${what} to listen`} on port ${port}${log}`);
    }
    await sleep(20);
  }
}

/**
 * Wall-clock microseconds with sub-millisecond resolution. The sender and the sink are different
 * processes on one machine: each one's `timeOrigin` is read from the same wall clock, and `now()` is
 * monotonic, so their difference is a latency.
 */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Sends `payload` (repeated `times`) over one TCP connection as fast as the socket takes it. */
export async function blast(port: number, payload: Buffer, times: number): Promise<void> {
  let sent = 0;
  await pump(port, () => (sent++ < times ? payload : null));
}

export interface PumpResult {
  /** TCP connections opened (1 unless the receiver closed or reset some). */
  connections: number;
  /** Connections the receiver closed or reset before everything had been written. */
  resets: number;
}

export interface PumpOptions {
  /**
   * Reconnect when the receiver closes or resets the connection before everything is written, and go
   * on with the next buffer, as a logging client does. Fluent Bit's tcp input closes every connection
   * when Mem_Buf_Limit pauses it, and closes new ones at once until it resumes. Whatever was in flight
   * on a closed connection is lost there, and the sink's count shows it. Without this, a reset fails.
   */
  reconnect?: boolean;
  /** Give up when no connection has stayed up for this long (default 60 s). */
  giveUpMs?: number;
}

const DROPPED_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED']);
/** A reconnection waits this long before writing: a paused Fluent Bit input closes a new connection at once. */
const SETTLE_MS = 50;

/** Writes the buffers `next()` returns over TCP, as fast as the socket takes them, until it returns null. */
export function pump(port: number, next: () => Buffer | null, options: PumpOptions = {}): Promise<PumpResult> {
  const giveUpMs = options.giveUpMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const result: PumpResult = { connections: 0, resets: 0 };
    let lastUpAt = Date.now();
    let retryDelayMs = 10;
    let done = false;
    const connect = (): void => {
      result.connections++;
      const socket = net.connect(port, '127.0.0.1');
      let finished = false;
      let failure: NodeJS.ErrnoException | null = null;
      const write = (): void => {
        if (socket.destroyed) return;
        for (;;) {
          const buffer = next();
          if (buffer === null) break;
          if (!socket.write(buffer)) {
            socket.once('drain', () => {
              // The receiver is reading: this connection is up.
              lastUpAt = Date.now();
              retryDelayMs = 10;
              write();
            });
            return;
          }
        }
        finished = true;
        socket.end();
      };
      socket.on('connect', () => (result.connections === 1 ? write() : setTimeout(write, SETTLE_MS)));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        failure = error;
      });
      socket.on('close', () => {
        if (done) return;
        const dropped = failure === null ? !finished : DROPPED_CONNECTION.has(failure.code ?? '');
        if (failure !== null && !(options.reconnect === true && dropped)) {
          done = true;
          reject(failure);
        } else if (finished || !dropped) {
          done = true;
          resolve(result);
        } else if (options.reconnect !== true) {
          done = true;
          reject(new Error('the receiver closed the connection before everything was written'));
        } else if (Date.now() - lastUpAt > giveUpMs) {
          done = true;
          reject(new Error(`the receiver kept closing connections for ${giveUpMs} ms (${result.resets} resets)`));
        } else {
          result.resets++;
          setTimeout(connect, retryDelayMs);
          retryDelayMs = Math.min(500, retryDelayMs * 2);
        }
      });
    };
    connect();
  });
}

/** A JSON record of about `bytes` bytes, newline-terminated. */
export function jsonRecord(bytes: number): string {
  const base = '{"level":"info","service":"bench","msg":"","n":123456}\n';
  return base.replace('"msg":""', `"msg":"${'x'.repeat(Math.max(0, bytes - base.length))}"`);
}

/** The p-th percentile (0..100) of samples, nearest-rank; NaN without samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Milliseconds for a table cell: 1 decimal below 100 ms, whole above. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 100 ? ms.toFixed(1) : Math.round(ms).toString();
}

/** A ratio for a table cell, e.g. `0.87×`. */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

/** Rows as a markdown table, the columns padded to line up in a terminal. */
export function markdownTable(rows: Array<Record<string, string | number>>): string {
  const first = rows[0];
  if (first === undefined) return '';
  const headings = Object.keys(first);
  const cells = rows.map((row) => headings.map((h) => String(row[h] ?? '')));
  const widths = headings.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(headings), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  if (rows.length === 0) return;
  console.log(`\n${title}\n`);
  console.log(markdownTable(rows));
}
