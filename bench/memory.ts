import { currentRssMb, formatRatio, markdownTable, printTable, quick, sleep, spawnProcess, stopProcess, type Spawned } from './harness.js';
import { agentWanted, fluentBitFromEnv, wsbit, type Agent } from './lib/agents.js';
import { provenance, publish } from './lib/readme.js';
import { startSink } from './lib/sink-client.js';
import { slope, STEADY_LOAD_SETTINGS, steadyLoad, type SteadyLoadResult } from './lib/steady-load.js';

/**
 * Memory as a figure of its own (issue 23), for wsbit and, with FLUENT_BIT set, Fluent Bit:
 *
 * 1. Idle: `-i dummy -o websocket -p host=127.0.0.1 -p port=N` (the same arguments for both agents)
 *    against the sink, and the agent's RSS (VmRSS) 6 s after it was spawned; the median of
 *    WSBIT_BENCH_IDLE_RUNS (3) starts, the agents taking turns. A bare `node` process idling the same
 *    6 s is the floor wsbit stands on.
 * 2. Trend: tcp json (100 B) at 5,000 records/s → websocket json_lines → the sink for
 *    WSBIT_MEMORY_MINUTES (10; 1 with WSBIT_BENCH_QUICK=1; 0 leaves it out), RSS sampled every 10 s.
 *    The slope of the least-squares line through the samples after the first minute (the first
 *    quarter of a run shorter than 4 minutes), while the pools fill, must be under 1 MB a minute;
 *    a run shorter than JUDGED_MINUTES gets its verdict marked as too short to judge.
 *    Both agents run at once, each with its own sender and sink: the rate takes a few percent of a
 *    core each, and RSS is per process, so a plain run spends 10 minutes here rather than 20.
 *
 * It runs in a plain `npm run bench`. With WSBIT_BENCH_README=1 it writes its summary into the
 * README's `bench:memory` block.
 */
const IDLE_AFTER_MS = 6_000;
const idleRuns = Number(process.env['WSBIT_BENCH_IDLE_RUNS'] ?? 3);
const RECORD_BYTES = 100;
const RECORDS_PER_SECOND = 5_000;
const SAMPLE_EVERY_MS = 10_000;
const MAX_SLOPE_MB_PER_MINUTE = 1;
const IDLE_TARGET_MB = 50;
/** A shorter trend is mostly the pools filling: its slope says little (a quick run's is 45 s long). */
const JUDGED_MINUTES = 5;
const minutes = Number(process.env['WSBIT_MEMORY_MINUTES'] ?? (quick ? 1 : 10));
if (!Number.isFinite(minutes) || minutes < 0) throw new Error(`WSBIT_MEMORY_MINUTES must be a number ≥ 0, got '${process.env['WSBIT_MEMORY_MINUTES']}'`);
if (!Number.isInteger(idleRuns) || idleRuns < 1) throw new Error(`WSBIT_BENCH_IDLE_RUNS must be a whole number ≥ 1, got '${process.env['WSBIT_BENCH_IDLE_RUNS']}'`);
const warmUpMinutes = Math.min(1, minutes / 4);

