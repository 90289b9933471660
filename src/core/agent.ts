import type { PipelineDescription } from '../config/pipeline.js';
import type { FilterInstance, InputInstance, OutputInstance, ServiceSettings } from '../plugins/types.js';
import { systemClock, type Clock } from './clock.js';
import { Engine } from './engine.js';
import { WsbitError, errorMessage } from './errors.js';
import type { LogRoot } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import { routeMatches, type RouteRule } from './router.js';
import { memoryStorage, type ChunkStorage } from './storage.js';
import { Telemetry } from './telemetry.js';

export interface AgentOptions {
  logRoot: LogRoot;
  clock?: Clock;
  metrics?: MetricsRegistry;
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
  private started = false;

  constructor(
    readonly pipeline: PipelineDescription,
    private readonly options: AgentOptions,
  ) {
    const { service } = pipeline;
    const clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new MetricsRegistry();
    const logRoot = options.logRoot;
    this.engine = new Engine(
      {
        flushSeconds: service.flush,
        graceSeconds: service.grace,
        schedulerBaseSeconds: service['scheduler.base'],
        schedulerCapSeconds: service['scheduler.cap'],
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

    for (const spec of pipeline.outputs) {
      const logger = logRoot.scoped(`output:${spec.definition.name}:${spec.instance}`, spec.logLevel ?? undefined);
      const telemetry = new Telemetry(spec.instance, logger, this.metrics);
      const plugin = spec.definition.create({
        instance: spec.instance,
        config: spec.config as never,
        logger,
        telemetry,
        clock,
        service: settings,
        notifyReady: () => this.engine.promoteRetries(spec.instance),
      });
      this.engine.addOutput({
        instance: spec.instance,
        route: spec.route,
        retryLimit: spec.retryLimit,
        concurrency: Math.max(1, spec.workers),
        plugin,
        telemetry,
      });
      this.outputs.push({ instance: spec.instance, plugin });
    }

    for (const spec of pipeline.filters) {
      const logger = logRoot.scoped(`filter:${spec.definition.name}:${spec.instance}`, spec.logLevel ?? undefined);
      const telemetry = new Telemetry(spec.instance, logger, this.metrics);
      const plugin = spec.definition.create({ instance: spec.instance, config: spec.config as never, logger, telemetry, clock, service: settings });
      this.filters.push({ instance: spec.instance, route: spec.route, plugin, telemetry });
    }

    for (const spec of pipeline.inputs) {
      const logger = logRoot.scoped(`input:${spec.definition.name}:${spec.instance}`, spec.logLevel ?? undefined);
      const telemetry = new Telemetry(spec.instance, logger, this.metrics);
      const storage: ChunkStorage = memoryStorage;
      const plugin = spec.definition.create({
        instance: spec.instance,
        config: spec.config as never,
        logger,
        telemetry,
        clock,
        service: settings,
        tag: spec.tag,
        emit: (events, records, tag) => this.ingest(spec.instance, tag ?? spec.tag, events, records),
      });
      this.engine.addInput({ instance: spec.instance, memBufLimitBytes: spec.memBufLimitBytes, storage, plugin, telemetry });
      this.inputs.push({ instance: spec.instance, plugin });
    }
  }

  async start(): Promise<void> {
    for (const output of this.outputs) {
      await this.startPlugin(output.instance, () => output.plugin.start?.());
    }
    this.engine.start();
    for (const input of this.inputs) {
      await this.startPlugin(input.instance, () => input.plugin.start());
    }
    this.started = true;
  }

  /** Stops inputs, flushes within Grace, stops outputs. Returns the records that could not be delivered. */
  async stop(): Promise<{ undeliveredRecords: number }> {
    if (!this.started) {
      for (const input of this.inputs) await input.plugin.stop().catch(() => undefined);
      for (const output of this.outputs) await output.plugin.stop?.(false).catch(() => undefined);
    }
    return this.engine.stop();
  }

  /** Runs the matching filters in configuration order, then hands what is left to the engine. */
  private ingest(inputInstance: string, tag: string, events: Buffer, records: number): void {
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

  private async startPlugin(instance: string, start: () => Promise<void> | undefined): Promise<void> {
    try {
      await start();
    } catch (error) {
      if (error instanceof WsbitError) throw error;
      throw new WsbitError('WSBIT_PLUGIN_START', `${instance}: failed to start: ${errorMessage(error)}`, { cause: error });
    }
  }
}
