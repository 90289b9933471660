import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { currentRssMb, formatMs, formatRatio, freePort, markdownTable, printTable, processStats, quick, scaled, sleep, stopProcess, waitForPort, waitUntil, type Spawned } from './harness.js';
import { agentWanted, classicConf, fluentBitFromEnv, keysFromEnv, wsbit, type Agent, type InputSpec } from './lib/agents.js';
import { provenance, publish } from './lib/readme.js';
import { startSink, type Sink } from './lib/sink-client.js';
import { appendLines, SAMPLE_EVERY, sendForward, sendTcpJson, warmUpForward, warmUpJson, type LineKind } from './lib/senders.js';

/**
 * The end-to-end figures of issue 8: records go into an agent through an input (tcp json, forward,
 * tail) and out through the websocket output to a `ws` server in a separate process (lib/sink.ts)
 * that counts them and measures latency. Per run: records/s from the first record sent to the last
 * received, the agent's CPU (user+sys from /proc) per million records, its idle RSS (VmRSS once the
 * warm-up record has reached the sink and IDLE_SETTLE_MS more have passed, before the clock starts)
 * and peak RSS (VmHWM, over the whole run), p50/p99
 * latency from send to sink receipt (every 100th record carries its send time), and the CPU of the
 * sink and of the sender (this process), to show neither was the limit. With FLUENT_BIT set, every run
 * is repeated through Fluent Bit with the same .conf, back to back, and a ratio row follows.
 *
 * What an agent loses or garbles is reported, not fatal: the sender reconnects when an agent drops its
 * connection (Fluent Bit's tcp input closes them all when Mem_Buf_Limit pauses it), the sink counts
 * corrupt messages and connections that never upgraded, and a run ends when every record has arrived
 * or nothing has arrived for STALL_MS. The "delivered" column then gives sent, received and lost.
 *
 * Knobs: WSBIT_BENCH_RECORDS (100 B records per run), WSBIT_BENCH_RECORDS_1KB, WSBIT_BENCH_RUNS (the
 * median run by records/s is shown), WSBIT_BENCH_SCENARIOS (ids, comma-separated), WSBIT_BENCH_SIZES
 * (100,1000), WSBIT_BENCH_MEM_BUF_LIMIT (default 8M; 0 for none), WSBIT_BENCH_EXTRA / WSBIT_BENCH_INPUT_EXTRA (key=value settings added to wsbit's
 * [OUTPUT] / [INPUT]), WSBIT_BENCH_NODE_ARGS (node flags for wsbit, e.g. --cpu-prof), WSBIT_BENCH_AGENTS
 * (wsbit,fluent-bit: which of them run), WSBIT_BENCH_QUICK.
 *
 * At the end it prints the README's summary table (bench/lib/readme.ts; WSBIT_BENCH_README=1 writes it
 * into the README's `bench:websocket` block, or `bench:websocket-unlimited` with
 * WSBIT_BENCH_MEM_BUF_LIMIT=0).
 */

interface Scenario {
  id: string;
  title: string;
  /** The README summary's name for it. */
  short: string;
  input: InputSpec['name'];
  format: 'json_lines' | 'msgpack';
  /** How the send time looks in what the sink receives. */
  marker: 'json' | 'escaped' | 'msgpack';
  /** tail: what the lines look like, and whether they go through the docker parser. */
  lines?: LineKind;
  parser?: 'docker';
  /** Input key `multiline.parser` (both agents). */
  multiline?: 'cri';
  /** storage.type filesystem on the input. */
  filesystem?: boolean;
  /** Record sizes, when not WSBIT_BENCH_SIZES. */
  sizes?: number[];
  /** The kubernetes filter on a container log tag, its pod's metadata from a preload cache directory. */
  kubernetes?: boolean;
}

