import type { FilterSpec, InputSpec, OutputSpec, PipelineDescription } from './description.js';
import type { EmitterOptions, FilterContext, FilterEmitter, FilterInstance, InputInstance, OutputInstance, ServiceSettings } from './contracts.js';
import { systemClock, type Clock, type TimerHandle } from '../base/clock.js';
import { Engine, type EngineStopResult, type HandedOverChunk } from './engine.js';
import { WsbitError, errorMessage } from '../base/errors.js';
import type { LogRoot } from '../base/logger.js';
import { MetricsRegistry, type MetricName } from '../base/metrics.js';
import { FilterChain, type RunningFilter } from './filter-chain.js';
import { Chunk, newChunkId } from './chunk.js';
import { ConfigError } from '../base/errors.js';
import { FilesystemStorage, type RecoverySummary } from './storage/filesystem.js';
import { memoryStorage, type ChunkStorage } from './storage/types.js';
import { Telemetry } from '../base/telemetry.js';

export interface AgentOptions {
  logRoot: LogRoot;
  clock?: Clock;
  metrics?: MetricsRegistry;
  /** `-D`: check that storage.path could be created, but create nothing. */
  dryRun?: boolean;
  /** An input asked for the process to stop (InputContext.requestExit); without it, the request is only logged. */
  onExitRequest?: (reason: string) => void;
}

interface RunningInput {
  instance: string;
  plugin: InputInstance;
  /** The `listen` address of an input that listens (its port comes from the plugin once started). */
  listen: string | null;
  /** The plugin's name (tcp, http...): a hot reload keeps a listener for an input of the same plugin only. */
  protocol?: string;
}

interface RunningOutput {
  instance: string;
  plugin: OutputInstance;
  /** `host` and `port` of an output that sends to one peer: where a loop back into this process shows. */
  target: { host: string; port: number } | null;
}

const loopbackHosts = new Set(['localhost', '::1', '[::1]']);
const anyAddress = new Set(['0.0.0.0', '::', '[::]', '']);

/** True when an output aimed at `target` reaches a socket that listens on `listen`:`port` in this process. */
function reaches(target: { host: string; port: number }, listen: string | null, port: number | null): boolean {
  if (port === null || port !== target.port) return false;
  const host = target.host.toLowerCase();
  const local = loopbackHosts.has(host) || host.startsWith('127.');
  if (listen === null || anyAddress.has(listen)) return local;
  return host === listen.toLowerCase() || (local && (listen.startsWith('127.') || loopbackHosts.has(listen)));
}

/**
 * A running pipeline: the engine plus one live instance per configured plugin. Outputs start
 * before inputs, so nothing is read before it has somewhere to go; inputs stop first on shutdown.
 */
export class Agent {
  readonly engine: Engine;
  readonly metrics: MetricsRegistry;
  private readonly inputs: RunningInput[] = [];
  private readonly outputs: RunningOutput[] = [];
  private readonly filters = new FilterChain();
  private readonly inputProcessors: RunningFilter[][] = [];
  private readonly diskStorage: FilesystemStorage | null;
  private readonly handedOver: HandedOverChunk[] = [];
  private started = false;
  private readonly clock: Clock;

