import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeMulti } from '@msgpack/msgpack';
import { WebSocketServer } from 'ws';
import { blast, jsonRecord, printTable, processStats, spawnWsbit, waitUntil } from './harness.js';

/**
 * The end-to-end figure of the websocket output: JSON records over TCP into bin/wsbit, out through
 * the websocket output (json_lines, then msgpack) to a `ws` server in a separate process that decodes
 * and counts them. CPU (user+sys) and peak RSS are wsbit's own, read from /proc; the server's CPU is
 * shown too, to tell whether the peer was the limit. Flush is 0.2 s so the last flush adds little.
 *
 *   node dist/bench/websocket.js            the benchmark (about 200k records of about 100 B per format)
 *   node dist/bench/websocket.js --serve F  the counting server (F = json_lines or msgpack), used by it
 */

type Format = 'json_lines' | 'msgpack';

/** The counting server: prints `port N`, then `records N` as its count grows (at most every 50 ms). */
async function serve(format: Format): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const address = wss.address();
  process.stdout.write(`port ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  let records = 0;
  let reported = 0;
  setInterval(() => {
    if (records !== reported) {
      reported = records;
      process.stdout.write(`records ${records}\n`);
    }
  }, 50);
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      if (format === 'json_lines') {
        for (let at = data.indexOf(0x0a); at >= 0; at = data.indexOf(0x0a, at + 1)) records++;
      } else {
        for (const _event of decodeMulti(data)) records++;
      }
    });
  });
}

interface CountingPeer {
  child: ChildProcessWithoutNullStreams;
  port: number;
  records(): number;
}

async function startPeer(format: Format): Promise<CountingPeer> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', format]);
  let port = 0;
  let records = 0;
  let pending = '';
  child.stdout.on('data', (data: Buffer) => {
    pending += data.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [word, value] = line.split(' ');
      if (word === 'port') port = Number(value);
      if (word === 'records') records = Number(value);
    }
  });
  child.stderr.pipe(process.stderr);
  await waitUntil(() => port > 0, 10_000, 'the counting server');
  return { child, port, records: () => records };
}

async function measure(format: Format, records: number, recordBytes: number): Promise<Record<string, string | number>> {
  const peer = await startPeer(format);
  const agent = spawnWsbit([
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
    ...(process.env['WSBIT_BENCH_INPUT_EXTRA'] ?? '').split(' ').filter((arg) => arg !== ''),
    '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', `format=${format}`, '-f', '0.2',
    ...(process.env['WSBIT_BENCH_EXTRA'] ?? '').split(' ').filter((arg) => arg !== ''),
  ]);
  try {
    await waitUntil(() => /listening on [^:]+:(\d+)/.test(agent.stderr()), 10_000, 'wsbit to listen');
    const port = Number(/listening on [^:]+:(\d+)/.exec(agent.stderr())?.[1]);
    const batch = 100;
    const payload = Buffer.from(jsonRecord(recordBytes).repeat(batch));
    const pid = agent.child.pid as number;
    const peerPid = peer.child.pid as number;
    const before = processStats(pid);
    const peerBefore = processStats(peerPid);
    const started = process.hrtime.bigint();
    await blast(port, payload, records / batch);
    await waitUntil(() => peer.records() >= records, 60_000, `${records} records at the server (${peer.records()} so far)\n${agent.stderr().slice(-2000)}`);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = processStats(pid);
    const peerAfter = processStats(peerPid);
    const cpu = after.cpuSeconds - before.cpuSeconds;
    return {
      format,
      records,
      'MB in': ((payload.length * (records / batch)) / 1e6).toFixed(1),
      seconds: seconds.toFixed(2),
      'records/s': Math.round(records / seconds),
      'wsbit CPU s': cpu.toFixed(2),
      'CPU µs/record': ((cpu / records) * 1e6).toFixed(2),
      'peak RSS MB': after.peakRssMb.toFixed(0),
      'server CPU s': (peerAfter.cpuSeconds - peerBefore.cpuSeconds).toFixed(2),
      received: peer.records(),
    };
  } finally {
    agent.child.kill('SIGTERM');
    peer.child.kill('SIGTERM');
  }
}

if (process.argv[2] === '--serve') {
  await serve((process.argv[3] ?? 'json_lines') as Format);
} else {
  const records = Number(process.env['WSBIT_BENCH_RECORDS'] ?? 1_000_000);
  const runs = Number(process.env['WSBIT_BENCH_RUNS'] ?? 3);
  const rows: Array<Record<string, string | number>> = [];
  for (const format of ['json_lines', 'msgpack'] as const) {
    const results: Array<Record<string, string | number>> = [];
    for (let run = 0; run < runs; run++) results.push(await measure(format, records, 100));
    // The median run by throughput, so one noisy run does not make the figure.
    results.sort((a, b) => Number(a['records/s']) - Number(b['records/s']));
    rows.push(results[Math.floor(runs / 2)] as Record<string, string | number>);
  }
  printTable(
    `tcp json → websocket → ws server in another process (${records} records of 100 B, median of ${runs} runs, Flush 0.2, confirm_delivery on; ` +
      'records/s includes the sender and the server on the same 2 cores)',
    rows,
  );
}
