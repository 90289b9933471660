import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatMs, freePort, printTable, processStats, quick, scaled, stopProcess, waitForPort, waitUntil, type Spawned } from './harness.js';
import { classicConf, fluentBitFromEnv, keysFromEnv, wsbit, type Agent, type InputSpec } from './lib/agents.js';
import { startSink, type Sink } from './lib/sink-client.js';
import { appendLines, SAMPLE_EVERY, sendForward, sendTcpJson, warmUpForward, warmUpJson, type LineKind } from './lib/senders.js';

/**
 * The end-to-end figures of issue 8: records go into an agent through an input (tcp json, forward,
 * tail) and out through the websocket output to a `ws` server in a separate process (lib/sink.ts)
 * that counts them and measures latency. Per run: records/s from the first record sent to the last
 * received, the agent's CPU (user+sys from /proc) per million records, its peak RSS (VmHWM), p50/p99
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
 */

interface Scenario {
  id: string;
  title: string;
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
}

const SCENARIOS: Scenario[] = [
  { id: 'tcp-json_lines', title: 'tcp json → websocket json_lines', input: 'tcp', format: 'json_lines', marker: 'json' },
  { id: 'tcp-msgpack', title: 'tcp json → websocket msgpack', input: 'tcp', format: 'msgpack', marker: 'msgpack' },
  { id: 'forward-msgpack', title: 'forward (PackedForward, 1000 entries a message) → websocket msgpack', input: 'forward', format: 'msgpack', marker: 'msgpack' },
  // Without a parser tail keeps each line whole under "log", so the JSON line arrives escaped.
  { id: 'tail-json_lines', title: 'tail (JSON lines, no parser) → websocket json_lines', input: 'tail', format: 'json_lines', marker: 'escaped' },
  // The container-log case: the same JSON lines behind a CRI header, through the cri multiline parser.
  { id: 'tail-cri-json_lines', title: 'tail (CRI lines, multiline.parser cri) → websocket json_lines', input: 'tail', format: 'json_lines', marker: 'escaped', lines: 'cri', multiline: 'cri' },
  {
    id: 'tail-container-fs',
    title: 'tail (container JSON log lines, Parser docker, storage.type filesystem) → websocket json_lines',
    input: 'tail',
    format: 'json_lines',
    marker: 'json',
    lines: 'container',
    parser: 'docker',
    filesystem: true,
    sizes: [1000],
  },
];

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
    writeFileSync(
      conf,
      classicConf({
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
    'peak RSS MB': result.peakRssMb.toFixed(0),
    'p50 ms': formatMs(result.p50Ms),
    'p99 ms': formatMs(result.p99Ms),
    'sink CPU': `${Math.round((result.sinkCpuSeconds / result.seconds) * 100)}%`,
    'sender CPU': `${Math.round((result.senderCpuSeconds / result.seconds) * 100)}%`,
    delivered: delivery(result),
  };
}

function ratioRow(recordBytes: number, ours: RunResult, theirs: RunResult): Record<string, string | number> {
  const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');
  return {
    agent: 'wsbit ÷ Fluent Bit',
    'record size': sizeLabel(recordBytes),
    'records received': '',
    seconds: times(ours.seconds / theirs.seconds),
    'records/s': times(ours.records / ours.seconds / (theirs.records / theirs.seconds)),
    'CPU s / 1M rec': times(ours.cpuSeconds / ours.records / (theirs.cpuSeconds / theirs.records)),
    'peak RSS MB': times(ours.peakRssMb / theirs.peakRssMb),
    'p50 ms': times(ours.p50Ms / theirs.p50Ms),
    'p99 ms': times(ours.p99Ms / theirs.p99Ms),
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
const agentsWanted = (process.env['WSBIT_BENCH_AGENTS'] ?? 'wsbit,fluent-bit').split(',').map((name) => name.trim());
const runWsbit = agentsWanted.includes('wsbit');
const recordsFor = (recordBytes: number): number =>
  recordBytes < 1000 ? Number(process.env['WSBIT_BENCH_RECORDS'] ?? scaled(1_000_000)) : Number(process.env['WSBIT_BENCH_RECORDS_1KB'] ?? scaled(1_000_000));

const fluentBit = fluentBitFromEnv();
if ('skipped' in fluentBit) console.log(`\nFluent Bit comparison skipped: ${fluentBit.skipped}.`);
else {
  console.log(
    `\nRunning every scenario through ${fluentBit.version} too (FLUENT_BIT=${process.env['FLUENT_BIT'] ?? ''}). ` +
      'Both agents read the same generated .conf (bench/lib/agents.ts), one after the other.',
  );
}

let failures = 0;
for (const scenario of SCENARIOS.filter((candidate) => wanted === undefined || wanted.includes(candidate.id))) {
  const rows: Array<Record<string, string | number>> = [];
  for (const recordBytes of sizesFromEnv ?? scenario.sizes ?? [100, 1000]) {
    const records = recordsFor(recordBytes);
    let ours: RunResult | null = null;
    if (runWsbit) {
      try {
        ours = await measure(wsbit, scenario, recordBytes, records, runs);
        rows.push(row('wsbit', recordBytes, ours));
      } catch (error) {
        failures++;
        rows.push(failedRow('wsbit', recordBytes, error));
        console.error(error);
      }
    }
    if ('agent' in fluentBit && agentsWanted.includes('fluent-bit')) {
      try {
        const theirs = await measure(fluentBit.agent, scenario, recordBytes, records, runs);
        rows.push(row('Fluent Bit', recordBytes, theirs));
        if (ours !== null) rows.push(ratioRow(recordBytes, ours, theirs));
      } catch (error) {
        failures++;
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
process.exitCode = failures === 0 ? 0 : 1;
