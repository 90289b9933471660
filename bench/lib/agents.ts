import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { spawnProcess, spawnWsbit, type Spawned } from '../harness.js';

/**
 * The agents under test and the one configuration both of them run: a classic `.conf` file, which
 * wsbit reads as Fluent Bit does, so a side-by-side run differs only in the binary.
 *
 * Checked against Fluent Bit 5.1.1 (FLUENT_BIT=…/fluent-bit npm run bench): it starts from this
 * .conf and delivers over the websocket output.
 *   - `Host`, `Port`, `URI` and `Format` are the websocket output's keys (SPEC §1.1); `json_lines` and
 *     `msgpack` are both valid formats, and msgpack arrives in TEXT frames (§1.7), which the sink accepts.
 *   - `Retry_Limit no_limits` (§4; Fluent Bit's default is 1), like wsbit's default for this output.
 *   - `Flush` is a double (§4); `Grace` is whole seconds.
 *   - The idle check (§1.3) cannot fire: flushes come every 0.2 s, far inside the 25 s idle interval.
 *   - tcp `Format json`, `forward` and `tail` keys as in SPEC §7 and Fluent Bit's documentation.
 * What Fluent Bit then loses is its own doing, and the bench reports it rather than failing:
 *   - its tcp input closes every client connection when Mem_Buf_Limit pauses it, and closes new ones
 *     at once until it resumes (plugins/in_tcp/tcp.c, in_tcp_pause); what was in flight is gone;
 *   - its websocket output keeps one handshake flag for all connections, so a flush that runs while
 *     another holds the upgraded connection writes frames on a fresh, never upgraded one (§1.9),
 *     which the server answers with 400 and closes, and the chunk is reported delivered.
 */

export interface Agent {
  name: string;
  start(confPath: string): Spawned;
  /** The agent with command-line arguments instead of a .conf (`-i dummy -o websocket …`, which both take). */
  run(args: string[]): Spawned;
}

export const wsbit: Agent = { name: 'wsbit', start: (confPath) => spawnWsbit(['-c', confPath]), run: spawnWsbit };

/** FLUENT_BIT as an agent, or the reason it cannot be one. */
export function fluentBitFromEnv(): { agent: Agent; version: string } | { skipped: string } {
  const binary = process.env['FLUENT_BIT'];
  if (binary === undefined || binary === '') {
    return {
      skipped:
        'FLUENT_BIT is not set; set FLUENT_BIT=/path/to/fluent-bit to run the same scenarios through it side by side',
    };
  }
  if (!existsSync(binary)) return { skipped: `FLUENT_BIT=${binary} does not exist` };
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    return { skipped: `FLUENT_BIT=${binary} --version failed: ${probe.error?.message ?? `exit status ${probe.status ?? 'none'}`}` };
  }
  const version = `${probe.stdout}${probe.stderr}`.split('\n').find((line) => line.trim() !== '') ?? binary;
  const run = (args: string[]): Spawned => spawnProcess(binary, args);
  return { agent: { name: 'Fluent Bit', start: (confPath) => run(['-c', confPath]), run }, version: version.trim() };
}

/** WSBIT_BENCH_AGENTS (default `wsbit,fluent-bit`): whether a benchmark runs this agent at all. */
export function agentWanted(name: 'wsbit' | 'fluent-bit'): boolean {
  return (process.env['WSBIT_BENCH_AGENTS'] ?? 'wsbit,fluent-bit').split(',').some((wanted) => wanted.trim() === name);
}

export type InputSpec =
  | { name: 'tcp'; port: number }
  | { name: 'forward'; port: number }
  | { name: 'tail'; path: string };

export interface PipelineSpec {
  input: InputSpec;
  /** Extra `[INPUT]` keys (Mem_Buf_Limit, storage.type, …). */
  inputKeys?: Array<[string, string | number]>;
  output: { port: number; format: 'json_lines' | 'msgpack' };
  outputKeys?: Array<[string, string | number]>;
  serviceKeys?: Array<[string, string | number]>;
  flushSeconds: number;
  /** The input's tag (default `bench`). */
  tag?: string;
  /** `[FILTER]` sections, in order, each its keys. */
  filters?: Array<Array<[string, string | number]>>;
}

function section(name: string, keys: Array<[string, string | number]>): string {
  const width = Math.max(...keys.map(([key]) => key.length)) + 1;
  return [`[${name}]`, ...keys.map(([key, value]) => `    ${key.padEnd(width)}${value}`)].join('\n');
}

/** The classic .conf for a pipeline: one input, its filters, the websocket output, Match *. */
export function classicConf(spec: PipelineSpec): string {
  const input: Array<[string, string | number]> = [['Name', spec.input.name]];
  if (spec.input.name === 'tail') {
    input.push(['Path', spec.input.path], ['Read_from_Head', 'On'], ['Refresh_Interval', 1]);
  } else {
    input.push(['Listen', '127.0.0.1'], ['Port', spec.input.port]);
    if (spec.input.name === 'tcp') input.push(['Format', 'json']);
  }
  input.push(['Tag', spec.tag ?? 'bench'], ...(spec.inputKeys ?? []));
  const output: Array<[string, string | number]> = [
    ['Name', 'websocket'],
    ['Match', '*'],
    ['Host', '127.0.0.1'],
    ['Port', spec.output.port],
    ['URI', '/'],
    ['Format', spec.output.format],
    ['Retry_Limit', 'no_limits'],
    ...(spec.outputKeys ?? []),
  ];
  const overrides = spec.serviceKeys ?? [];
  const defaults: Array<[string, string | number]> = [['Flush', spec.flushSeconds], ['Grace', 1], ['Log_Level', 'info']];
  const service = [...defaults.filter(([key]) => !overrides.some(([other]) => other.toLowerCase() === key.toLowerCase())), ...overrides];
  const filters = (spec.filters ?? []).map((keys) => section('FILTER', keys));
  return `${[section('SERVICE', service), section('INPUT', input), ...filters, section('OUTPUT', output)].join('\n\n')}\n`;
}

/** `WSBIT_BENCH_EXTRA`-style settings ("workers=2 -p net.keepalive=off") as .conf keys. */
export function keysFromEnv(name: string): Array<[string, string]> {
  return (process.env[name] ?? '')
    .split(' ')
    .filter((arg) => arg !== '' && arg !== '-p')
    .map((arg) => {
      const at = arg.indexOf('=');
      if (at <= 0) throw new Error(`${name}: expected key=value settings, got '${arg}'`);
      return [arg.slice(0, at), arg.slice(at + 1)];
    });
}
