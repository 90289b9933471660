import net from 'node:net';
import { connectCountingClient } from './lib/counting-client.js';
import { formatMs, nowMicros, percentile, printTable, processStats, quick, sleep, spawnWsbit, stopProcess, waitUntil } from './harness.js';

/**
 * How many clients and records/s a websocket_server broadcast holds: bin/wsbit runs a dummy input at a
 * fixed rate into websocket_server, and this process connects bare WebSocket clients (lib/counting-client.ts,
 * far cheaper per message than `ws`, so they are not the limit) that count what they get.
 * Records generated are counted from wsbit's debug log of routed chunks. A rate is "held" when every
 * client received at least 97% of what was generated over the window, and no client was dropped as
 * slow. The clients share this process, so the client side still takes its share of the two cores.
 *
 * Latency: a second input (tcp) takes a probe record `{"probe":1,"t":<µs>}` every 20 ms from this
 * process; the probes go through the same engine and broadcast as the dummy records, and each client
 * takes receipt − t. Probes are not counted as records.
 */
const TICKS_PER_SECOND = 10;
const WARMUP_MS = quick ? 500 : 1000;
const WINDOW_MS = quick ? 1000 : 3000;
const PROBE_INTERVAL_MS = 20;
const FLUSH_SECONDS = 0.25;
/** How long after a flush the window edge waits for that flush's messages to reach the clients. */
const DELIVERY_MS = 100;

/** The dummy record, about `bytes` bytes as a JSON message. */
function dummyRecord(bytes: number): string {
  const base = '{"level":"info","service":"checkout","msg":"order placed","order_id":12345,"latency_ms":3.25}';
  const padding = Math.max(0, bytes - base.length - 12 - ',"detail":""'.length);
  return padding === 0 ? base : base.replace('}', `,"detail":"${'x'.repeat(padding)}"}`);
}

interface Scenario {
  clients: number;
  recordsPerSecond: number;
  /** Message size on the wire. */
  recordBytes: number;
}

