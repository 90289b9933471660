/**
 * The cpu input's pid key (Fluent Bit's in_cpu `pid`): one process's CPU use from /proc/PID/stat, as
 * cpu_p, user_p and system_p only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { parsePidStat } from '../../src/plugins/inputs/cpu.js';
import { startAgent } from '../helpers/pipeline.js';

test('/proc/PID/stat: utime and stime are read after the command name, whatever it holds', () => {
  const fields = 'S 1 2 3 4 5 6 7 8 9 10 1234 567 0 0 20 0 1 0';
  assert.deepEqual(parsePidStat(`42 (a) b (c)) ${fields}`), { user: 1234, system: 567 });
  assert.equal(parsePidStat('42 (short) S 1'), null);
});

test('pid: a busy process shows CPU use, in the three keys of Fluent Bit and no per-core ones', async (t) => {
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  t.after(() => busy.kill('SIGKILL'));
  const running = await startAgent(['-i', 'cpu', '-p', `pid=${busy.pid as number}`, '-p', 'interval_sec=0', '-p', 'interval_nsec=200000000', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  const samples = (): Array<Record<string, number>> => running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => event.body as Record<string, number>));
  await running.waitFor(() => samples().some((sample) => (sample['cpu_p'] ?? 0) > 0), 'a sample with CPU use', 30_000);
  for (const sample of samples()) {
    assert.deepEqual(Object.keys(sample), ['cpu_p', 'user_p', 'system_p']);
    assert.ok(Math.abs((sample['cpu_p'] ?? 0) - (sample['user_p'] ?? 0) - (sample['system_p'] ?? 0)) < 1e-9);
  }
});
