import { Agent } from '../pipeline/agent.js';
import type { HandedOverChunk } from '../pipeline/engine.js';
import { errorMessage } from '../base/errors.js';
import { LogRoot, fileSink, stderrSink, type LogLevel, type Logger } from '../base/logger.js';
import { MetricsRegistry } from '../base/metrics.js';
import { HealthCheck } from '../monitoring/health.js';
import type { MonitoringServer } from '../monitoring/server.js';
import type { PipelineDescription } from '../pipeline/description.js';
import type { PluginRegistry } from '../plugins/registry.js';
import { loadRunnablePipeline, type LoadRequest } from './loader.js';
import { takeStartupSignal } from './startup-signals.js';

/** What to load (again on every reload), and how loudly to log and whether only to check. */
export interface ServiceRequest extends LoadRequest {
  /** `-v` once: debug; twice: trace. */
  verbosity: number;
  quiet: boolean;
}

function effectiveLogLevel(request: ServiceRequest, configured: LogLevel): LogLevel {
  if (request.quiet) return 'off';
  if (request.verbosity >= 2) return 'trace';
  if (request.verbosity === 1) return 'debug';
  const fromEnv = process.env['FLB_LOG_LEVEL'] ?? process.env['WSBIT_LOG_LEVEL'];
  if (fromEnv !== undefined && ['off', 'error', 'warn', 'info', 'debug', 'trace'].includes(fromEnv)) return fromEnv as LogLevel;
  return configured;
}

function applyLogging(logRoot: LogRoot, request: ServiceRequest, loaded: PipelineDescription): void {
  const { service } = loaded;
  logRoot.level = effectiveLogLevel(request, service.log_level);
  logRoot.sink = service.log_file === null ? stderrSink : fileSink(service.log_file);
  reportLoadMessages(logRoot.scoped(''), loaded);
}

/** What loading the configuration had to say: warnings, and the info lines of keys that do nothing here. */
export function reportLoadMessages(logger: Logger, loaded: Pick<PipelineDescription, 'warnings' | 'notices'>): void {
  for (const warning of loaded.warnings) logger.warn(warning);
  for (const notice of loaded.notices) logger.info(notice);
}

/**
 * The running service: one agent at a time, the monitoring server, and the signals. A hot reload
 * (SIGHUP or POST /api/v2/reload with Hot_Reload on) validates the new configuration first and
 * keeps the running pipeline when it is invalid; otherwise the old pipeline stops, hands its
 * undelivered memory chunks to the new one (filesystem chunks stay on disk), and the new one starts.
 */
class Service {
  private agent: Agent;
  private loaded: PipelineDescription;
  private readonly metrics = new MetricsRegistry();
  private readonly startedAtMs = Date.now();
  private monitoring: MonitoringServer | null = null;
  private health: HealthCheck | null = null;
  private reloading: Promise<boolean> | null = null;
  private readonly logger: Logger;
  /** Set by runService: an input asked for the process to stop (tail's exit_on_eof). */
  onExitRequest: ((reason: string) => void) | null = null;

  constructor(
    private readonly request: ServiceRequest,
    private readonly registry: PluginRegistry,
    private readonly version: string,
    private readonly logRoot: LogRoot,
    loaded: PipelineDescription,
  ) {
    this.loaded = loaded;
    this.logger = logRoot.scoped('engine');
    this.agent = this.createAgent(loaded);
  }

  async start(): Promise<void> {
    this.logRoot.scoped('').info(`[wsbit] version=${this.version}, pid=${process.pid}`);
    await this.agent.start();
    const { service } = this.loaded;
    if (service.health_check) {
      this.health = new HealthCheck(this.metrics, {
        errorsCount: service.hc_errors_count,
        retryFailureCount: service.hc_retry_failure_count,
        periodSeconds: service.hc_period,
      });
      this.health.start();
    }
    if (service.http_server) {
      // Imported here: the monitoring server brings node:http, which an agent without it need not load.
      const { MonitoringServer } = await import('../monitoring/server.js');
      this.monitoring = new MonitoringServer({
        version: this.version,
        startedAtMs: this.startedAtMs,
        metrics: () => this.metrics,
        storage: () => {
          const current = this.loaded.service;
          return current['storage.path'] === null || !current['storage.metrics'] ? null : this.agent.engine.storageReport();
        },
        health: this.health,
        reload: service.hot_reload ? () => this.reload('HTTP request') : null,
      });
      const logger = this.logRoot.scoped('http_server');
      const port = await this.monitoring.listen(service.http_listen, service.http_port, logger, service.http_allowed_hosts);
      logger.info(`listen iface=${service.http_listen} tcp_port=${port}`);
    }
  }

  get hotReloadEnabled(): boolean {
    return this.loaded.service.hot_reload;
  }

