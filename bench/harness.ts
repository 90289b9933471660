import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Shared pieces of the benchmarks: spawning wsbit, reading its CPU and memory, printing tables. */
export const binPath = path.join(process.cwd(), 'bin', 'wsbit');

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

export function spawnWsbit(args: string[]): { child: ChildProcessWithoutNullStreams; stderr: () => string } {
  const child = spawn(process.execPath, [binPath, ...args]);
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stdout.resume();
  return { child, stderr: () => stderr };
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends `payload` (repeated `times`) over one TCP connection as fast as the socket takes it. */
export function blast(port: number, payload: Buffer, times: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    const pump = (): void => {
      while (sent < times) {
        sent++;
        if (!socket.write(payload)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.on('connect', pump);
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** A JSON record of about `bytes` bytes, newline-terminated. */
export function jsonRecord(bytes: number): string {
  const base = '{"level":"info","service":"bench","msg":"","n":123456}\n';
  return base.replace('"msg":""', `"msg":"${'x'.repeat(Math.max(0, bytes - base.length))}"`);
}

export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  const first = rows[0];
  if (first === undefined) return;
  const headings = Object.keys(first);
  const cells = rows.map((row) => headings.map((h) => String(row[h] ?? '')));
  const widths = headings.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(headings));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of cells) console.log(line(row));
}