const SCENARIOS: Scenario[] = [
  { id: 'tcp-json_lines', title: 'tcp json → websocket json_lines', short: 'tcp json → websocket json_lines', input: 'tcp', format: 'json_lines', marker: 'json' },
  { id: 'tcp-msgpack', title: 'tcp json → websocket msgpack', short: 'tcp json → websocket msgpack', input: 'tcp', format: 'msgpack', marker: 'msgpack' },
  { id: 'forward-msgpack', title: 'forward (PackedForward, 1000 entries a message) → websocket msgpack', short: 'forward → websocket msgpack', input: 'forward', format: 'msgpack', marker: 'msgpack' },
  // Without a parser tail keeps each line whole under "log", so the JSON line arrives escaped.
  { id: 'tail-json_lines', title: 'tail (JSON lines, no parser) → websocket json_lines', short: 'tail (no parser) → websocket json_lines', input: 'tail', format: 'json_lines', marker: 'escaped' },
  // The container-log case: the same JSON lines behind a CRI header, through the cri multiline parser.
  {
    id: 'tail-cri-json_lines',
    title: 'tail (CRI lines, multiline.parser cri) → websocket json_lines',
    short: 'tail CRI lines, multiline.parser cri → websocket json_lines',
    input: 'tail',
    format: 'json_lines',
    marker: 'escaped',
    lines: 'cri',
    multiline: 'cri',
  },
  // The same CRI lines tagged as a container log, through the kubernetes filter on a preload cache.
  {
    id: 'tail-cri-kubernetes',
    title: 'tail (CRI lines, multiline.parser cri) → kubernetes filter (preload cache) → websocket json_lines',
    short: 'tail CRI lines, multiline.parser cri, kubernetes filter → websocket json_lines',
    input: 'tail',
    format: 'json_lines',
    marker: 'escaped',
    lines: 'cri',
    multiline: 'cri',
    kubernetes: true,
    sizes: [1000],
  },
  {
    id: 'tail-container-fs',
    title: 'tail (container JSON log lines, Parser docker, storage.type filesystem) → websocket json_lines',
    short: 'tail container logs, Parser docker, filesystem storage → json_lines',
    input: 'tail',
    format: 'json_lines',
    marker: 'json',
    lines: 'container',
    parser: 'docker',
    filesystem: true,
    sizes: [1000],
  },
];

const BENCH_CONTAINER_ID = 'b3'.repeat(32);
/** A pod as the API server describes one: labels, annotations, owner, node, IP, container status. */
const BENCH_POD = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: {
    name: 'bench-7d4b9c6f5-x2x9z',
    namespace: 'bench',
    uid: '0b9c4e3a-5d7f-4a8e-9c1b-2f6d8e7a9b10',
    labels: { app: 'bench', 'pod-template-hash': '7d4b9c6f5', tier: 'backend' },
    annotations: { 'prometheus.io/scrape': 'true', 'kubectl.kubernetes.io/restartedAt': '2026-12-01T09:59:00Z' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'bench-7d4b9c6f5', uid: '6a1f2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b', controller: true }],
  },
  spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'registry.example.com/bench:1.0' }] },
  status: {
    podIP: '10.244.1.23',
    containerStatuses: [{ name: 'app', image: 'registry.example.com/bench:1.0', imageID: 'registry.example.com/bench@sha256:' + 'c4'.repeat(32), containerID: `containerd://${BENCH_CONTAINER_ID}` }],
  },
};

/** The kubernetes scenario's tag and filter: its pod's metadata in a preload cache directory, no API server. */
function kubernetesSetup(dir: string): { tag: string; filters: Array<Array<[string, string | number]>> } {
  const cache = path.join(dir, 'kube-cache');
  mkdirSync(cache);
  writeFileSync(path.join(cache, `bench_${BENCH_POD.metadata.name}.meta`), JSON.stringify(BENCH_POD));
  return {
    tag: `kube.var.log.containers.${BENCH_POD.metadata.name}_bench_app-${BENCH_CONTAINER_ID}.log`,
    filters: [
      [
        ['Name', 'kubernetes'],
        ['Match', 'kube.*'],
        ['Kube_Meta_Preload_Cache_Dir', cache],
        // Never asked: the pod is in the cache. Fluent Bit, outside a pod, skips its start-up checks.
        ['Kube_URL', 'http://127.0.0.1:9'],
        ['DNS_Retries', 1],
        ['DNS_Wait_Time', 1],
      ],
    ],
  };
}

