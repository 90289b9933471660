/**
 * The complete, typed description of one pipeline: what the loader makes from the command line and
 * the configuration files (parsers and upstreams resolved), and the one thing the agent runs.
 */
import type { LogLevel } from '../base/logger.js';
import type { RetryLimit, serviceSchema } from '../config/common-keys.js';
import type { ResolvedConfig } from '../config/schema.js';
import type { UpstreamSource } from '../upstream/config.js';
import type { ParserRegistry } from './parser-registry.js';
import type {
  FilterPluginDefinition,
  FilterPluginManifest,
  InputPluginDefinition,
  InputPluginManifest,
  OutputPluginDefinition,
  OutputPluginManifest,
} from './contracts.js';
import type { RouteRule } from './router.js';

export type ServiceConfig = ResolvedConfig<typeof serviceSchema>;

/**
 * What a pipeline's specs hold of their plugins. A validated configuration (a plan) needs only their
 * manifests; the agent runs a pipeline whose plugins' code is loaded.
 */
export interface PlannedPlugins {
  input: InputPluginManifest;
  filter: FilterPluginManifest;
  output: OutputPluginManifest;
}

export interface LoadedPlugins extends PlannedPlugins {
  input: InputPluginDefinition;
  filter: FilterPluginDefinition;
  output: OutputPluginDefinition;
}

export interface InputSpec<Plugins extends PlannedPlugins = LoadedPlugins> {
  definition: Plugins['input'];
  instance: string;
  tag: string;
  logLevel: LogLevel | null;
  memBufLimitBytes: number;
  storageType: 'memory' | 'filesystem';
  config: Record<string, unknown>;
  /** Run on this input's records before the shared filters. */
  processors?: FilterSpec<Plugins>[];
}

export interface FilterSpec<Plugins extends PlannedPlugins = LoadedPlugins> {
  definition: Plugins['filter'];
  instance: string;
  route: RouteRule;
  logLevel: LogLevel | null;
  config: Record<string, unknown>;
}

export interface OutputSpec<Plugins extends PlannedPlugins = LoadedPlugins> {
  definition: Plugins['output'];
  instance: string;
  route: RouteRule;
  retryLimit: RetryLimit;
  workers: number;
  logLevel: LogLevel | null;
  config: Record<string, unknown>;
  /** Run on each chunk before this output (and no other) flushes it. */
  processors?: FilterSpec<Plugins>[];
  /** The nodes its `upstream` key names (a YAML `upstream_servers` entry or an upstream file). */
  upstream?: UpstreamSource;
}

/** The typed, validated description of a pipeline, with every default filled in. */
export interface PipelineDescription<Plugins extends PlannedPlugins = LoadedPlugins> {
  service: ServiceConfig;
  inputs: InputSpec<Plugins>[];
  /** In configuration order, which is the order they run in. */
  filters: FilterSpec<Plugins>[];
  outputs: OutputSpec<Plugins>[];
  /** Every `Parsers_File` (and `-R`) parser and the configuration's inline ones. */
  parsers: ParserRegistry;
  /** What loading found to say, in order: the command line's, the files', the builder's. */
  warnings: string[];
  /** Info lines: each key set that Fluent Bit takes and wsbit accepts without acting on it, with why. */
  notices: string[];
}

/** A validated pipeline before its plugins' code is loaded. */
export type PipelinePlan = PipelineDescription<PlannedPlugins>;
