import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import { blast, formatRatio, freePorts, jsonRecord, printTable, processStats, quick, scaled, spawnWsbit, stopProcess, waitForPort, waitUntil, type Spawned } from './harness.js';
import { fluentBitFromEnv, wsbit, type Agent } from './lib/agents.js';

/**
 * The http and forward outputs (issue 17): tcp → http json_lines into an HTTP sink in this process,
 * and one agent → three aggregators (wsbit forward inputs into null, in their own processes) over a
 * forward upstream with acks, and the same over a websocket upstream (wsbit websocket inputs; Fluent
 * Bit's websocket output has no upstream, so wsbit only). With FLUENT_BIT set the agent is also run as
 * Fluent Bit, with the same .conf; the sink and the aggregators stay the same.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-bench-upstream-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function writeConf(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** An HTTP server that answers 200 and counts JSON lines. */
async function lineSink(): Promise<{ port: number; lines: () => number; close: () => Promise<void> }> {
  let lines = 0;
  const server = http.createServer((request, response) => {
    request.on('data', (data: Buffer) => {
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) lines++;
    });
    request.on('end', () => {
      response.writeHead(200);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines: () => lines,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Figures {
  recordsPerSecond: number;
  cpuPerMillion: number;
  peakRssMb: number;
}

/** The agent's row, and its figures for the ratio row. */
async function run(agent: Agent, conf: string, tcpPort: number, records: number, delivered: () => number): Promise<{ row: Record<string, string | number>; figures: Figures }> {
  const running: Spawned = agent.start(conf);
  try {
    await waitForPort(tcpPort, 20_000, `${agent.name}'s tcp input`, running);
    const before = processStats(running.child.pid as number);
    const started = process.hrtime.bigint();
    await blast(tcpPort, Buffer.from(jsonRecord(100).repeat(100)), records / 100);
    await waitUntil(() => delivered() >= records, 180_000, () => `${records} records delivered (have ${delivered()})`);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = processStats(running.child.pid as number);
    const figures: Figures = { recordsPerSecond: records / seconds, cpuPerMillion: ((after.cpuSeconds - before.cpuSeconds) / records) * 1e6, peakRssMb: after.peakRssMb };
    const row = {
      agent: agent.name,
      records,
      'records/s': Math.round(figures.recordsPerSecond),
      'agent CPU s / 1M records': figures.cpuPerMillion.toFixed(2),
      'agent peak RSS MB': figures.peakRssMb.toFixed(0),
    };
    return { row, figures };
  } finally {
    await stopProcess(running);
  }
}

/** The agents' rows (their figures left out), with `wsbit ÷ Fluent Bit` after them when both ran. */
function withRatio(rows: Array<{ row: Record<string, string | number>; figures: Figures }>): Array<Record<string, string | number>> {
  const table = rows.map(({ row }) => row);
  const [ours, theirs] = rows.map(({ figures }) => figures);
  if (ours === undefined || theirs === undefined) return table;
  table.push({
    scenario: '',
    agent: 'wsbit ÷ Fluent Bit',
    records: '',
    'records/s': formatRatio(ours.recordsPerSecond / theirs.recordsPerSecond),
    'agent CPU s / 1M records': formatRatio(ours.cpuPerMillion / theirs.cpuPerMillion),
    'agent peak RSS MB': formatRatio(ours.peakRssMb / theirs.peakRssMb),
  });
  return table;
}

const agents: Agent[] = [wsbit];
const fluentBit = fluentBitFromEnv();
if ('agent' in fluentBit) agents.push(fluentBit.agent);
else console.log(`\nFluent Bit comparison skipped: ${fluentBit.skipped}.`);

// tcp → http json_lines
{
  const records = scaled(500_000);
  const rows: Array<{ row: Record<string, string | number>; figures: Figures }> = [];
  for (const agent of agents) {
    const sink = await lineSink();
    const [tcpPort] = (await freePorts(1)) as [number];
    const conf = writeConf('tcp-http.conf', [
      '[SERVICE]', '    Flush 0.2', '    Grace 1', '    Log_Level info',
      '[INPUT]', '    Name tcp', '    Listen 127.0.0.1', `    Port ${tcpPort}`, '    Format json', '    Tag bench',
      '[OUTPUT]', '    Name http', '    Match *', '    Host 127.0.0.1', `    Port ${sink.port}`, '    Format json_lines', '    Retry_Limit no_limits', '',
    ].join('\n'));
    const { row, figures } = await run(agent, conf, tcpPort, records, sink.lines);
    rows.push({ row: { scenario: 'tcp → http json_lines', ...row }, figures });
    await sink.close();
  }
  printTable(`tcp → http json_lines (100-byte records; the HTTP sink runs in the bench process${quick ? '; QUICK' : ''})`, withRatio(rows));
}

// agent → 3 aggregators → null, over a forward upstream with acks
{
  const records = scaled(500_000);
  const rows: Array<{ row: Record<string, string | number>; figures: Figures }> = [];
  for (const agent of agents) {
    const ports = await freePorts(4);
    const [tcpPort, ...aggregatorPorts] = ports as [number, number, number, number];
    const aggregators = aggregatorPorts.map((port) => spawnWsbit(['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', `port=${port}`, '-o', 'null', '-v', '-f', '0.2']));
    try {
      for (const [index, port] of aggregatorPorts.entries()) await waitForPort(port, 20_000, `aggregator ${index + 1}`, aggregators[index]);
      const routed = (): number =>
        aggregators.reduce((sum, aggregator) => sum + [...aggregator.stderr().matchAll(/with (\d+) records? from/g)].reduce((n, m) => n + Number(m[1]), 0), 0);
      const upstream = writeConf('aggregators.conf', ['[UPSTREAM]', '    name aggregators', ...aggregatorPorts.flatMap((port, i) => ['[NODE]', `    name aggregator-${i + 1}`, '    host 127.0.0.1', `    port ${port}`]), ''].join('\n'));
      const conf = writeConf('agent-forward.conf', [
        '[SERVICE]', '    Flush 0.2', '    Grace 1', '    Log_Level info',
        '[INPUT]', '    Name tcp', '    Listen 127.0.0.1', `    Port ${tcpPort}`, '    Format json', '    Tag bench',
        '[OUTPUT]', '    Name forward', '    Match *', `    Upstream ${upstream}`, '    Require_Ack_Response on', '    Retry_Limit no_limits', '',
      ].join('\n'));
      const { row, figures } = await run(agent, conf, tcpPort, records, routed);
      const shares = aggregators.map((aggregator) => [...aggregator.stderr().matchAll(/with (\d+) records? from/g)].reduce((n, m) => n + Number(m[1]), 0));
      rows.push({ row: { scenario: 'agent → 3 aggregators → null', ...row, 'records per aggregator': shares.join(' / ') }, figures });
    } finally {
      await Promise.all(aggregators.map((aggregator) => stopProcess(aggregator)));
    }
  }
  printTable(`agent → 3 aggregators (wsbit forward → null) → over a forward upstream with acks (100-byte records${quick ? '; QUICK' : ''})`, withRatio(rows));
}

// agent → 3 aggregators → null, over a websocket upstream (each chunk confirmed by a pong)
{
  const records = scaled(500_000);
  const ports = await freePorts(4);
  const [tcpPort, ...aggregatorPorts] = ports as [number, number, number, number];
  const aggregators = aggregatorPorts.map((port) => spawnWsbit(['-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', `port=${port}`, '-o', 'null', '-v', '-f', '0.2']));
  try {
    for (const [index, port] of aggregatorPorts.entries()) await waitForPort(port, 20_000, `aggregator ${index + 1}`, aggregators[index]);
    const shares = (): number[] => aggregators.map((aggregator) => [...aggregator.stderr().matchAll(/with (\d+) records? from/g)].reduce((n, m) => n + Number(m[1]), 0));
    const upstream = writeConf('ws-aggregators.conf', ['[UPSTREAM]', '    name aggregators', ...aggregatorPorts.flatMap((port, i) => ['[NODE]', `    name aggregator-${i + 1}`, '    host 127.0.0.1', `    port ${port}`]), ''].join('\n'));
    const conf = writeConf('agent-websocket.conf', [
      '[SERVICE]', '    Flush 0.2', '    Grace 1', '    Log_Level info',
      '[INPUT]', '    Name tcp', '    Listen 127.0.0.1', `    Port ${tcpPort}`, '    Format json', '    Tag bench',
      '[OUTPUT]', '    Name websocket', '    Match *', `    Upstream ${upstream}`, '    Workers 3', '',
    ].join('\n'));
    const { row } = await run(wsbit, conf, tcpPort, records, () => shares().reduce((a, b) => a + b, 0));
    printTable(`agent → 3 aggregators (wsbit websocket → null) over a websocket upstream, 3 workers (100-byte records${quick ? '; QUICK' : ''})`, [
      { scenario: 'agent → 3 aggregators → null (websocket)', ...row, 'records per aggregator': shares().join(' / ') },
    ]);
  } finally {
    await Promise.all(aggregators.map((aggregator) => stopProcess(aggregator)));
  }
}
