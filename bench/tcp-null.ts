import { blast, jsonRecord, printTable, processStats, quick, scaled, spawnWsbit, stopProcess, waitUntil } from './harness.js';

/**
 * Throughput of the input side: JSON records over TCP into the null output. wsbit runs in its own
 * process; records are counted from its debug log of routed chunks.
 */
async function measure(recordBytes: number, records: number): Promise<Record<string, string | number>> {
  const agent = spawnWsbit(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'buffer_size=4096', '-o', 'null', '-v', '-f', '0.2']);
  await waitUntil(() => /listening on [^:]+:(\d+)/.test(agent.stderr()), 10_000, 'wsbit to listen');
  const port = Number(/listening on [^:]+:(\d+)/.exec(agent.stderr())?.[1]);
  const routed = (): number => [...agent.stderr().matchAll(/with (\d+) records? from/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const payload = Buffer.from(jsonRecord(recordBytes).repeat(100));
  const before = processStats(agent.child.pid as number);
  const started = process.hrtime.bigint();
  await blast(port, payload, records / 100);
  await waitUntil(() => routed() >= records, 120_000, `${records} records routed`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = processStats(agent.child.pid as number);
  await stopProcess(agent);
  const cpu = after.cpuSeconds - before.cpuSeconds;
  return {
    scenario: 'tcp json → null',
    'record size': `${recordBytes} B`,
    records,
    'records/s': Math.round(records / seconds),
    'CPU s / 1M records': ((cpu / records) * 1e6).toFixed(2),
    'peak RSS MB': after.peakRssMb.toFixed(0),
  };
}

const rows = [await measure(100, scaled(1_000_000)), await measure(1000, scaled(200_000))];
printTable(`Input throughput (wsbit alone; records/s includes the sender on the same machine${quick ? '; QUICK' : ''})`, rows);