  constructor(
    readonly pipeline: PipelineDescription,
    private readonly options: AgentOptions,
  ) {
    const { service } = pipeline;
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    this.metrics = options.metrics ?? new MetricsRegistry();
    const logRoot = options.logRoot;
    const { parsers } = pipeline;
    this.diskStorage = this.createDiskStorage(logRoot);
    const diskStorage = this.diskStorage;
    this.engine = new Engine(
      {
        flushSeconds: service.flush,
        graceSeconds: service.grace,
        schedulerBaseSeconds: service['scheduler.base'],
        schedulerCapSeconds: service['scheduler.cap'],
        maxChunksUp: service['storage.max_chunks_up'],
        diskProbe: diskStorage === null ? undefined : (bytes) => diskStorage.probe(bytes),
        storageTelemetry: new Telemetry('storage', logRoot.scoped('storage'), this.metrics),
      },
      clock,
      logRoot.scoped(''),
    );
    const settings: ServiceSettings = {
      flushSeconds: service.flush,
      graceSeconds: service.grace,
      escapeUnicode: service['json.escape_unicode'],
      convertNanToNull: service['json.convert_nan_to_null'],
    };

    /** What every plugin gets: its name, config, a logger scoped `kind:name:instance`, telemetry, the clock. */
    const pluginContext = (kind: 'input' | 'filter' | 'output', spec: InputSpec | FilterSpec | OutputSpec) => {
      const logger = logRoot.scoped(`${kind}:${spec.definition.name}:${spec.instance}`, spec.logLevel ?? undefined);
      const telemetry = new Telemetry(spec.instance, logger, this.metrics);
      return { instance: spec.instance, config: spec.config as never, logger, telemetry, clock, service: settings };
    };

    /**
     * A filter on one of three paths: the shared route, an input's processors, or an output's. Only a
     * shared filter gets an emitter: re-tagged records would leave a processor's path. Records a
     * filter releases later (`emit`) go on from the filter after it on the same path; an output's
     * processors run inside its flush, where nothing can be released later.
     */
    const createFilter = (spec: FilterSpec, path: { kind: 'shared' | 'input' | 'output'; filters: RunningFilter[] }): void => {
      const context = pluginContext('filter', spec);
      const next = path.filters.length + 1;
      let emitterInstance: string | null = null;
      const extra: Pick<FilterContext<never>, 'createEmitter' | 'emit'> = {};
      if (path.kind === 'shared') {
        extra.createEmitter = (options: EmitterOptions): FilterEmitter => {
          const emitter = this.createEmitter(spec.instance, options, logRoot);
          emitterInstance = emitter.instance;
          return emitter;
        };
      }
      if (path.kind !== 'output') {
        const processors = path.kind === 'input' ? path.filters : null;
        extra.emit = (events, records, tag, input) => this.runPath(processors, next, input, tag, events, records);
      }
      const plugin = spec.definition.create({ ...context, parsers, ...extra });
      path.filters.push({ instance: spec.instance, route: spec.route, plugin, telemetry: context.telemetry, emitterInstance });
    };
    const processorsOf = (kind: 'input' | 'output', specs: readonly FilterSpec[] | undefined): RunningFilter[] => {
      const filters: RunningFilter[] = [];
      for (const spec of specs ?? []) createFilter(spec, { kind, filters });
      return filters;
    };

    for (const spec of pipeline.outputs) {
      const context = pluginContext('output', spec);
      const { telemetry } = context;
      const plugin = spec.definition.create({
        ...context,
        notifyReady: () => this.engine.promoteRetries(spec.instance),
        ...(spec.upstream === undefined ? {} : { upstream: spec.upstream }),
      });
      const { host, port } = spec.config;
      const target = spec.upstream === undefined && typeof host === 'string' && typeof port === 'number' ? { host, port } : null;
      this.engine.addOutput({
        instance: spec.instance,
        route: spec.route,
        retryLimit: spec.retryLimit,
        concurrency: Math.max(1, spec.workers),
        plugin,
        processors: processorsOf('output', spec.processors),
        telemetry,
        totalLimitBytes: (spec.config['storage.total_limit_size'] as number | null) ?? null,
      });
      this.outputs.push({ instance: spec.instance, plugin, target });
    }

    for (const spec of pipeline.filters) createFilter(spec, { kind: 'shared', filters: this.filters.shared });

    for (const spec of pipeline.inputs) {
      const context = pluginContext('input', spec);
      const { telemetry } = context;
      const storage: ChunkStorage = spec.storageType === 'filesystem' && this.diskStorage !== null ? this.diskStorage : memoryStorage;
      const processors = processorsOf('input', spec.processors);
      this.inputProcessors.push(processors);
      const routable = spec.config['routable'] !== false;
      if (!routable) telemetry.logger.info('routable off: the records of this input are counted and discarded');
      const plugin = spec.definition.create({
        ...context,
        parsers,
        tag: spec.tag,
        // routable off: counted as the input's, then thrown away (Fluent Bit routes them nowhere).
        emit: routable ? (events, records, tag) => this.ingest(spec.instance, tag ?? spec.tag, events, records, processors) : (events, records) => this.countInput(spec.instance, events, records),
        admit: (records) => this.engine.admit(spec.instance, records),
        requestExit: (reason) => {
          telemetry.logger.info(`${reason}: stopping`);
          this.options.onExitRequest?.(`${spec.instance}: ${reason}`);
        },
      });
      this.engine.addInput({
        instance: spec.instance,
        memBufLimitBytes: spec.memBufLimitBytes,
        storage,
        plugin,
        telemetry,
        pauseOnChunksOverlimit: spec.config['storage.pause_on_chunks_overlimit'] === true,
      });
      const { listen } = spec.config;
      this.inputs.push({ instance: spec.instance, plugin, listen: typeof listen === 'string' ? listen : null, protocol: spec.definition.name });
    }
  }