async function measure({ clients, recordsPerSecond, recordBytes }: Scenario): Promise<Record<string, string | number>> {
  const copies = Math.max(1, Math.round(recordsPerSecond / TICKS_PER_SECOND));
  const dummy = dummyRecord(recordBytes);
  const agent = spawnWsbit([
    '-v', '-f', String(FLUSH_SECONDS),
    '-i', 'dummy', '-p', `rate=${TICKS_PER_SECOND}`, '-p', `copies=${copies}`, '-p', `dummy=${dummy}`, '-t', 'bench',
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'bench',
    '-o', 'websocket_server', '-m', '*', '-p', 'port=0', '-p', 'max_clients=0', '-p', 'live_page=off',
  ]);
  const sockets: net.Socket[] = [];
  let probe: net.Socket | null = null;
  let probeTimer: NodeJS.Timeout | null = null;
  try {
    const serverListening = /\[output:websocket_server:[^\]]+\] listening on 127\.0\.0\.1:(\d+)/;
    const probeListening = /\[input:tcp:[^\]]+\] listening on [^:]+:(\d+)/;
    await waitUntil(() => serverListening.test(agent.stderr()) && probeListening.test(agent.stderr()), 10_000, 'wsbit to listen');
    const port = Number(serverListening.exec(agent.stderr())?.[1]);
    const probePort = Number(probeListening.exec(agent.stderr())?.[1]);
    const counts = new Array<number>(clients).fill(0);
    let latenciesUs: number[] = [];
    const T_KEY = Buffer.from('"t":');
    const onMessage = (i: number, data: Buffer): void => {
      // `["bench",{"p…` is a probe, `["bench",{"l…` a dummy record.
      if (data[11] !== 0x70) {
        counts[i]!++;
        return;
      }
      const at = data.indexOf(T_KEY);
      if (at >= 0) latenciesUs.push(nowMicros() - Number.parseInt(data.toString('latin1', at + 4, at + 20), 10));
    };
    sockets.push(...(await Promise.all(counts.map((_, i) => connectCountingClient(port, (data, opcode) => opcode <= 2 && onMessage(i, data))))));
    const probeSocket = net.connect(probePort, '127.0.0.1');
    probe = probeSocket;
    probeSocket.on('error', () => {});
    probeTimer = setInterval(() => probeSocket.write(`{"probe":1,"t":${nowMicros()}}\n`), PROBE_INTERVAL_MS);
    await sleep(WARMUP_MS);

    // Records generated, from the debug line the engine writes for every routed chunk. The window
    // starts and ends just after a flush, once its messages have had time to arrive, so the clients'
    // counts and the generated count cover the very same flushes.
    let scanned = 0;
    let flushes = 0;
    let routedRecords = 0;
    const update = (): void => {
      const text = agent.stderr();
      const end = text.lastIndexOf('\n') + 1;
      for (const match of text.slice(scanned, end).matchAll(/with (\d+) records? from dummy/g)) {
        flushes++;
        routedRecords += Number(match[1]);
      }
      scanned = end;
    };
    const afterFlush = async (flushIndex: number): Promise<void> => {
      await waitUntil(() => (update(), flushes >= flushIndex), 10_000, 'a flush of the dummy input');
      await sleep(DELIVERY_MS);
    };
    update();
    await afterFlush(flushes + 1);
    latenciesUs = [];
    const start = { flushes, routed: routedRecords, counts: [...counts], server: processStats(agent.child.pid as number), clients: process.cpuUsage(), at: Date.now() };
    await afterFlush(start.flushes + Math.round(WINDOW_MS / (FLUSH_SECONDS * 1000)));
    const seconds = (Date.now() - start.at) / 1000;
    const end = processStats(agent.child.pid as number);
    const generatedRecords = routedRecords - start.routed;
    const generated = generatedRecords / seconds;
    const received = counts.map((count, i) => (count - (start.counts[i] ?? 0)) / seconds);
    const serverCpuSeconds = end.cpuSeconds - start.server.cpuSeconds;
    const clientUsage = process.cpuUsage(start.clients);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6 / seconds;
    const dropped = (agent.stderr().match(/fell behind/g) ?? []).length;
    const slowest = Math.min(...received);
    const average = received.reduce((sum, rate) => sum + rate, 0) / received.length;
    const latencies = Float64Array.from(latenciesUs).sort();
    const held = dropped === 0 && slowest >= 0.97 * generated && generated >= 0.95 * recordsPerSecond;
    return {
      clients,
      'message size': `${Buffer.byteLength(dummy) + 12} B`,
      'target rec/s': recordsPerSecond.toLocaleString('en'),
      'generated rec/s': Math.round(generated).toLocaleString('en'),
      'per client rec/s (min / avg)': `${Math.round(slowest).toLocaleString('en')} / ${Math.round(average).toLocaleString('en')}`,
      'frames/s out': Math.round(average * clients).toLocaleString('en'),
      'slow drops': dropped,
      'wsbit CPU': `${Math.round((serverCpuSeconds / seconds) * 100)}%`,
      'CPU s / 1M rec': generatedRecords === 0 ? 'n/a' : ((serverCpuSeconds / generatedRecords) * 1e6).toFixed(1),
      'peak RSS MB': end.peakRssMb.toFixed(0),
      'p50 ms': formatMs(percentile(latencies, 50) / 1000),
      'p99 ms': formatMs(percentile(latencies, 99) / 1000),
      'clients CPU': `${Math.round(clientCpu * 100)}%`,
      held: held ? 'yes' : 'no',
    };
  } finally {
    if (probeTimer !== null) clearInterval(probeTimer);
    probe?.destroy();
    for (const socket of sockets) socket.destroy();
    await stopProcess(agent);
  }
}

const scenarios: Scenario[] = [
  { clients: 100, recordsPerSecond: 2_000, recordBytes: 100 },
  { clients: 100, recordsPerSecond: 10_000, recordBytes: 100 },
  { clients: 100, recordsPerSecond: 20_000, recordBytes: 100 },
  { clients: 100, recordsPerSecond: 40_000, recordBytes: 100 },
  { clients: 100, recordsPerSecond: 2_000, recordBytes: 1000 },
  { clients: 100, recordsPerSecond: 5_000, recordBytes: 1000 },
  { clients: 1_000, recordsPerSecond: 1_000, recordBytes: 100 },
];
const rows: Array<Record<string, string | number>> = [];
for (const scenario of scenarios) rows.push(await measure(scenario));
printTable(
  `dummy → websocket_server broadcast (one JSON message per record; wsbit and the counting clients share the two cores; windows of ${WINDOW_MS / 1000} s (${Math.round(WINDOW_MS / (FLUSH_SECONDS * 1000))} flushes)${quick ? ', QUICK' : ''}; ` +
    `CPU s / 1M rec is wsbit's per record generated, each sent to every client; latency of probe records every ${PROBE_INTERVAL_MS} ms through a tcp input, Flush ${FLUSH_SECONDS})`,
  rows,
);