/** Fluent Bit's docker parser (its conf/parsers.conf), written next to the generated .conf. */
const DOCKER_PARSER = ['[PARSER]', '    Name        docker', '    Format      json', '    Time_Key    time', '    Time_Format %Y-%m-%dT%H:%M:%S.%L', '    Time_Keep   On', ''].join('\n');
/**
 * A run ends when nothing has reached the sink for this long (or every record has): longer than
 * Fluent Bit's first retry waits (6–11 s with scheduler.base 5, SPEC §4), so a retried chunk is not
 * counted lost.
 */
const STALL_MS = quick ? 15_000 : 25_000;

const FLUSH_SECONDS = 0.2;
/**
 * Idle RSS is read this long after the warm-up record reached the sink: the agent has started, its
 * input and output are connected and one chunk has gone through, and nothing else is coming.
 */
const IDLE_SETTLE_MS = 1_000;
/**
 * Both agents get this Mem_Buf_Limit on the input, as Fluent Bit's docs advise for production: at full
 * load the sender outruns any output, and without a limit (the default in both) the difference queues
 * in memory. WSBIT_BENCH_MEM_BUF_LIMIT=0 measures that unlimited case.
 */
const MEM_BUF_LIMIT = process.env.WSBIT_BENCH_MEM_BUF_LIMIT ?? '8M';
const memBufLimitKeys: Array<[string, string]> = MEM_BUF_LIMIT === '0' ? [] : [['Mem_Buf_Limit', MEM_BUF_LIMIT]];
/** How far the tail writer may run ahead of the sink. */
const TAIL_WINDOW_BYTES = 8 * 1024 * 1024;

/** Log lines that explain a loss: handshakes (one per upgraded connection), input pauses, retries, drops. */
const LOG_EVIDENCE = ['handshake for ws', 'paused (mem buf overlimit', 'failed to flush chunk', 'cannot be retried', 'connection down', 'rejected'];

interface RunResult {
  /** Records sent; `records` is how many arrived. */
  sent: number;
  records: number;
  seconds: number;
  cpuSeconds: number;
  idleRssMb: number;
  peakRssMb: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
  sinkCpuSeconds: number;
  /** This process: the sender (and the tail writer). */
  senderCpuSeconds: number;
  /** Times the agent closed or reset the sender's connection; sink connections (upgraded / not); corrupt messages. */
  resets: number;
  connections: number;
  tcpConnections: number;
  notHttp: number;
  corruptMessages: number;
}