  /**
   * Hot reload, before this pipeline stops and `next` starts: each input that listens passes its
   * listening socket and open connections to the input of `next` of the same plugin at the same
   * address, so nothing a sender wrote is lost with a closed socket. Inputs with no such match drain
   * at stop. Returns a phrase per listener kept, for the log.
   */
  handListenersTo(next: Agent): string[] {
    const kept: string[] = [];
    for (const input of this.inputs) {
      const address = input.plugin.listenerAddress?.();
      if (address === undefined || input.plugin.handOver === undefined) continue;
      const heir = next.inputs.find((candidate) => candidate.protocol === input.protocol && candidate.plugin.listenerAddress?.() === address);
      if (heir?.plugin.adopt === undefined) continue;
      const handle = input.plugin.handOver();
      if (handle === null) continue;
      if (!heir.plugin.adopt(handle)) throw new WsbitError('WSBIT_RELOAD_LISTENER', `${heir.instance} cannot adopt the listener of ${input.instance}`);
      kept.push(`${input.protocol ?? ''} ${handle.address} (${handle.connections} connections)`);
    }
    return kept;
  }

  async start(): Promise<void> {
    for (const output of this.outputs) {
      await this.startPlugin(output.instance, () => output.plugin.start?.());
    }
    this.engine.start();
    this.adoptBacklog();
    this.dispatchHandedOver();
    for (const input of this.inputs) {
      await this.startPlugin(input.instance, () => input.plugin.start());
    }
    this.started = true;
  }

  /**
   * Stops inputs, flushes within Grace, stops outputs. Returns the records that could not be
   * delivered, or with `handOver` the memory chunks for the next pipeline (hot reload).
   */
  async stop(options: { handOver?: boolean } = {}): Promise<EngineStopResult> {
    if (!this.started) {
      for (const input of this.inputs) await this.engine.stopInput(input.instance);
      for (const output of this.outputs) await this.engine.stopOutput(output.instance, false);
    }
    const graceSeconds = this.started ? await this.unwindLoops() : this.pipeline.service.grace;
    return this.engine.stop({ ...options, graceSeconds, afterInputsStopped: () => this.stopFilters() });
  }

