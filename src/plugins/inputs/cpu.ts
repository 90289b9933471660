import { readFile } from 'node:fs/promises';
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

    const sample = async (): Promise<void> => {
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
