import { parseCommandLine } from '../../src/cli/args.js';
import { loadRunnablePipeline } from '../../src/app/loader.js';
import { reportLoadMessages } from '../../src/app/service.js';
import { Agent } from '../../src/pipeline/agent.js';
import type { ChunkView } from '../../src/pipeline/chunk.js';
import type { EngineStopResult } from '../../src/pipeline/engine.js';
import { LogRoot, type LogLevel } from '../../src/base/logger.js';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { defaultRegistry, type PluginRegistry } from '../../src/plugins/registry.js';
import type { FlushResult } from '../../src/pipeline/contracts.js';
import { captureOutput } from './capture.js';
import { waitFor } from './wait.js';

export interface InProcessAgent {
  agent: Agent;
  /** Chunks the test-only `capture` output accepted. */
  chunks: ChunkView[];
  /** Every log line so far, in order. */
  lines: string[];
  events(): DecodedEvent[];
  logs(): string;
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** waitFor, with the agent's log in the error when it times out. */
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  countLines(pattern: RegExp): number;
  /** The bound port of the first tcp input. */
  tcpPort(): number;
  stop(): Promise<EngineStopResult>;
}

export interface InProcessOptions {
  /** The capture output's answer to each flush (default ok). */
  respond?: (chunk: ChunkView) => FlushResult;
  /** [SERVICE] keys the command line has no flag for. */
  service?: Record<string, string>;
  level?: LogLevel;
  registry?: PluginRegistry;
  /** Runs between building the agent and starting it (a hot reload hands listeners over here). */
  beforeStart?: (agent: Agent) => Promise<void>;
}

/**
 * Builds and starts a pipeline in this process from wsbit's own command-line syntax, loaded the way
 * bin/wsbit loads it (parsers files included), with the test-only `capture` output available
 * (`-o capture`). Set WSBIT_TEST_LOG=1 to see the log lines.
 */
export async function launchAgent(argv: string[], options: InProcessOptions = {}): Promise<InProcessAgent> {
  const store: { chunks: ChunkView[]; respond?: (chunk: ChunkView) => FlushResult } = { chunks: [] };
  if (options.respond !== undefined) store.respond = options.respond;
  const registry = options.registry ?? defaultRegistry();
  // A test that brings its own `capture` output keeps it; `chunks` then stays empty.
  if (registry.output('capture') === undefined) registry.register(captureOutput(store) as never);
  const commandLine = parseCommandLine(argv);
  for (const [key, value] of Object.entries(options.service ?? {})) commandLine.serviceEntries.push({ key, value });
  const pipeline = await loadRunnablePipeline(commandLine, registry);
  const lines: string[] = [];
  const echo = process.env['WSBIT_TEST_LOG'] === '1';
  const logRoot = new LogRoot({
    level: options.level ?? 'debug',
    sink: {
      write: (text) => {
        lines.push(text);
        if (echo) process.stderr.write(text);
      },
    },
  });
  reportLoadMessages(logRoot.scoped(''), pipeline);
  const agent = new Agent(pipeline, { logRoot });
  await options.beforeStart?.(agent);
  await agent.start();
  let stopped: Promise<EngineStopResult> | undefined;
  const logs = (): string => lines.join('');
  // The log as it is when a wait fails, not when it starts.
  const withLog = (waiting: Promise<void>): Promise<void> =>
    waiting.catch((error: Error) => {
      throw new Error(`${error.message}\n--- log ---\n${logs().slice(-6000)}`);
    });
  return {
    agent,
    chunks: store.chunks,
    lines,
    events: () => store.chunks.flatMap((chunk) => decodeEvents(chunk.data)),
    logs,
    waitForLog: (pattern, timeoutMs = 10_000) =>
      withLog(waitFor(() => (typeof pattern === 'string' ? logs().includes(pattern) : pattern.test(logs())), `log line ${String(pattern)}`, timeoutMs)),
    waitFor: (condition, what, timeoutMs = 10_000) => withLog(waitFor(condition, what, timeoutMs)),
    countLines: (pattern) => lines.filter((text) => pattern.test(text)).length,
    tcpPort() {
      const tcp = pipeline.inputs.find((input) => input.definition.name === 'tcp');
      const port = tcp === undefined ? null : (agent.input(tcp.instance)?.listeningPort?.() ?? null);
      if (port === null) throw new Error('the agent has no listening tcp input');
      return port;
    },
    stop: () => (stopped ??= agent.stop()),
  };
}

/** launchAgent with the capture output's answers and service keys as plain arguments. */
export function startAgent(
  argv: string[],
  respond?: (chunk: ChunkView) => FlushResult,
  service: Record<string, string> = {},
): Promise<InProcessAgent> {
  return launchAgent(argv, { ...(respond !== undefined ? { respond } : {}), service });
}