  /**
   * A pipeline that sends into itself (the quick start: websocket output → websocket input of the
   * same process) stops in the order its records flow. Stopping every input first, as the engine
   * does, would close the listener under records still on their way to it: the output would report
   * its own process as an outage, fail the flush, and leave the records on disk for the next start.
   * So the inputs that do not listen stop first, everything they produced goes round while the
   * listeners still take it, the outputs that loop back close their connections, and only then does
   * the engine stop the rest. Returns the Grace that is left for the engine.
   */
  private async unwindLoops(): Promise<number> {
    const grace = this.pipeline.service.grace;
    const listeners = this.inputs.filter((input) => (input.plugin.listeningPort?.() ?? null) !== null);
    const loops = this.outputs.filter(({ target }) => target !== null && listeners.some((input) => reaches(target, input.listen, input.plugin.listeningPort?.() ?? null)));
    if (loops.length === 0) return grace;
    const startedMs = this.clock.nowMs();
    for (const input of this.inputs) {
      if (!listeners.includes(input)) await this.engine.stopInput(input.instance);
    }
    this.engine.flushOpenChunks();
    let timer: TimerHandle | null = null;
    const idle = await Promise.race([
      this.engine.whenIdle().then(() => true),
      new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(false), grace * 1000))),
    ]);
    (timer as TimerHandle | null)?.cancel();
    // Not idle: Grace ran out, and the engine's stop settles what is left as at any stop.
    if (idle) for (const output of loops) await this.engine.stopOutput(output.instance, true);
    return Math.max(0, grace - (this.clock.nowMs() - startedMs) / 1000);
  }

  private stopFilters(): void {
    this.filters.stop(this.inputProcessors.flat());
  }

  /** Chunks a previous pipeline could not deliver before a reload: routed again by their tag once started. */
  adoptHandedOver(chunks: readonly HandedOverChunk[]): void {
    this.handedOver.push(...chunks);
  }

  private dispatchHandedOver(): void {
    const chunks = this.handedOver.splice(0);
    if (chunks.length === 0) return;
    const instance = this.backlogInput(memoryStorage);
    for (const handed of chunks) {
      const chunk = new Chunk(newChunkId(Date.now()), instance, handed.tag);
      chunk.append(handed.data, handed.records);
      this.engine.adoptBacklog(instance, chunk);
    }
  }

  /**
   * Fluent Bit's `in_emitter`, made for a filter: an input instance with its own buffer limit and
   * storage whose records go through `ingest` like any input's.
   */
  private createEmitter(owner: string, options: EmitterOptions, logRoot: LogRoot): FilterEmitter {
    const instance = options.name;
    if (this.pipeline.inputs.some((input) => input.instance === instance) || this.inputs.some((input) => input.instance === instance)) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${owner}: emitter_name '${instance}' already exists: choose another`);
    }
    let storage: ChunkStorage = memoryStorage;
    if (options.storageType === 'filesystem') {
      if (this.diskStorage === null) {
        throw new ConfigError(
          'WSBIT_CONFIG_STORAGE_PATH',
          `[storage] ${owner}: emitter_storage.type filesystem needs a filesystem path: set storage.path in [SERVICE] or -b PATH`,
        );
      }
      storage = this.diskStorage;
    }
    let paused = false;
    const plugin: InputInstance = {
      start: async () => undefined,
      stop: async () => undefined,
      pause: () => (paused = true),
      resume: () => (paused = false),
    };
    this.engine.addInput({
      instance,
      memBufLimitBytes: options.memBufLimitBytes,
      storage,
      plugin,
      telemetry: new Telemetry(instance, logRoot.scoped(`input:emitter:${instance}`), this.metrics),
    });
    this.inputs.push({ instance, plugin, listen: null });
    return {
      instance,
      ready: () => !paused && this.filters.mayReenter(),
      emit: (events, records, tag) => this.filters.reenter(() => this.ingest(instance, tag, events, records, [])),
    };
  }

  /** Counts what an input produced, then runs its processors and the shared filters. */
  private ingest(inputInstance: string, tag: string, events: Buffer, records: number, processors: readonly RunningFilter[]): boolean {
    this.countInput(inputInstance, events, records);
    return this.runPath(processors, 0, inputInstance, tag, events, records);
  }

  /** Counted as the input produced them, before filters drop or add any (as Fluent Bit counts). */
  private countInput(inputInstance: string, events: Buffer, records: number): boolean {
    this.metrics.add('fluentbit_input_records_total', inputInstance, records);
    this.metrics.add('fluentbit_input_bytes_total', inputInstance, events.length);
    return true;
  }

  /** Runs records along an input's path from position `first` (see FilterChain.runPath), then into the engine. */
  private runPath(processors: readonly RunningFilter[] | null, first: number, inputInstance: string, tag: string, events: Buffer, records: number): boolean {
    const filtered = this.filters.runPath(processors, first, inputInstance, tag, { events, records });
    return this.engine.append(inputInstance, tag, filtered.events, filtered.records);
  }

  input(instance: string): InputInstance | undefined {
    return this.inputs.find((input) => input.instance === instance)?.plugin;
  }

  /** The output plugin itself, as its create() made it (with every member of its own, processors or not). */
  output(instance: string): OutputInstance | undefined {
    return this.outputs.find((output) => output.instance === instance)?.plugin;
  }

  private createDiskStorage(logRoot: LogRoot): FilesystemStorage | null {
    const { service } = this.pipeline;
    const rootPath = service['storage.path'];
    const wanting = this.pipeline.inputs.filter((input) => input.storageType === 'filesystem');
    if (rootPath === null) {
      const [first] = wanting;
      if (first !== undefined) {
        throw new ConfigError(
          'WSBIT_CONFIG_STORAGE_PATH',
          `[storage] instance '${first.instance}' requested filesystem storage but no filesystem path was defined: set storage.path in [SERVICE] or -b PATH`,
        );
      }
      return null;
    }
    return new FilesystemStorage({
      rootPath,
      sync: service['storage.sync'],
      checksum: service['storage.checksum'],
      deleteIrrecoverable: service['storage.delete_irrecoverable_chunks'],
      quarantineLimitBytes: service['storage.quarantine_limit'],
      logger: logRoot.scoped('storage'),
      dryRun: this.options.dryRun === true,
    });
  }

  /**
   * Chunks an earlier run left in storage.path go out first, routed by their tag. They stay on disk
   * and are read back one by one as outputs take them, so a large backlog does not fill memory.
   */
  private adoptBacklog(): void {
    if (this.diskStorage === null) return;
    const backlog = this.diskStorage.loadBacklog();
    for (const found of backlog) {
      const owner = this.pipeline.inputs.find((input) => input.instance === found.inputInstance && input.storageType === 'filesystem');
      const instance = owner?.instance ?? this.backlogInput(this.diskStorage);
      const chunk = Chunk.onDisk(found.id, instance, found.tag, found.records, found.sizeBytes);
      this.diskStorage.adopt(chunk, found.filePath);
      this.engine.adoptBacklog(instance, chunk);
    }
    this.reportRecovery(this.diskStorage.lastRecovery);
  }

  /** One line per start saying what the scan of storage.path found, and the same in the metrics. */
  private reportRecovery(summary: RecoverySummary): void {
    const counts: Array<[MetricName, number]> = [
      ['fluentbit_storage_recovered_chunks_total', summary.chunks],
      ['fluentbit_storage_recovered_records_total', summary.records],
      ['fluentbit_storage_partial_chunks_total', summary.partial],
      ['fluentbit_storage_empty_chunks_total', summary.empty],
      ['fluentbit_storage_quarantined_chunks_total', summary.quarantined],
      ['fluentbit_storage_quarantined_bytes_total', summary.quarantinedBytes],
      ['fluentbit_storage_deleted_chunks_total', summary.deleted],
      ['fluentbit_storage_quarantine_dropped_total', summary.evicted],
    ];
    for (const [metric, value] of counts) this.metrics.add(metric, 'storage', value);
    if (counts.every(([, value]) => value === 0)) return;
    const parts = [`${summary.chunks} chunks with ${summary.records} records left by an earlier run are queued for delivery`];
    if (summary.partial > 0) parts.push(`${summary.partial} of them torn or damaged (whole records kept)`);
    if (summary.empty > 0) parts.push(`${summary.empty} files holding no records removed`);
    if (summary.quarantined > 0) parts.push(`${summary.quarantined} files (${summary.quarantinedBytes} bytes) quarantined`);
    if (summary.deleted > 0) parts.push(`${summary.deleted} irrecoverable files deleted`);
    if (summary.evicted > 0) parts.push(`${summary.evicted} old quarantined files dropped (storage.quarantine_limit)`);
    this.options.logRoot.scoped('storage').info(parts.join('; '));
  }

  /**
   * Fluent Bit's `storage_backlog` input: the owner of chunks whose input is no longer configured
   * (from disk), or that a previous pipeline handed over at a reload (in memory).
   */
  private backlogInput(storage: ChunkStorage): string {
    const instance = storage.kind === 'filesystem' ? 'storage_backlog.0' : 'reload_backlog.0';
    if (!this.inputs.some((input) => input.instance === instance)) {
      const plugin: InputInstance = { start: async () => undefined, stop: async () => undefined, pause: () => undefined, resume: () => undefined };
      this.engine.addInput({
        instance,
        memBufLimitBytes: 0,
        storage,
        plugin,
        telemetry: new Telemetry(instance, this.options.logRoot.scoped(`input:storage_backlog:${instance}`), this.metrics),
      });
      this.inputs.push({ instance, plugin, listen: null });
    }
    return instance;
  }

  private async startPlugin(instance: string, start: () => Promise<void> | undefined): Promise<void> {
    try {
      await start();
    } catch (error) {
      if (error instanceof WsbitError) throw error;
      throw new WsbitError('WSBIT_PLUGIN_START', `${instance}: failed to start: ${errorMessage(error)}`, { cause: error });
    }
  }
}
