import type { FilterSpec, InputSpec, OutputSpec, PipelineDescription } from '../config/pipeline.js';
import type { FilterInstance, InputInstance, OutputInstance, ServiceSettings } from '../plugins/types.js';
import { systemClock, type Clock } from './clock.js';
import { Engine, type EngineStopResult, type HandedOverChunk } from './engine.js';
import { WsbitError, errorMessage } from './errors.js';
import type { LogRoot } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import { routeMatches, type RouteRule } from './router.js';
import { Chunk, newChunkId } from './chunk.js';
import { ConfigError } from './errors.js';
import { FilesystemStorage } from './storage/filesystem.js';
import { memoryStorage, type ChunkStorage } from './storage/types.js';
import { Telemetry } from './telemetry.js';
import { ParserRegistry } from '../parsers/registry.js';

export interface AgentOptions {
  logRoot: LogRoot;
  clock?: Clock;
  metrics?: MetricsRegistry;
  /** Parsers from `Parsers_File`; plugins with a `parser` key look theirs up here. */
  parsers?: ParserRegistry;
  /** `-D`: check that storage.path could be created, but create nothing. */
  dryRun?: boolean;
}

interface RunningInput {
  instance: string;
  plugin: InputInstance;
}

interface RunningFilter {
  instance: string;
  route: RouteRule;
  plugin: FilterInstance;
  telemetry: Telemetry;
}

interface RunningOutput {
  instance: string;
  plugin: OutputInstance;
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
  private readonly filters: RunningFilter[] = [];
  private readonly diskStorage: FilesystemStorage | null;
  private readonly handedOver: HandedOverChunk[] = [];
  private started = false;

  constructor(
    readonly pipeline: PipelineDescription,
    private readonly options: AgentOptions,
  ) {
    const { service } = pipeline;
    const clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new MetricsRegistry();
    const logRoot = options.logRoot;
    const parsers = options.parsers ?? new ParserRegistry();
    this.engine = new Engine(
      {
        flushSeconds: service.flush,
        graceSeconds: service.grace,
        schedulerBaseSeconds: service['scheduler.base'],
        schedulerCapSeconds: service['scheduler.cap'],
        maxChunksUp: service['storage.max_chunks_up'],
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

    this.diskStorage = this.createDiskStorage(logRoot);

    /** What every plugin gets: its name, config, a logger scoped `kind:name:instance`, telemetry, the clock. */
    const pluginContext = (kind: 'input' | 'filter' | 'output', spec: InputSpec | FilterSpec | OutputSpec) => {
      const logger = logRoot.scoped(`${kind}:${spec.definition.name}:${spec.instance}`, spec.logLevel ?? undefined);
      const telemetry = new Telemetry(spec.instance, logger, this.metrics);
      return { instance: spec.instance, config: spec.config as never, logger, telemetry, clock, service: settings };
    };

    for (const spec of pipeline.outputs) {
      const context = pluginContext('output', spec);
      const { telemetry } = context;
      const plugin = spec.definition.create({ ...context, notifyReady: () => this.engine.promoteRetries(spec.instance) });
      this.engine.addOutput({
        instance: spec.instance,
        route: spec.route,
        retryLimit: spec.retryLimit,
        concurrency: Math.max(1, spec.workers),
        plugin,
        telemetry,
        totalLimitBytes: (spec.config['storage.total_limit_size'] as number | null) ?? null,
      });
      this.outputs.push({ instance: spec.instance, plugin });
    }

    for (const spec of pipeline.filters) {
      const context = pluginContext('filter', spec);
      const { telemetry } = context;
      const plugin = spec.definition.create(context);
      this.filters.push({ instance: spec.instance, route: spec.route, plugin, telemetry });
    }

    for (const spec of pipeline.inputs) {
      const context = pluginContext('input', spec);
      const { telemetry } = context;
      const storage: ChunkStorage = spec.storageType === 'filesystem' && this.diskStorage !== null ? this.diskStorage : memoryStorage;
      const plugin = spec.definition.create({
        ...context,
        parsers,
        tag: spec.tag,
        emit: (events, records, tag) => this.ingest(spec.instance, tag ?? spec.tag, events, records),
      });
      this.engine.addInput({
        instance: spec.instance,
        memBufLimitBytes: spec.memBufLimitBytes,
        storage,
        plugin,
        telemetry,
        pauseOnChunksOverlimit: spec.config['storage.pause_on_chunks_overlimit'] === true,
      });
      this.inputs.push({ instance: spec.instance, plugin });
    }
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
      for (const input of this.inputs) await input.plugin.stop().catch(() => undefined);
      for (const output of this.outputs) await output.plugin.stop?.(false).catch(() => undefined);
    }
    return this.engine.stop(options);
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

  /** Runs the matching filters in configuration order, then hands what is left to the engine. */
  private ingest(inputInstance: string, tag: string, events: Buffer, records: number): void {
    // Counted as the input produced them, before filters drop or add any (as Fluent Bit counts).
    this.metrics.add('fluentbit_input_records_total', inputInstance, records);
    this.metrics.add('fluentbit_input_bytes_total', inputInstance, events.length);
    let current = { events, records };
    for (const filter of this.filters) {
      if (current.records === 0) break;
      if (!routeMatches(filter.route, tag)) continue;
      try {
        current = filter.plugin.filter(current.events, current.records, tag);
      } catch (error) {
        // A filter bug must not lose records: pass them on unfiltered and say so.
        filter.telemetry.logger.error(`filter failed, records passed on unfiltered: ${errorMessage(error)}`);
      }
    }
    this.engine.append(inputInstance, tag, current.events, current.records);
  }

  input(instance: string): InputInstance | undefined {
    return this.inputs.find((input) => input.instance === instance)?.plugin;
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
    if (backlog.length === 0) return;
    const logger = this.options.logRoot.scoped('storage');
    let records = 0;
    for (const found of backlog) {
      const owner = this.pipeline.inputs.find((input) => input.instance === found.inputInstance && input.storageType === 'filesystem');
      const instance = owner?.instance ?? this.backlogInput(this.diskStorage);
      const chunk = Chunk.onDisk(found.id, instance, found.tag, found.records, found.sizeBytes);
      this.diskStorage.adopt(chunk, found.filePath);
      this.engine.adoptBacklog(instance, chunk);
      records += found.records;
    }
    logger.info(`${backlog.length} chunks with ${records} records left by an earlier run are queued for delivery`);
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
      this.inputs.push({ instance, plugin });
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
