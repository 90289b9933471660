import type { Clock } from '../base/clock.js';
import type { ChunkView } from './chunk.js';
import type { Logger } from '../base/logger.js';
import type { Telemetry } from '../base/telemetry.js';
import type { ParamSpec, ResolvedConfig } from '../config/schema.js';
import type { ParserRegistry } from './parser-registry.js';
import type { UpstreamSource } from '../upstream/config.js';

/** Service-wide settings that plugins may read (from `[SERVICE]`). */
export interface ServiceSettings {
  flushSeconds: number;
  graceSeconds: number;
  escapeUnicode: boolean;
  convertNanToNull: boolean;
}

/** What every plugin instance is given. */
export interface PluginContext<Config> {
  /** Instance name as Fluent Bit shows it: `websocket.0`, or the `alias`. */
  readonly instance: string;
  readonly config: Config;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly clock: Clock;
  readonly service: ServiceSettings;
}

export interface InputContext<Config> extends PluginContext<Config> {
  /** The instance's `Tag` (defaults to the instance name). */
  readonly tag: string;
  /** Parsers loaded from `Parsers_File`/`-R`; `parsers.require(name, instance)` for a `parser` key. */
  readonly parsers: ParserRegistry;
  /**
   * Hands records to the engine: `events` holds `records` events in Fluent Bit's layout. The engine
   * copies what it keeps before returning, so an input may pass a view of a buffer it reuses.
   * `tag` overrides the instance tag (e.g. http paths).
   *
   * Returns true when the records are stored as the input's storage promises (with `storage.type
   * filesystem`: written to a chunk file, synced as `storage.sync` says). False when the disk cannot
   * take them (ENOSPC, EDQUOT, EIO): the engine keeps them in memory only and pauses the input, and
   * an input that acknowledges (forward ack, http 201, websocket pong) must not acknowledge them.
   */
  emit(events: Buffer, records: number, tag?: string): boolean;
  /**
   * For inputs whose sender keeps what is not acknowledged: asks before emitting `records` whether
   * they may be taken now. False while chunk writes fail for this input's storage: the input then
   * refuses them without emitting (no ack, a 503, no pong), so they cost no memory here.
   */
  admit(records: number): boolean;
  /**
   * Asks for wsbit to stop as on SIGTERM (a graceful stop, exit code 0), for an input whose work is
   * done (tail's exit_on_eof). `reason` is logged.
   */
  requestExit(reason: string): void;
}

export interface InputInstance {
  start(): Promise<void>;
  /** Called when a buffer limit is reached: stop reading, but keep connections. */
  pause(): void;
  resume(): void;
  /** Stops collecting; must release listening sockets and timers. */
  stop(): Promise<void>;
  /** For inputs that listen: the bound port (useful with `port 0`). */
  listeningPort?(): number | null;
  /**
   * For inputs that listen: the configured address (`HOST:PORT`, `unix://PATH`). A hot reload keeps the
   * listener when the new pipeline has an input of the same plugin at the same address.
   */
  listenerAddress?(): string;
  /**
   * Hot reload: stops handing what this input reads to its pipeline and gives up its listening socket
   * and open connections, with the bytes already read that no record holds yet. stop() then leaves
   * them open (it still answers what is in flight). Null when nothing listens.
   */
  handOver?(): ListenerHandle | null;
  /**
   * Hot reload, before start(): start() takes over `handle` (from handOver() of an input of the same
   * plugin and address) instead of listening anew. False when the handle is not of this input's kind.
   */
  adopt?(handle: ListenerHandle): boolean;
}

/** A listener with its connections between two pipelines; only the input kind that made it can use it. */
export interface ListenerHandle {
  /** What it listens on, for the log: `HOST:PORT` or `unix://PATH`. */
  readonly address: string;
  /** Connections that pass with it. */
  readonly connections: number;
}

export type FlushResult = 'ok' | 'retry' | 'error';

export interface OutputContext<Config> extends PluginContext<Config> {
  /**
   * Tells the engine this output can take data again (e.g. its connection is back up), so chunks
   * waiting for a retry go now rather than when their long backoff timer fires.
   */
  notifyReady(): void;
  /** The nodes named by the output's `upstream` key, resolved by the pipeline (absent without one). */
  readonly upstream?: UpstreamSource;
}

export interface OutputInstance {
  /** Runs before the first flush; a failure here fails start-up with a clear message. */
  start?(): Promise<void>;
  flush(chunk: ChunkView): Promise<FlushResult>;
  /**
   * True when the output calls `notifyReady()` as soon as it can deliver again (a reconnect loop of its
   * own): the engine then logs an outage as a few state changes instead of a line per chunk per retry,
   * since its retry timers are only a fallback.
   */
  readonly signalsReady?: boolean;
  /**
   * Why the last delivery failed, in one phrase (a refused connection, a reset), or null. The engine
   * quotes it when it reports records that Grace left undelivered, since a flush answers only `retry`.
   */
  failureReason?(): string | null;
  /** Called once at shutdown after the last flush; `graceful` is false when Grace ran out. */
  stop?(graceful: boolean): Promise<void>;
}

