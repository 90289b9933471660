import { WebSocket } from 'ws';
import { printTable, processStats, spawnWsbit, waitUntil } from './harness.js';

/**
 * How many clients and records/s a websocket_server broadcast holds: bin/wsbit runs a dummy input at a
 * fixed rate into websocket_server, and this process connects `ws` clients that count what they get.
 * Records generated are counted from wsbit's debug log of routed chunks. A rate is "held" when every
 * client received at least 97% of what was generated over the window, and no client was dropped as
 * slow. The clients share this process (one core of the machine), so the client side is part of
 * what is measured.
 */
const DUMMY = '{"level":"info","service":"checkout","msg":"order placed","order_id":12345,"latency_ms":3.25}';
const TICKS_PER_SECOND = 10;
const WARMUP_MS = 1000;
const WINDOW_MS = 3000;

interface Scenario {
  clients: number;
  recordsPerSecond: number;
}

async function measure({ clients, recordsPerSecond }: Scenario): Promise<Record<string, string | number>> {
  const copies = Math.max(1, Math.round(recordsPerSecond / TICKS_PER_SECOND));
  const agent = spawnWsbit([
    '-v', '-f', '0.25',
    '-i', 'dummy', '-p', `rate=${TICKS_PER_SECOND}`, '-p', `copies=${copies}`, '-p', `dummy=${DUMMY}`, '-t', 'bench',
    '-o', 'websocket_server', '-m', '*', '-p', 'port=0', '-p', 'max_clients=0', '-p', 'live_page=off',
  ]);
  try {
    const listening = /listening on 127\.0\.0\.1:(\d+)/;
    await waitUntil(() => listening.test(agent.stderr()), 10_000, 'wsbit to listen');
    const port = Number(listening.exec(agent.stderr())?.[1]);
    const counts = new Array<number>(clients).fill(0);
    const sockets = await Promise.all(
      counts.map(
        (_, i) =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
            ws.on('message', () => counts[i]!++);
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    // Counted from the debug line the engine writes for every routed chunk.
    const routed = (): number => [...agent.stderr().matchAll(/with (\d+) records? from dummy/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const start = { routed: routed(), counts: [...counts], server: processStats(agent.child.pid as number), clients: process.cpuUsage(), at: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const seconds = (Date.now() - start.at) / 1000;
    const generated = (routed() - start.routed) / seconds;
    const received = counts.map((count, i) => (count - (start.counts[i] ?? 0)) / seconds);
    const serverCpu = (processStats(agent.child.pid as number).cpuSeconds - start.server.cpuSeconds) / seconds;
    const clientUsage = process.cpuUsage(start.clients);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6 / seconds;
    const dropped = (agent.stderr().match(/fell behind/g) ?? []).length;
    const slowest = Math.min(...received);
    const average = received.reduce((sum, rate) => sum + rate, 0) / received.length;
    for (const ws of sockets) ws.terminate();
    const held = dropped === 0 && slowest >= 0.97 * generated && generated >= 0.95 * recordsPerSecond;
    return {
      clients,
      'target rec/s': recordsPerSecond.toLocaleString('en'),
      'generated rec/s': Math.round(generated).toLocaleString('en'),
      'per client rec/s (min / avg)': `${Math.round(slowest).toLocaleString('en')} / ${Math.round(average).toLocaleString('en')}`,
      'frames/s out': Math.round(average * clients).toLocaleString('en'),
      'slow drops': dropped,
      'wsbit CPU': `${Math.round(serverCpu * 100)}%`,
      'clients CPU': `${Math.round(clientCpu * 100)}%`,
      held: held ? 'yes' : 'no',
    };
  } finally {
    agent.child.kill('SIGTERM');
    await new Promise((resolve) => agent.child.once('exit', resolve));
  }
}

const scenarios: Scenario[] = [
  { clients: 100, recordsPerSecond: 2_000 },
  { clients: 100, recordsPerSecond: 10_000 },
  { clients: 100, recordsPerSecond: 20_000 },
  { clients: 100, recordsPerSecond: 40_000 },
  { clients: 1_000, recordsPerSecond: 1_000 },
];
const rows: Array<Record<string, string | number>> = [];
for (const scenario of scenarios) rows.push(await measure(scenario));
printTable(
  `websocket_server broadcast (${DUMMY.length + 12}-byte JSON messages; wsbit and the ws clients each on one of the two cores; ${WINDOW_MS / 1000} s windows)`,
  rows,
);
