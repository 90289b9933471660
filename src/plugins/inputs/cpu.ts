import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { TimerHandle } from '../../base/clock.js';
import { eventTimeNow } from '../../base/record.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { writeEventHeader } from '../../codec/event.js';
import { defineInput } from '../../pipeline/contracts.js';
import { cpuManifest } from './cpu/schema.js';

interface CpuTicks {
  name: string;
  user: number;
  system: number;
  total: number;
}

/** Parses the `cpu` and `cpuN` lines of /proc/stat into user, system and total jiffies. */
export function parseProcStat(text: string): CpuTicks[] {
  const rows: CpuTicks[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [name, ...fields] = line.trim().split(/\s+/);
    const values = fields.map(Number);
    const [user = 0, nice = 0, system = 0] = values;
    const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
    rows.push({ name: name as string, user: user + nice, system, total });
  }
  return rows;
}

/** USER_HZ: the unit of the tick counts in /proc (sysconf(_SC_CLK_TCK), 100 on every Linux build). */
const TICKS_PER_SECOND = 100;

/** User and system ticks of a process, from the fields after the command name in /proc/PID/stat. */
export function parsePidStat(text: string): { user: number; system: number } | null {
  const fields = text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
  // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  return Number.isFinite(user) && Number.isFinite(system) ? { user, system } : null;
}

/**
 * Fluent Bit's `cpu` input: CPU usage in percent since the previous sample, overall
 * (`cpu_p`, `user_p`, `system_p`) and per core (`cpu0.p_cpu`, `cpu0.p_user`, `cpu0.p_system`, ...).
 */
export const cpuInput = defineInput({
  ...cpuManifest,
  create(context) {
    const { config, telemetry } = context;
    const writer = new MsgpackWriter();
    let previous: CpuTicks[] | null = null;
    let timer: TimerHandle | null = null;
    let paused = false;

    const percent = (part: number, whole: number): number => (whole > 0 ? (part / whole) * 100 : 0);

    // pid: one process's share of the machine, as in_cpu computes it (ticks per interval, over every core).
    let previousPid: { user: number; system: number } | null = null;
    const intervalSeconds = Math.max(1e-3, config.interval_sec + config.interval_nsec / 1e9);
    const share = (ticks: number): number => ((ticks / TICKS_PER_SECOND) * 100) / Math.max(1, os.cpus().length) / intervalSeconds;
    const samplePid = async (pid: number): Promise<void> => {
      const file = `/proc/${pid}/stat`;
      let current: { user: number; system: number } | null;
      try {
        current = parsePidStat(await readFile(file, 'utf8'));
      } catch (error) {
        telemetry.logger.error(`cannot read ${file}: ${(error as Error).message}`);
        return;
      }
      if (current === null) {
        telemetry.logger.error(`cannot read the CPU ticks in ${file}`);
        return;
      }
      const before = previousPid;
      previousPid = current;
      if (before === null || paused) return;
      const user = share(Math.abs(current.user - before.user));
      const system = share(Math.abs(current.system - before.system));
      const time = eventTimeNow();
      writer.reset();
      writeEventHeader(writer, time.sec, time.nsec, null);
      writer.mapHeader(3);
      for (const [key, value] of [['cpu_p', user + system], ['user_p', user], ['system_p', system]] as const) {
        writer.str(key);
        writer.float64(value);
      }
      context.emit(writer.view(), 1);
    };

    const sample = async (): Promise<void> => {
      if (config.pid > 0) return samplePid(config.pid);
      let current: CpuTicks[];
      try {
        current = parseProcStat(await readFile(config.proc_stat_path, 'utf8'));
      } catch (error) {
        telemetry.logger.error(`cannot read ${config.proc_stat_path}: ${(error as Error).message}`);
        return;
      }
      const before = previous;
      previous = current;
      if (before === null || paused) return;
      const fields: Array<[string, number]> = [];
      current.forEach((now, index) => {
        const then = before[index];
        if (then === undefined || then.name !== now.name) return;
        const total = now.total - then.total;
        const user = percent(now.user - then.user, total);
        const system = percent(now.system - then.system, total);
        if (now.name === 'cpu') fields.push(['cpu_p', user + system], ['user_p', user], ['system_p', system]);
        else fields.push([`${now.name}.p_cpu`, user + system], [`${now.name}.p_user`, user], [`${now.name}.p_system`, system]);
      });
      const time = eventTimeNow();
      writer.reset();
      writeEventHeader(writer, time.sec, time.nsec, null);
      writer.mapHeader(fields.length);
      for (const [key, value] of fields) {
        writer.str(key);
        writer.float64(value);
      }
      context.emit(writer.view(), 1);
    };

    return {
      async start() {
        await sample();
        const intervalMs = Math.max(1, config.interval_sec * 1000 + config.interval_nsec / 1e6);
        timer = context.clock.setInterval(() => void sample(), intervalMs);
      },
      pause() {
        paused = true;
      },
      resume() {
        paused = false;
      },
      async stop() {
        timer?.cancel();
        timer = null;
      },
    };
  },
});
