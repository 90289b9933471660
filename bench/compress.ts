import { createHash } from 'node:crypto';
import net from 'node:net';
import { formatRatio, freePort, printTable, processStats, pump, quick, scaled, sleep, spawnWsbit, stopProcess, waitForPort, waitUntil } from './harness.js';
import { provenance, publish } from './lib/readme.js';
import { startSink } from './lib/sink-client.js';

/**
 * permessage-deflate on the websocket output (issue 25): 1 KB container-log lines (Docker's json-file
 * layout with Kubernetes metadata, a Spring-style application line under "log", ids and timings that
 * vary from line to line) into the tcp input, out as json_lines through the websocket output to a `ws`
 * sink that accepts permessage-deflate (lib/sink.ts, a process of its own). The same run with
 * `compress off` and with `compress deflate` at levels 1 and 6.
 *
 * Per run: bytes on the wire per record (everything the sink's sockets read, handshake and frame headers
 * included) beside the payload bytes per record (the json_lines messages as the sink got them), records/s
 * from the first record sent to the last received, wsbit's CPU (user+sys, zlib's threads included) per
 * record, and its peak RSS (VmHWM). At full speed a slower output also holds more records back (up to
 * Mem_Buf_Limit), so each mode runs once more at a steady PACED_RATE records/s, below what any of them
 * takes (RUNS times; the median CPU and the median peak RSS are shown, as RSS moves by several MB
 * from one start to the next): there the CPU per record and the peak RSS compare like for like, and with one connection the
 * RSS difference is the cost of its deflate context. The lines are 10,000 distinct ones sent in turn,
 * so no line repeats inside zlib's 32 KiB window.
 *
 * Targets (issue 25): wire bytes ≤ 20 % of the payload, CPU per record ≤ +35 % over off at level 1,
 * peak RSS ≤ +8 MB per connection. Knobs: WSBIT_BENCH_RECORDS (default 200,000), WSBIT_BENCH_RUNS (the
 * median by records/s is shown; default 3), WSBIT_BENCH_QUICK. WSBIT_BENCH_README=1 writes the table
 * into the README's `bench:websocket-compress` block.
 */

const RECORDS = scaled(Number(process.env['WSBIT_BENCH_RECORDS'] ?? 200_000));
const RUNS = Math.max(1, Number(process.env['WSBIT_BENCH_RUNS'] ?? (quick ? 1 : 3)));
const LINES_PER_WRITE = 100;
/** The steady run: records/s, and for how long. */
const PACED_RATE = 5_000;
const PACED_SECONDS = quick ? 5 : 20;
const DISTINCT_LINES = 10_000;
const RECORD_BYTES = 1000;

const MODES: Array<{ name: string; keys: string[] }> = [
  { name: 'compress off', keys: [] },
  { name: 'compress deflate, level 1', keys: ['-p', 'compress=deflate'] },
  { name: 'compress deflate, level 6', keys: ['-p', 'compress=deflate', '-p', 'compress.level=6'] },
];

