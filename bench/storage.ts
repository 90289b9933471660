import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blast, jsonRecord, printTable, processStats, quick, scaled, spawnWsbit, stopProcess, waitUntil } from './harness.js';

/**
 * The cost of durability: the same tcp → null run with memory chunks, filesystem chunks
 * (storage.sync normal) and filesystem chunks fsynced on every append (storage.sync full).
 */
async function measure(label: string, storage: 'memory' | 'filesystem', sync: 'normal' | 'full', records: number): Promise<Record<string, string | number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-storage-'));
  const conf = path.join(dir, 'bench.conf');
  writeFileSync(
    conf,
    [
      '[SERVICE]',
      '    Flush 0.2',
      `    storage.path ${path.join(dir, 'chunks')}`,
      `    storage.sync ${sync}`,
      '[INPUT]',
      '    Name tcp',
      '    Listen 127.0.0.1',
      '    Port 0',
      '    Buffer_Size 4096',
      `    storage.type ${storage}`,
      '[OUTPUT]',
      '    Name null',
      '    Match *',
      '',
    ].join('\n'),
  );
  const agent = spawnWsbit(['-c', conf, '-v']);
  await waitUntil(() => /listening on [^:]+:(\d+)/.test(agent.stderr()), 10_000, 'wsbit to listen');
  const port = Number(/listening on [^:]+:(\d+)/.exec(agent.stderr())?.[1]);
  const routed = (): number => [...agent.stderr().matchAll(/with (\d+) records? from/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const before = processStats(agent.child.pid as number);
  const started = process.hrtime.bigint();
  await blast(port, Buffer.from(jsonRecord(100).repeat(100)), records / 100);
  await waitUntil(() => routed() >= records, 300_000, `${records} records routed`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = processStats(agent.child.pid as number);
  await stopProcess(agent);
  rmSync(dir, { recursive: true, force: true });
  return {
    storage: label,
    records,
    'records/s': Math.round(records / seconds),
    'CPU s / 1M records': (((after.cpuSeconds - before.cpuSeconds) / records) * 1e6).toFixed(2),
    'peak RSS MB': after.peakRssMb.toFixed(0),
  };
}

const records = scaled(500_000);
const rows = [
  await measure('memory', 'memory', 'normal', records),
  await measure('filesystem, storage.sync normal', 'filesystem', 'normal', records),
  await measure('filesystem, storage.sync full', 'filesystem', 'full', records),
];
printTable(`Storage cost: tcp json (100 B records) → null${quick ? ' (QUICK)' : ''}`, rows);
