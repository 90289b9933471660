/**
 * bin/wsbit processes talking to each other: an agent ships to an aggregator that is killed or stopped
 * and comes back on the same port, with no record lost; and the quick start, whose live page is read
 * in headless Chromium.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { confDir } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { TcpFeeder } from './websocket-output-support.js';
import { freePort, quickstartScenario } from './websocket-input-support.js';

/** seq values in the JSON lines an aggregator printed. */
function seqsOf(stdout: string, into: Map<number, number>): void {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    if (typeof seq === 'number') into.set(seq, (into.get(seq) ?? 0) + 1);
  }
}

const restarts = [
  { how: 'killed (SIGKILL)', signal: 'SIGKILL' as const, agentFormat: 'msgpack', storage: true },
  { how: 'stopped (SIGTERM)', signal: 'SIGTERM' as const, agentFormat: 'json_lines', storage: false },
];

for (const restart of restarts) {
  test(`agent → aggregator: the aggregator is ${restart.how} and restarted on the same port, 0 records lost (agent format ${restart.agentFormat})`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-agg-'));
    const running: RunningAgent[] = [];
    t.after(async () => {
      for (const agent of running) await agent.stop('SIGKILL').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });
    const port = await freePort();
    const aggregatorArgs = [
      '-i', `websocket://127.0.0.1:${port}/ingest`, '-t', 'agents',
      ...(restart.storage ? ['-p', 'storage.type=filesystem', '-b', path.join(dir, 'storage')] : []),
      '-o', 'stdout', '-m', 'agents', '-p', 'format=json_lines', '-f', '0.2',
    ];
    const startAggregator = async (): Promise<RunningAgent> => {
      const aggregator = spawnAgent(aggregatorArgs);
      running.push(aggregator);
      await aggregator.waitForOutput(`listening on 127.0.0.1:${port}, ws://127.0.0.1:${port}/ingest`);
      return aggregator;
    };
    const first = await startAggregator();
    const agent = spawnAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'app',
      '-o', 'websocket', '-m', 'app', '-p', 'host=127.0.0.1', '-p', `port=${port}`, '-p', 'uri=/ingest', '-p', `format=${restart.agentFormat}`,
      '-f', '0.2',
    ]);
    running.push(agent);
    const listening = /\[input:tcp:tcp\.0\] listening on 127\.0\.0\.1:(\d+)/;
    await agent.waitForOutput(listening);
    const tcpPort = Number(listening.exec(agent.stderr())?.[1]);

    const total = 1500;
    const feeder = new TcpFeeder(tcpPort, { count: total, perSecond: 250 });
    t.after(() => feeder.close());
    await waitFor(() => feeder.sent >= 400, '400 records fed', 10_000);
    await first.stop(restart.signal);
    const sentWhileDown = feeder.sent;
    await sleep(1000);
    const second = await startAggregator();
    await feeder.done;
    const seqs = new Map<number, number>();
    await waitFor(
      () => {
        seqs.clear();
        seqsOf(first.stdout(), seqs);
        seqsOf(second.stdout(), seqs);
        return seqs.size >= total;
      },
      `all ${total} records at the aggregators (have ${seqs.size})`,
      30_000,
    );
    let lost = 0;
    for (let seq = 1; seq <= total; seq++) if (!seqs.has(seq)) lost++;
    const received = [...seqs.values()].reduce((sum, n) => sum + n, 0);
    t.diagnostic(
      `aggregator ${restart.how} after ${sentWhileDown} records: sent ${total}, received ${seqs.size} distinct (${received} in all), lost ${lost}, duplicates ${received - seqs.size}; ` +
        `first run printed ${first.stdout().split('\n').length - 1} lines, second ${second.stdout().split('\n').length - 1}`,
    );
    assert.equal(lost, 0);
    assert.equal(await agent.stop(), 0, agent.stderr());
    assert.equal(await second.stop(), 0, second.stderr());
    assert.doesNotMatch(second.stderr(), /\[error\]/);
  });
}

test('the quick start (conf/quickstart.conf on free ports): records make the round trip and show on the live page in Chromium', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-quickstart-'));
  const ports = { input: await freePort(), page: await freePort() };
  // The example exactly, but on free ports and with its own storage, so it cannot clash with a running copy.
  const conf = readFileSync(path.join(confDir, 'quickstart.conf'), 'utf8')
    .replaceAll('8090', String(ports.input))
    .replaceAll('8091', String(ports.page))
    .replace('.wsbit/quickstart', path.join(dir, 'storage'));
  assert.notEqual(ports.input, ports.page);
  const file = path.join(dir, 'quickstart.conf');
  writeFileSync(file, conf);
  const agent = spawnAgent(['-c', file]);
  t.after(async () => {
    await agent.stop('SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await quickstartScenario(agent, ports, 'websocket-input-quickstart.png');
  assert.equal(await agent.stop(), 0, agent.stderr());
  assert.doesNotMatch(agent.stderr(), /\[error\]/);
});