/** A deterministic stream of pseudo-random numbers (xorshift32), so every run sends the same bytes. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

const hexOf = (text: string, length: number): string => createHash('sha256').update(text).digest('hex').repeat(2).slice(0, length);

/** One container log line of about RECORD_BYTES bytes (padded in the application message to exactly that). */
function containerLogLine(i: number, random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (n: number): number => Math.floor(random() * n);
  const pod = int(8);
  const podName = `shop-web-7d9f8c6b5-${hexOf(`pod${pod}`, 5)}`;
  const ms = String(int(1000)).padStart(3, '0');
  const second = String(Math.floor(i / 50) % 60).padStart(2, '0');
  const time = `2026-12-05T12:${String(Math.floor(i / 3000) % 60).padStart(2, '0')}:${second}.${ms}`;
  const trace = hexOf(`trace${i}${random()}`, 32);
  const span = hexOf(`span${i}${random()}`, 16);
  const messages = [
    () => `INFO 1 --- [nio-8080-exec-${int(200)}] c.e.shop.web.OrderController : order placed order_id=${hexOf(`o${i}`, 8)}-${hexOf(`p${i}`, 4)} customer=${int(100000)} items=${1 + int(9)} total=${int(500)}.${String(int(100)).padStart(2, '0')} latency_ms=${int(400)}`,
    () => `DEBUG 1 --- [nio-8080-exec-${int(200)}] c.e.shop.cache.ProductCache : cache ${pick(['hit', 'miss'])} key=product:${int(50000)} ttl_s=${int(3600)}`,
    () => `WARN 1 --- [pool-3-thread-${int(16)}] c.e.shop.db.OrderRepository : slow query ${int(2000) + 500} ms: SELECT * FROM orders WHERE customer_id = ? AND status = ?`,
    () => `INFO 1 --- [nio-8080-exec-${int(200)}] o.s.web.servlet.DispatcherServlet : ${pick(['GET', 'POST', 'GET', 'GET'])} /api/v2/${pick(['products', 'orders', 'cart', 'users'])}/${int(100000)} ${pick([200, 200, 200, 201, 404, 500])} ${int(300)}ms`,
  ];
  const head = `{"log":"${time}Z ${pick(messages)()} trace_id=${trace} span_id=${span}`;
  const tail =
    `\\n","stream":"${pick(['stdout', 'stdout', 'stderr'])}","time":"${time}${String(int(1_000_000)).padStart(6, '0')}Z",` +
    `"kubernetes":{"pod_name":"${podName}","namespace_name":"shop","pod_id":"${hexOf(`id${pod}`, 8)}-${hexOf(`id${pod}a`, 4)}-${hexOf(`id${pod}b`, 4)}-${hexOf(`id${pod}c`, 12)}",` +
    `"host":"ip-10-0-${pod}-${17 + pod * 3}.eu-west-1.compute.internal","container_name":"web","docker_id":"${hexOf(`docker${pod}`, 64)}",` +
    `"container_image":"registry.example.com/shop/web:2.14.3","labels":{"app":"shop-web","pod-template-hash":"7d9f8c6b5","team":"checkout"}}}\n`;
  // Pad the application message (a stack-trace-free line, some words of context) to the record size.
  const words = ['user-agent=Mozilla/5.0', 'region=eu-west-1', 'tenant=acme', 'feature=checkout-v2', 'retry=0', 'pool=main', 'cache=warm'];
  let padding = '';
  while (head.length + padding.length + tail.length < RECORD_BYTES) padding += ` ${pick(words)}`;
  return head + padding.slice(0, Math.max(0, RECORD_BYTES - head.length - tail.length)) + tail;
}

const random = randomSource(25);
const lines = Array.from({ length: DISTINCT_LINES }, (_, i) => containerLogLine(i, random));
const writes = Array.from({ length: DISTINCT_LINES / LINES_PER_WRITE }, (_, w) => Buffer.from(lines.slice(w * LINES_PER_WRITE, (w + 1) * LINES_PER_WRITE).join('')));
const inputBytesPerLine = writes.reduce((sum, write) => sum + write.length, 0) / DISTINCT_LINES;

interface Run {
  recordsPerSecond: number;
  wirePerRecord: number;
  payloadPerRecord: number;
  cpuMicrosPerRecord: number;
  peakRssMb: number;
}