  /** Returns true when the new configuration is running, false when the old one was kept. */
  reload(reason: string): Promise<boolean> {
    this.reloading ??= this.doReload(reason).finally(() => (this.reloading = null));
    return this.reloading;
  }

  async stop(): Promise<number> {
    await this.reloading;
    this.health?.stop();
    await this.monitoring?.close();
    // The engine says what Grace left undelivered, why, and how to keep it next time (one line).
    await this.agent.stop();
    this.logger.info('service has stopped');
    return 0;
  }

  private createAgent(loaded: PipelineDescription, handedOver: HandedOverChunk[] = []): Agent {
    const agent = new Agent(loaded, { logRoot: this.logRoot, metrics: this.metrics, dryRun: this.request.dryRun, onExitRequest: (reason) => this.onExitRequest?.(reason) });
    agent.adoptHandedOver(handedOver);
    return agent;
  }

  private async doReload(reason: string): Promise<boolean> {
    this.logger.info(`[reload] reloading the configuration (${reason})`);
    let next: PipelineDescription;
    let nextAgent: Agent;
    try {
      // The code of plugins the new configuration adds is imported here, before anything stops.
      next = await loadRunnablePipeline(this.request, this.registry);
      // Building the agent validates every plugin's settings before anything is stopped.
      nextAgent = this.createAgent(next);
    } catch (error) {
      this.logger.error(`[reload] the new configuration is invalid, the running pipeline is kept: ${errorMessage(error)}`);
      return false;
    }
    // Listeners the new configuration keeps pass with their connections before the old pipeline
    // stops, so its stop drains only the inputs that change or go away.
    const kept = this.agent.handListenersTo(nextAgent);
    if (kept.length > 0) this.logger.info(`[reload] keeping ${kept.join(', ')}`);
    const { handedOver } = await this.agent.stop({ handOver: true });
    nextAgent.adoptHandedOver(handedOver);
    applyLogging(this.logRoot, this.request, next);
    try {
      await nextAgent.start();
    } catch (error) {
      this.logger.error(`[reload] the new pipeline failed to start (${errorMessage(error)}); starting the previous one again`);
      const previous = this.createAgent(this.loaded, handedOver);
      nextAgent.handListenersTo(previous);
      await nextAgent.stop().catch(() => undefined);
      await previous.start();
      this.agent = previous;
      return false;
    }
    this.agent = nextAgent;
    this.loaded = next;
    this.logger.info(`[reload] done: ${handedOver.reduce((sum, chunk) => sum + chunk.records, 0)} buffered records carried over`);
    return true;
  }
}

/** Starts the service and resolves with the exit code when it has stopped. */
export async function runService(
  request: ServiceRequest,
  registry: PluginRegistry,
  version: string,
  stdout: (text: string) => void,
  fail: (error: unknown) => number,
): Promise<number> {
  const logRoot = new LogRoot({ level: 'info', sink: stderrSink });
  let service: Service;
  try {
    const loaded = await loadRunnablePipeline(request, registry);
    applyLogging(logRoot, request, loaded);
    service = new Service(request, registry, version, logRoot, loaded);
    if (request.dryRun) {
      takeStartupSignal();
      stdout('configuration test is successful\n');
      return 0;
    }
  } catch (error) {
    takeStartupSignal();
    return fail(error);
  }

  const logger = logRoot.scoped('engine');
  return new Promise<number>((resolve) => {
    let stopping = false;
    // A signal that arrives while the pipeline starts is handled once it has started, so that
    // the stop sees every plugin that start() created.
    let started: Promise<boolean> = Promise.resolve(true);
    const detach = (): void => {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onReload);
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn(`caught signal (${signal}) again: exiting now`);
        resolve(1);
        return;
      }
      logger.info(`caught signal (${signal})`);
      stopGracefully();
    };
    // A graceful stop, as on SIGTERM: by a signal, or asked for by an input (exit_on_eof).
    const stopGracefully = (): void => {
      if (stopping) return;
      stopping = true;
      void started.then((ok) => {
        if (!ok) return;
        service
          .stop()
          .then(resolve)
          .catch((error: unknown) => {
            logger.error(`error during shutdown: ${errorMessage(error)}`);
            resolve(1);
          })
          .finally(detach);
      });
    };
    const onReload = (): void => {
      if (stopping) return;
      if (!service.hotReloadEnabled) {
        logger.warn('caught signal (SIGHUP): hot reload is off (set Hot_Reload on or use -Y); ignored');
        return;
      }
      void started.then((ok) => ok && service.reload('SIGHUP'));
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onReload);
    service.onExitRequest = stopGracefully;
    const earlySignal = takeStartupSignal();
    started = service.start().then(
      () => true,
      (error: unknown) => {
        detach();
        resolve(fail(error));
        return false;
      },
    );
    if (earlySignal !== undefined) onStop(earlySignal);
  });
}