/**
 * What is known of a plugin without loading its code: help, `-J`, the README tables and validation
 * read only this, so a manifest and its schema are small modules apart from the plugin's runtime.
 */
interface PluginManifestBase<Schema extends readonly ParamSpec[]> {
  name: string;
  description: string;
  schema: Schema;
  /** Fluent Bit's `NET_SERVER`/network client flag: a service URI's host/port/path map to these keys. */
  serviceUriKeys?: { host: string; port: string; path?: string };
}

export interface InputPluginManifest<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends PluginManifestBase<Schema> {
  kind: 'input';
}

export interface OutputPluginManifest<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends PluginManifestBase<Schema> {
  kind: 'output';
  /** Overrides the engine's `Retry_Limit` default of 1 (the websocket output waits forever). */
  defaultRetryLimit?: string;
}

export interface FilterPluginManifest<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends PluginManifestBase<Schema> {
  kind: 'filter';
}

export type PluginManifest = InputPluginManifest | OutputPluginManifest | FilterPluginManifest;

/** A plugin with its code: its manifest and what creates its instances. */
export interface InputPluginDefinition<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends InputPluginManifest<Schema> {
  create(context: InputContext<ResolvedConfig<Schema>>): InputInstance;
}

export interface OutputPluginDefinition<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends OutputPluginManifest<Schema> {
  create(context: OutputContext<ResolvedConfig<Schema>>): OutputInstance;
}

/**
 * A filter sees records after their input and before they are buffered, like Fluent Bit's filters.
 * It gets the events of one `emit` (Fluent Bit layout) and returns the events to keep, which may be
 * the same Buffer when nothing changed. It must not modify `events`.
 */
export interface FilterInstance {
  /** `input` is the instance name of the input the records came from (the agent always passes it). */
  filter(events: Buffer, records: number, tag: string, input?: string): { events: Buffer; records: number };
  /**
   * At shutdown, after every input has stopped and before the last flush: a filter that holds records
   * back (multiline) hands them over through `context.emit` here, so none is lost.
   */
  stop?(): void;
}


/** Where a filter's emitter keeps what it buffers (rewrite_tag's `Emitter_Storage.type`, `Emitter_Mem_Buf_Limit`). */
export interface EmitterOptions {
  /** The emitter's input instance name (Fluent Bit's `Emitter_Name`); must not be taken by another input. */
  name: string;
  memBufLimitBytes: number;
  storageType: 'memory' | 'filesystem';
}

/**
 * An input instance owned by a filter (Fluent Bit's `in_emitter`): records it emits enter routing under
 * their new tag and pass the filters again, except the filter that owns the emitter, so that filter
 * never sees its own output.
 */
export interface FilterEmitter {
  readonly instance: string;
  /**
   * False while the emitter takes nothing: its Mem_Buf_Limit is reached, or records are already being
   * emitted from inside another emitter's records too many levels deep (two filters re-tagging each
   * other's output). The filter then passes such records on under their old tag.
   */
  ready(): boolean;
  emit(events: Buffer, records: number, tag: string): void;
}

export interface FilterContext<Config> extends PluginContext<Config> {
  /** Parsers loaded from `Parsers_File`/`-R` (and the built-in multiline ones). */
  readonly parsers: ParserRegistry;
  /**
   * For a filter that holds records back and releases them later (a timer, or `stop`): the records
   * go on through the filters after this one and into the engine, under `tag` and as records of the
   * input instance `input`, as if this filter had returned them (Fluent Bit's emitter input).
   * Absent on an output's processors, which run inside a flush and cannot release records later.
   */
  emit?(events: Buffer, records: number, tag: string, input: string): void;
  /** Present where a filter runs on the shared route (a `[FILTER]` section). */
  createEmitter?(options: EmitterOptions): FilterEmitter;
}

export interface FilterPluginDefinition<Schema extends readonly ParamSpec[] = readonly ParamSpec[]> extends FilterPluginManifest<Schema> {
  create(context: FilterContext<ResolvedConfig<Schema>>): FilterInstance;
}

export type PluginDefinition = InputPluginDefinition | OutputPluginDefinition | FilterPluginDefinition;

export function defineFilter<const Schema extends readonly ParamSpec[]>(
  definition: FilterPluginDefinition<Schema>,
): FilterPluginDefinition<Schema> {
  return definition;
}

export function defineInput<const Schema extends readonly ParamSpec[]>(
  definition: InputPluginDefinition<Schema>,
): InputPluginDefinition<Schema> {
  return definition;
}

export function defineOutput<const Schema extends readonly ParamSpec[]>(
  definition: OutputPluginDefinition<Schema>,
): OutputPluginDefinition<Schema> {
  return definition;
}

export function defineFilterManifest<const Schema extends readonly ParamSpec[]>(manifest: FilterPluginManifest<Schema>): FilterPluginManifest<Schema> {
  return manifest;
}

export function defineInputManifest<const Schema extends readonly ParamSpec[]>(manifest: InputPluginManifest<Schema>): InputPluginManifest<Schema> {
  return manifest;
}

export function defineOutputManifest<const Schema extends readonly ParamSpec[]>(manifest: OutputPluginManifest<Schema>): OutputPluginManifest<Schema> {
  return manifest;
}
