import { parseCommandLine } from '../../src/cli/args.js';
import { buildPipeline } from '../../src/config/pipeline.js';
import { Agent } from '../../src/core/agent.js';
import type { ChunkView } from '../../src/core/chunk.js';
import { LogRoot } from '../../src/core/logger.js';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { ParserRegistry, loadParsersFile } from '../../src/parsers/registry.js';
import type { FlushResult } from '../../src/plugins/types.js';
import { captureOutput } from './capture.js';

export interface InProcessAgent {
  agent: Agent;
  chunks: ChunkView[];
  logs: string[];
  events(): DecodedEvent[];
  stop(): Promise<{ undeliveredRecords: number }>;
}

/**
 * Builds and starts a pipeline from command-line arguments, in this process, with the test-only
 * `capture` output available (`-o capture`).
 */
export async function startAgent(
  argv: string[],
  respond?: (chunk: ChunkView) => FlushResult,
  service: Record<string, string> = {},
): Promise<InProcessAgent> {
  const store: { chunks: ChunkView[]; respond?: (chunk: ChunkView) => FlushResult } = { chunks: [] };
  if (respond !== undefined) store.respond = respond;
  const registry = defaultRegistry().register(captureOutput(store) as never);
  const line = parseCommandLine(argv);
  const serviceEntries = [...line.serviceEntries, ...Object.entries(service).map(([key, value]) => ({ key, value }))];
  const pipeline = buildPipeline({ serviceEntries, sections: line.sections }, registry);
  const logs: string[] = [];
  const logRoot = new LogRoot({ level: 'debug', sink: { write: (text) => logs.push(text) } });
  // -R files are loaded as the CLI loads them, so `-R conf/parsers.conf` works here too.
  const parsers = new ParserRegistry();
  for (const entry of serviceEntries) if (entry.key === 'parsers_file') loadParsersFile(entry.value, parsers);
  const agent = new Agent(pipeline, { logRoot, parsers });
  await agent.start();
  return {
    agent,
    chunks: store.chunks,
    logs,
    events: () => store.chunks.flatMap((chunk) => decodeEvents(chunk.data)),
    stop: () => agent.stop(),
  };
}