function sendOne(port: number, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** Fails fast, with the end of the agent's log, when the agent dies while being waited for. */
async function waitFor(agent: Spawned, agentName: string, condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const exited = (): boolean => agent.child.exitCode !== null || agent.child.signalCode !== null;
  await waitUntil(() => condition() || exited(), timeoutMs, () => `${what()}\n--- end of ${agentName}'s log ---\n${agent.stderr().slice(-3000)}`);
  if (!condition()) throw new Error(`${agentName} exited (${agent.child.exitCode ?? agent.child.signalCode}) while waiting for ${what()}\n${agent.stderr().slice(-3000)}`);
}

async function runOnce(agent: Agent, scenario: Scenario, recordBytes: number, records: number): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-e2e-'));
  let sink: Sink | null = null;
  let agentProcess: Spawned | null = null;
  try {
    sink = await startSink({ format: scenario.format, marker: scenario.marker });
    const input: InputSpec =
      scenario.input === 'tail' ? { name: 'tail', path: path.join(dir, 'bench.log') } : { name: scenario.input, port: await freePort() };
    if (input.name === 'tail') writeFileSync(input.path, '');
    const conf = path.join(dir, 'bench.conf');
    const ownKeys = agent === wsbit;
    const inputKeys: Array<[string, string | number]> = [...memBufLimitKeys];
    const serviceKeys: Array<[string, string | number]> = [];
    if (scenario.parser !== undefined) {
      writeFileSync(path.join(dir, 'parsers.conf'), DOCKER_PARSER);
      serviceKeys.push(['Parsers_File', path.join(dir, 'parsers.conf')]);
      inputKeys.push(['Parser', scenario.parser]);
    }
    if (scenario.multiline !== undefined) inputKeys.push(['multiline.parser', scenario.multiline]);
    if (scenario.filesystem === true) {
      serviceKeys.push(['storage.path', path.join(dir, 'storage')]);
      inputKeys.push(['storage.type', 'filesystem']);
    }
    const kubernetes = scenario.kubernetes === true ? kubernetesSetup(dir) : null;
    writeFileSync(
      conf,
      classicConf({
        ...(kubernetes ?? {}),
        input,
        inputKeys: [...inputKeys, ...(ownKeys ? keysFromEnv('WSBIT_BENCH_INPUT_EXTRA') : [])],
        output: { port: sink.port, format: scenario.format },
        outputKeys: ownKeys ? keysFromEnv('WSBIT_BENCH_EXTRA') : [],
        serviceKeys,
        flushSeconds: FLUSH_SECONDS,
      }),
    );
    const running = agent.start(conf);
    agentProcess = running;
    const activeSink = sink;

    // One record end to end before the clock starts: the input listens and the websocket is up.
    if (input.name === 'tail') {
      writeFileSync(input.path, warmUpJson(recordBytes, scenario.lines), { flag: 'a' });
    } else {
      await waitForPort(input.port, 15_000, agent.name, running);
      await sendOne(input.port, input.name === 'tcp' ? warmUpJson(recordBytes) : warmUpForward(recordBytes));
    }
    await waitFor(running, agent.name, () => activeSink.records() >= 1, 20_000, () => 'the warm-up record at the sink');
    const baseline = activeSink.records();
    const pid = running.child.pid as number;
    await sleep(IDLE_SETTLE_MS);
    const idleRssMb = currentRssMb(pid);

    const before = processStats(pid);
    const sinkBefore = activeSink.stats();
    const senderBefore = process.cpuUsage();
    const startedMs = performance.now();
    let resets = 0;
    if (input.name === 'tcp') resets = (await sendTcpJson(input.port, recordBytes, records)).resets;
    else if (input.name === 'forward') resets = (await sendForward(input.port, recordBytes, records)).resets;
    else {
      await appendLines(input.path, recordBytes, records, () => activeSink.records() - baseline, Math.ceil(TAIL_WINDOW_BYTES / recordBytes), scenario.lines, STALL_MS);
    }
    const arrived = (): number => activeSink.records() - baseline;
    // Every record, or a stall: then what is missing is reported as lost rather than failing the run.
    await waitFor(
      running,
      agent.name,
      () => arrived() >= records || performance.now() - Math.max(activeSink.lastRecordAtMs(), startedMs) > STALL_MS,
      60_000 + records / 5,
      () => `${records} records at the sink (${arrived()} so far)`,
    );
    const seconds = ((arrived() >= records ? performance.now() : activeSink.lastRecordAtMs()) - startedMs) / 1000;
    const after = processStats(pid);
    const sinkAfter = activeSink.stats();
    const senderUsage = process.cpuUsage(senderBefore);
    const report = await activeSink.report();
    if (arrived() < records || report.corruptMessages > 0 || report.tcpConnections > report.connections) {
      // The evidence for the "delivered" column, from the agent's own log.
      const log = running.stderr();
      const counts = LOG_EVIDENCE.map((pattern) => `${log.split(pattern).length - 1}× "${pattern}"`).join(', ');
      console.error(`${agent.name}, ${scenario.id}, ${recordBytes} B: ${arrived()} of ${records} records arrived; its log has ${counts}`);
    }
    return {
      sent: records,
      records: arrived(),
      seconds,
      cpuSeconds: after.cpuSeconds - before.cpuSeconds,
      idleRssMb,
      peakRssMb: after.peakRssMb,
      p50Ms: report.p50Ms,
      p99Ms: report.p99Ms,
      samples: report.samples,
      sinkCpuSeconds: sinkAfter.cpuSeconds - sinkBefore.cpuSeconds,
      senderCpuSeconds: (senderUsage.user + senderUsage.system) / 1e6,
      resets,
      connections: report.connections,
      tcpConnections: report.tcpConnections,
      notHttp: report.notHttp,
      corruptMessages: report.corruptMessages,
    };
  } finally {
    if (agentProcess !== null) await stopProcess(agentProcess);
    await sink?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The median of `runs` runs by records/s, so one noisy run does not make the figure. */
async function measure(agent: Agent, scenario: Scenario, recordBytes: number, records: number, runs: number): Promise<RunResult> {
  const results: RunResult[] = [];
  for (let run = 0; run < runs; run++) results.push(await runOnce(agent, scenario, recordBytes, records));
  results.sort((a, b) => a.records / a.seconds - b.records / b.seconds);
  return results[Math.floor(runs / 2)] as RunResult;
}

/** `all`, or what went wrong: records lost, connections the agent dropped, garbage the sink received. */
function delivery(result: RunResult): string {
  const notes: string[] = [];
  const lost = result.sent - result.records;
  if (lost > 0) notes.push(`lost ${lost.toLocaleString('en')} of ${result.sent.toLocaleString('en')} (${((lost / result.sent) * 100).toFixed(1)}%)`);
  if (result.corruptMessages > 0) notes.push(`${result.corruptMessages} corrupt messages`);
  const unupgraded = result.tcpConnections - result.connections;
  if (unupgraded > 0) notes.push(`${unupgraded} sink connections never upgraded (${result.notHttp} not HTTP)`);
  if (result.resets > 0) notes.push(`input dropped the sender ${result.resets}×`);
  return notes.length === 0 ? 'all' : notes.join('; ');
}

const sizeLabel = (recordBytes: number): string => (recordBytes >= 1000 ? `${recordBytes / 1000} KB` : `${recordBytes} B`);

function row(agentName: string, recordBytes: number, result: RunResult): Record<string, string | number> {
  return {
    agent: agentName,
    'record size': sizeLabel(recordBytes),
    'records received': result.records.toLocaleString('en'),
    seconds: result.seconds.toFixed(2),
    'records/s': Math.round(result.records / result.seconds).toLocaleString('en'),
    'CPU s / 1M rec': ((result.cpuSeconds / result.records) * 1e6).toFixed(2),
    'idle RSS MB': result.idleRssMb.toFixed(0),
    'peak RSS MB': result.peakRssMb.toFixed(0),
    'p50 ms': formatMs(result.p50Ms),
    'p99 ms': formatMs(result.p99Ms),
    'sink CPU': `${Math.round((result.sinkCpuSeconds / result.seconds) * 100)}%`,
    'sender CPU': `${Math.round((result.senderCpuSeconds / result.seconds) * 100)}%`,
    delivered: delivery(result),
  };
}

function ratioRow(recordBytes: number, ours: RunResult, theirs: RunResult): Record<string, string | number> {
  return {
    agent: 'wsbit ÷ Fluent Bit',
    'record size': sizeLabel(recordBytes),
    'records received': '',
    seconds: formatRatio(ours.seconds / theirs.seconds),
    'records/s': formatRatio(ours.records / ours.seconds / (theirs.records / theirs.seconds)),
    'CPU s / 1M rec': formatRatio(ours.cpuSeconds / ours.records / (theirs.cpuSeconds / theirs.records)),
    'idle RSS MB': formatRatio(ours.idleRssMb / theirs.idleRssMb),
    'peak RSS MB': formatRatio(ours.peakRssMb / theirs.peakRssMb),
    'p50 ms': formatRatio(ours.p50Ms / theirs.p50Ms),
    'p99 ms': formatRatio(ours.p99Ms / theirs.p99Ms),
    'sink CPU': '',
    'sender CPU': '',
    delivered: '',
  };
}

function failedRow(agentName: string, recordBytes: number, error: unknown): Record<string, string | number> {
  return { agent: agentName, 'record size': sizeLabel(recordBytes), 'records received': `failed: ${(error as Error).message.split('\n')[0] ?? ''}` };
}

const runs = Number(process.env['WSBIT_BENCH_RUNS'] ?? (quick ? 1 : 3));
const wanted = process.env['WSBIT_BENCH_SCENARIOS']?.split(',').map((id) => id.trim());
const unknown = wanted?.filter((id) => !SCENARIOS.some((scenario) => scenario.id === id)) ?? [];
if (unknown.length > 0) throw new Error(`WSBIT_BENCH_SCENARIOS: unknown ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
const sizesFromEnv = process.env['WSBIT_BENCH_SIZES']?.split(',').map(Number);
const runWsbit = agentWanted('wsbit');
const recordsFor = (recordBytes: number): number =>
  recordBytes < 1000 ? Number(process.env['WSBIT_BENCH_RECORDS'] ?? scaled(1_000_000)) : Number(process.env['WSBIT_BENCH_RECORDS_1KB'] ?? scaled(1_000_000));

const fluentBit = fluentBitFromEnv();
const runFluentBit = 'agent' in fluentBit && agentWanted('fluent-bit');
if ('skipped' in fluentBit) console.log(`\nFluent Bit comparison skipped: ${fluentBit.skipped}.`);
else if (runFluentBit) {
  console.log(
    `\nRunning every scenario through ${fluentBit.version} too (FLUENT_BIT=${process.env['FLUENT_BIT'] ?? ''}). ` +
      'Both agents read the same generated .conf (bench/lib/agents.ts), one after the other.',
  );
}

/** What each scenario and size gave, for the README summary: null when the agent was not run. */
interface Measured {
  scenario: Scenario;
  recordBytes: number;
  records: number;
  ours: RunResult | 'failed' | null;
  theirs: RunResult | 'failed' | null;
}
const measured: Measured[] = [];

let failures = 0;
for (const scenario of SCENARIOS.filter((candidate) => wanted === undefined || wanted.includes(candidate.id))) {
  const rows: Array<Record<string, string | number>> = [];
  for (const recordBytes of sizesFromEnv ?? scenario.sizes ?? [100, 1000]) {
    const records = recordsFor(recordBytes);
    let ours: RunResult | null = null;
    const summary: Measured = { scenario, recordBytes, records, ours: null, theirs: null };
    measured.push(summary);
    if (runWsbit) {
      try {
        ours = await measure(wsbit, scenario, recordBytes, records, runs);
        summary.ours = ours;
        rows.push(row('wsbit', recordBytes, ours));
      } catch (error) {
        failures++;
        summary.ours = 'failed';
        rows.push(failedRow('wsbit', recordBytes, error));
        console.error(error);
      }
    }
    if ('agent' in fluentBit && runFluentBit) {
      try {
        const theirs = await measure(fluentBit.agent, scenario, recordBytes, records, runs);
        summary.theirs = theirs;
        rows.push(row('Fluent Bit', recordBytes, theirs));
        if (ours !== null) rows.push(ratioRow(recordBytes, ours, theirs));
      } catch (error) {
        failures++;
        summary.theirs = 'failed';
        rows.push(failedRow('Fluent Bit', recordBytes, error));
        console.error(error);
      }
    }
  }
  printTable(
    `${scenario.title}${quick ? ' [QUICK: a tenth of the records]' : ''} — Flush ${FLUSH_SECONDS}, ${MEM_BUF_LIMIT === '0' ? 'no Mem_Buf_Limit' : `Mem_Buf_Limit ${MEM_BUF_LIMIT}`}, otherwise defaults (confirm_delivery on); ` +
      `${runs === 1 ? 'one run' : `median of ${runs} runs`}; sender, agent and sink share the 2 cores; ` +
      `latency: send → sink receipt, every ${SAMPLE_EVERY}th record${scenario.input === 'tail' ? `, writer at most ${TAIL_WINDOW_BYTES / 1024 / 1024} MB ahead of the sink` : ''}`,
    rows,
  );
}

/** The README's delivered cell: `all`, or the share that arrived and why the rest did not. */
function deliveredShort(result: RunResult): string {
  const notes: string[] = [];
  if (result.resets > 0) notes.push(`${result.resets} drops`);
  const unupgraded = result.tcpConnections - result.connections;
  if (unupgraded > 0) notes.push(`${unupgraded} never upgraded`);
  if (result.corruptMessages > 0) notes.push(`${result.corruptMessages} corrupt`);
  const share = result.records >= result.sent ? 'all' : `${((result.records / result.sent) * 100).toFixed(1)} %`;
  return notes.length === 0 ? share : `${share} (${notes.join(', ')})`;
}

/** The README summary: one row a scenario and size, each cell `wsbit / FB (ratio)` when both ran. */
function summaryRows(): Array<Record<string, string | number>> {
  const threeFigures = (value: number): string => Number(value.toPrecision(3)).toLocaleString('en');
  const figures: Array<{ heading: string; value: (result: RunResult) => number; format: (value: number) => string }> = [
    { heading: 'records/s', value: (result) => result.records / result.seconds, format: threeFigures },
    { heading: 'CPU s per 1M records', value: (result) => (result.cpuSeconds / result.records) * 1e6, format: (value) => value.toFixed(2) },
    { heading: 'idle RSS MB', value: (result) => result.idleRssMb, format: (value) => value.toFixed(0) },
    { heading: 'peak RSS MB', value: (result) => result.peakRssMb, format: (value) => value.toFixed(0) },
  ];
  const both = (heading: string): string => (runFluentBit ? `${heading} wsbit / FB${runWsbit ? ' (ratio)' : ''}` : heading);
  const cell = (result: RunResult | 'failed' | null, show: (result: RunResult) => string): string[] =>
    result === null ? [] : [result === 'failed' ? 'failed' : show(result)];
  return measured.map(({ scenario, recordBytes, ours, theirs }) => {
    const row: Record<string, string | number> = { scenario: scenario.short, size: sizeLabel(recordBytes) };
    for (const { heading, value, format } of figures) {
      const text = [...cell(ours, (result) => format(value(result))), ...cell(theirs, (result) => format(value(result)))].join(' / ');
      const ratio = typeof ours === 'object' && ours !== null && typeof theirs === 'object' && theirs !== null ? ` (${formatRatio(value(ours) / value(theirs))})` : '';
      row[both(heading)] = text + ratio;
    }
    row[runFluentBit && runWsbit ? 'delivered wsbit / FB' : 'delivered'] = [...cell(ours, deliveredShort), ...cell(theirs, deliveredShort)].join(' / ');
    return row;
  });
}

if (measured.length > 0 && (runWsbit || runFluentBit)) {
  const sizes = [...new Set(measured.map(({ recordBytes, records }) => `${records.toLocaleString('en')} records of ${sizeLabel(recordBytes)}`))];
  const facts = [
    ...('agent' in fluentBit && runFluentBit ? [fluentBit.version] : []),
    `${sizes.join(' or ')} per run${quick ? ' (QUICK)' : ''}`,
    runs === 1 ? 'one run each' : `the median of ${runs} runs by records/s`,
    `Flush ${FLUSH_SECONDS}, delivery confirmation on, ${MEM_BUF_LIMIT === '0' ? 'no Mem_Buf_Limit' : `\`Mem_Buf_Limit ${MEM_BUF_LIMIT}\` on the input`}`,
    `idle RSS is VmRSS ${IDLE_SETTLE_MS / 1000} s after the warm-up record reached the sink, peak RSS is VmHWM`,
  ];
  const legend = runFluentBit && runWsbit ? '\n\nFB is Fluent Bit; ratios are wsbit ÷ FB (below 1 is better for CPU and RSS).' : '';
  const block = MEM_BUF_LIMIT === '8M' ? 'websocket' : MEM_BUF_LIMIT === '0' ? 'websocket-unlimited' : `websocket-mem-buf-limit-${MEM_BUF_LIMIT}`;
  publish(block, `${provenance(facts)}${legend}\n\n${markdownTable(summaryRows())}`);
}
process.exitCode = failures === 0 ? 0 : 1;