const agents: Agent[] = agentWanted('wsbit') ? [wsbit] : [];
const fluentBit = fluentBitFromEnv();
if ('skipped' in fluentBit) console.log(`\nFluent Bit comparison skipped: ${fluentBit.skipped}.`);
else if (agentWanted('fluent-bit')) agents.push(fluentBit.agent);
const fluentBitFacts = 'agent' in fluentBit && agents.includes(fluentBit.agent) ? [fluentBit.version] : [];
/** Node's floor: the runtime with nothing loaded, beside the agents. */
const bareNode: Agent = { name: 'node (bare, for reference)', start: () => bareNodeProcess(), run: () => bareNodeProcess() };
function bareNodeProcess(): Spawned {
  return spawnProcess(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const mb = (value: number): string => value.toFixed(1);

interface Idle {
  rssMb: number;
  records: number;
}

/** One start: the sink first, so its own start-up is not in the window; RSS 6 s after the agent's spawn. */
async function idleOnce(agent: Agent): Promise<Idle> {
  const sink = await startSink({ format: 'msgpack', marker: 'msgpack' });
  const running = agent.run(['-i', 'dummy', '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${sink.port}`]);
  try {
    await sleep(IDLE_AFTER_MS);
    if (running.child.exitCode !== null || running.child.signalCode !== null) throw new Error(`${agent.name} exited while idle\n${running.stderr().slice(-3000)}`);
    return { rssMb: currentRssMb(running.child.pid as number), records: sink.records() };
  } finally {
    await stopProcess(running);
    await sink.stop();
  }
}

async function idle(): Promise<{ rows: Array<Record<string, string | number>>; wsbitMb: number | null }> {
  const measured = [...agents, bareNode];
  const results = new Map<Agent, Idle[]>(measured.map((agent) => [agent, []]));
  // Taking turns, so a busy spell on the shared machine falls on every agent alike.
  for (let run = 0; run < idleRuns; run++) for (const agent of measured) results.get(agent)?.push(await idleOnce(agent));
  const medianOf = (agent: Agent): number => median((results.get(agent) ?? []).map((result) => result.rssMb));
  const heading = `idle RSS MB, ${IDLE_AFTER_MS / 1000} s after start (median of ${idleRuns})`;
  const rows: Array<Record<string, string | number>> = measured.map((agent) => {
    const runs = results.get(agent) ?? [];
    const rss = runs.map((result) => result.rssMb);
    return {
      agent: agent.name,
      [heading]: mb(medianOf(agent)),
      'min – max': `${mb(Math.min(...rss))} – ${mb(Math.max(...rss))}`,
      'records at the sink': agent === bareNode ? '' : runs.map((result) => result.records).join(' / '),
    };
  });
  const theirs = agents.find((agent) => agent !== wsbit);
  if (agents.includes(wsbit) && theirs !== undefined) {
    rows.splice(measured.indexOf(theirs) + 1, 0, { agent: `wsbit ÷ ${theirs.name}`, [heading]: formatRatio(medianOf(wsbit) / medianOf(theirs)) });
  }
  return { rows, wsbitMb: agents.includes(wsbit) ? medianOf(wsbit) : null };
}

/** The minute-by-minute series, one cell per agent: its samples in that minute, every 10 s. */
function seriesRows(results: Map<Agent, SteadyLoadResult>): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [];
  for (let minute = 0; minute <= Math.ceil(minutes); minute++) {
    const row: Record<string, string | number> = { minute };
    for (const [agent, result] of results) {
      const inMinute = result.samples.filter(([at]) => Math.floor(at + 1e-6) === minute);
      row[`${agent.name} RSS MB every ${SAMPLE_EVERY_MS / 1000} s`] = inMinute.map(([, rss]) => mb(rss)).join(' ');
    }
    if (Object.values(row).some((cell) => cell !== '' && cell !== minute)) rows.push(row);
  }
  return rows;
}

const slopeAfterWarmUp = (result: SteadyLoadResult): number => slope(result.samples.filter(([at]) => at >= warmUpMinutes - 1e-6));

function trendRows(results: Map<Agent, SteadyLoadResult>): Array<Record<string, string | number>> {
  const slopeHeading = `RSS slope after minute ${+warmUpMinutes.toFixed(2)}`;
  const rows: Array<Record<string, string | number>> = [...results].map(([agent, result]) => {
    const perMinute = slopeAfterWarmUp(result);
    return {
      agent: agent.name,
      'records sent / received': `${result.sent.toLocaleString('en')} / ${result.received.toLocaleString('en')}`,
      'agent CPU': `${((result.cpuSeconds / result.seconds) * 100).toFixed(1)}%`,
      'RSS MB first / last sample': `${mb(result.samples[0]?.[1] ?? 0)} / ${mb(result.samples[result.samples.length - 1]?.[1] ?? 0)}`,
      'peak RSS MB': mb(result.peakRssMb),
      [slopeHeading]: `${perMinute.toFixed(3)} MB/min`,
      [`< ${MAX_SLOPE_MB_PER_MINUTE} MB/min`]: `${perMinute < MAX_SLOPE_MB_PER_MINUTE ? 'pass' : 'FAIL'}${minutes < JUDGED_MINUTES ? ' (too short to judge)' : ''}`,
    };
  });
  const ours = [...results].find(([agent]) => agent === wsbit)?.[1];
  const theirs = [...results].find(([agent]) => agent !== wsbit);
  if (ours !== undefined && theirs !== undefined) {
    const last = (result: SteadyLoadResult): number => result.samples[result.samples.length - 1]?.[1] ?? Number.NaN;
    rows.push({
      agent: `wsbit ÷ ${theirs[0].name}`,
      'agent CPU': formatRatio(ours.cpuSeconds / ours.seconds / (theirs[1].cpuSeconds / theirs[1].seconds)),
      'RSS MB first / last sample': `${formatRatio((ours.samples[0]?.[1] ?? 0) / (theirs[1].samples[0]?.[1] ?? 0))} / ${formatRatio(last(ours) / last(theirs[1]))}`,
      'peak RSS MB': formatRatio(ours.peakRssMb / theirs[1].peakRssMb),
    });
  }
  return rows;
}

async function trend(): Promise<Map<Agent, SteadyLoadResult>> {
  const into = agents.map((agent) => agent.name).join(' and ') + (agents.length > 1 ? ' at once' : '');
  console.log(`\nmemory: ${minutes} min at ${RECORDS_PER_SECOND.toLocaleString('en')} records/s into ${into}`);
  const settled = await Promise.allSettled(
    agents.map((agent) =>
      steadyLoad({
        agent,
        minutes,
        recordsPerSecond: RECORDS_PER_SECOND,
        recordBytes: RECORD_BYTES,
        sampleEveryMs: SAMPLE_EVERY_MS,
        stallMs: 25_000,
        progress: (line) => console.log(line),
      }),
    ),
  );
  const results = new Map<Agent, SteadyLoadResult>();
  settled.forEach((outcome, i) => {
    const agent = agents[i] as Agent;
    if (outcome.status === 'fulfilled') results.set(agent, outcome.value);
    else {
      console.error(`memory trend, ${agent.name}:`, outcome.reason);
      process.exitCode = 1;
    }
  });
  return results;
}

const idleTitle = `Idle: \`-i dummy -o websocket\` into the sink, RSS ${IDLE_AFTER_MS / 1000} s after start, median of ${idleRuns} starts taking turns`;
const { rows: idleTable, wsbitMb } = await idle();
printTable(idleTitle, idleTable);
if (wsbitMb !== null) console.log(`\nwsbit idle: ${mb(wsbitMb)} MB against a target of ≤ ${IDLE_TARGET_MB} MB: ${wsbitMb <= IDLE_TARGET_MB ? 'met' : 'not met'}.`);
const readme = [idleTitle.replace(/^Idle/, '**Idle**') + ':', '', markdownTable(idleTable)];
if (minutes > 0 && agents.length > 0) {
  const results = await trend();
  const trendTitle =
    `Trend: tcp json ${RECORD_BYTES} B at ${RECORDS_PER_SECOND.toLocaleString('en')} records/s → websocket json_lines for ${minutes} min (${STEADY_LOAD_SETTINGS}), ` +
    `RSS sampled every ${SAMPLE_EVERY_MS / 1000} s; the slope is the least-squares line after minute ${+warmUpMinutes.toFixed(2)}` +
    `${results.size > 1 ? '; the agents ran at the same time' : ''}${quick ? ' [QUICK]' : ''}`;
  printTable(`${trendTitle}: RSS MB by minute`, seriesRows(results));
  const trendTable = trendRows(results);
  printTable(trendTitle, trendTable);
  readme.push('', trendTitle.replace(/^Trend/, '**Trend**') + ':', '', markdownTable(trendTable));
}
publish('memory', [provenance(fluentBitFacts), '', ...readme].join('\n'));