/** `write` 100 lines every 20 ms (PACED_RATE), catching up with the schedule rather than drifting. */
async function paced(port: number, records: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const started = performance.now();
  let written = 0;
  while (written < records / LINES_PER_WRITE) {
    const due = Math.min(records / LINES_PER_WRITE, Math.floor(((performance.now() - started) / 1000) * (PACED_RATE / LINES_PER_WRITE)) + 1);
    for (; written < due; written++) socket.write(writes[written % writes.length] as Buffer);
    await sleep(20);
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}

async function run(keys: string[], pace = false): Promise<Run> {
  const sink = await startSink({ format: 'json_lines', marker: 'json', perMessageDeflate: true });
  const port = await freePort();
  const agent = spawnWsbit([
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', `port=${port}`, '-p', 'mem_buf_limit=8M',
    '-o', `websocket://127.0.0.1:${sink.port}/`, '-p', 'format=json_lines', ...keys, '-f', '0.2',
  ]);
  try {
    await waitForPort(port, 10_000, 'wsbit to listen', agent);
    // Warm-up: one write through, so the connection (and its deflate context) is up before the clock starts.
    await pump(port, ((sent) => () => (sent++ < 1 ? (writes[0] as Buffer) : null))(0));
    await waitUntil(() => sink.records() >= LINES_PER_WRITE, 20_000, 'the warm-up records at the sink');
    const start = await sink.report();
    const pid = agent.child.pid as number;
    const before = processStats(pid);
    const started = performance.now();
    const records = pace ? PACED_RATE * PACED_SECONDS : RECORDS;
    let written = 0;
    if (pace) await paced(port, records);
    else await pump(port, () => (written < records / LINES_PER_WRITE ? (writes[written++ % writes.length] as Buffer) : null), { reconnect: true });
    await waitUntil(() => sink.records() >= LINES_PER_WRITE + records, 300_000, () => `${records} records at the sink (${sink.records() - LINES_PER_WRITE} so far)`);
    const seconds = (performance.now() - started) / 1000;
    const after = processStats(pid);
    const end = await sink.report();
    return {
      recordsPerSecond: records / seconds,
      wirePerRecord: (end.wireBytes - start.wireBytes) / records,
      payloadPerRecord: (end.payloadBytes - start.payloadBytes) / records,
      cpuMicrosPerRecord: ((after.cpuSeconds - before.cpuSeconds) / records) * 1e6,
      peakRssMb: after.peakRssMb,
    };
  } finally {
    await stopProcess(agent);
    await sink.stop();
  }
}

const results: Array<{ name: string; median: Run; steady: Run }> = [];
for (const mode of MODES) {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(mode.keys));
  runs.sort((a, b) => a.recordsPerSecond - b.recordsPerSecond);
  // RSS moves by several MB from one start to the next, so the steady figures are medians too, each on its own.
  const steadyRuns: Run[] = [];
  for (let i = 0; i < RUNS; i++) steadyRuns.push(await run(mode.keys, true));
  const middle = (pick: (r: Run) => number): number => (steadyRuns.map(pick).sort((a, b) => a - b)[Math.floor(RUNS / 2)] as number);
  const steady: Run = { ...(steadyRuns[0] as Run), cpuMicrosPerRecord: middle((r) => r.cpuMicrosPerRecord), peakRssMb: middle((r) => r.peakRssMb) };
  results.push({ name: mode.name, median: runs[Math.floor(runs.length / 2)] as Run, steady });
}

const off = (results[0] as { median: Run }).median;
const steadyOff = (results[0] as { steady: Run }).steady;
const rows = results.map(({ name, median, steady }) => ({
  'websocket output': name,
  'payload B/record': median.payloadPerRecord.toFixed(0),
  'wire B/record': median.wirePerRecord.toFixed(0),
  'wire / payload': `${((median.wirePerRecord / median.payloadPerRecord) * 100).toFixed(1)} %`,
  'records/s': Math.round(median.recordsPerSecond).toLocaleString('en-US'),
  'CPU µs/record': median.cpuMicrosPerRecord.toFixed(1),
  'CPU vs off': formatRatio(median.cpuMicrosPerRecord / off.cpuMicrosPerRecord),
  'peak RSS MB': median.peakRssMb.toFixed(0),
  'RSS vs off': `${median.peakRssMb - off.peakRssMb >= 0 ? '+' : ''}${(median.peakRssMb - off.peakRssMb).toFixed(1)} MB`,
  [`at ${PACED_RATE / 1000}k/s: CPU µs/record`]: `${steady.cpuMicrosPerRecord.toFixed(1)} (${formatRatio(steady.cpuMicrosPerRecord / steadyOff.cpuMicrosPerRecord)})`,
  [`at ${PACED_RATE / 1000}k/s: peak RSS MB`]: `${steady.peakRssMb.toFixed(0)} (${steady.peakRssMb - steadyOff.peakRssMb >= 0 ? '+' : ''}${(steady.peakRssMb - steadyOff.peakRssMb).toFixed(1)})`,
}));
const title = `permessage-deflate: ${RECORDS.toLocaleString('en-US')} container-log lines of ${inputBytesPerLine.toFixed(0)} B (tcp json in, json_lines out, one connection), median of ${RUNS}${quick ? '; QUICK' : ''}`;
printTable(title, rows);

const table = rows.map((row) => `| ${Object.values(row).join(' | ')} |`);
const heading = `| ${Object.keys(rows[0] ?? {}).join(' | ')} |`;
publish(
  'websocket-compress',
  [
    heading,
    `|${Object.keys(rows[0] ?? {}).map(() => ' --- ').join('|')}|`,
    ...table,
    '',
    provenance([`${RECORDS} records of ${inputBytesPerLine.toFixed(0)} B at full speed, median of ${RUNS} runs by records/s; then ${PACED_RATE} records/s for ${PACED_SECONDS} s, ${RUNS} runs, the median CPU and the median peak RSS`]),
  ].join('\n'),
);
