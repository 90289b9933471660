import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostPolicy, type HostPolicy } from '../base/host-check.js';
import { closeServer, listenOn } from '../base/listen.js';
import type { Logger } from '../base/logger.js';
import { hostRefusal, peerAddress } from '../websocket/admission.js';
import type { MetricsRegistry } from '../base/metrics.js';
import type { StorageReport } from '../pipeline/held-chunks.js';
import type { HealthCheck } from './health.js';
import { renderMetricsJson, renderPrometheus } from './prometheus.js';

export interface MonitoringSources {
  version: string;
  startedAtMs: number;
  metrics: () => MetricsRegistry;
  storage: () => StorageReport | null;
  health: HealthCheck | null;
  /** Hot reload (Hot_Reload on): resolves true when the new configuration runs. */
  reload: (() => Promise<boolean>) | null;
}

function uptimeText(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `wsbit has been running:  ${days} day${days === 1 ? '' : 's'}, ${hours} hour${hours === 1 ? '' : 's'}, ${minutes} minute${minutes === 1 ? '' : 's'} and ${seconds % 60} second${seconds % 60 === 1 ? '' : 's'}`;
}

/**
 * Fluent Bit's built-in HTTP server (HTTP_Server on): build info, uptime, metrics as JSON and in
 * the Prometheus text format, health and storage. It reads the live registry on every request,
 * so a hot reload (which replaces the pipeline) is seen at once.
 */
export class MonitoringServer {
  private server: Server | null = null;
  private hosts: HostPolicy = hostPolicy('127.0.0.1', null);
  private logger: Logger | null = null;

  constructor(private readonly sources: MonitoringSources) {}

  /** `allowedHosts` is `http_allowed_hosts`: names accepted in `Host` beyond the built-in ones (see host-check.ts). */
  async listen(host: string, port: number, logger: Logger, allowedHosts: readonly string[] | null = null): Promise<number> {
    this.hosts = hostPolicy(host, allowedHosts);
    this.logger = logger;
    const server = createServer((request, response) => this.route(request, response));
    const bound = await listenOn(server, { host, port }, { code: 'WSBIT_HTTP_LISTEN', instance: '[http_server]' }, logger);
    this.server = server;
    return bound;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    await closeServer(server);
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    // No token guards these endpoints (reload among them), so the Host check always applies.
    const reason = hostRefusal(request, this.hosts, 'http_allowed_hosts');
    if (reason !== null) {
      this.logger?.warn(`refused request from ${peerAddress(request)}: ${reason} (HTTP 403)`);
      return this.send(response, 403, 'text/plain', `${reason}\n`);
    }
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/api/v2/reload') return this.reload(request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return this.send(response, 405, 'text/plain', 'method not allowed\n');
    const uptimeSeconds = Math.floor((Date.now() - this.sources.startedAtMs) / 1000);
    switch (path) {
      case '/':
        return this.json(response, 200, { wsbit: { version: this.sources.version, edition: 'Community', flags: ['FLB_HAVE_METRICS', 'FLB_HAVE_HTTP_SERVER'] } });
      case '/api/v1/uptime':
        return this.json(response, 200, { uptime_sec: uptimeSeconds, uptime_hr: uptimeText(uptimeSeconds) });
      case '/api/v1/metrics':
        return this.json(response, 200, renderMetricsJson(this.sources.metrics()));
      case '/api/v1/metrics/prometheus':
        return this.send(response, 200, 'text/plain; version=0.0.4', renderPrometheus(this.sources.metrics(), { timestampMs: Date.now() }));
      case '/api/v2/metrics/prometheus':
        return this.send(
          response,
          200,
          'text/plain; version=0.0.4',
          renderPrometheus(this.sources.metrics(), {
            extra: [
              { name: 'fluentbit_uptime', help: 'Number of seconds that wsbit has been running.', type: 'counter', value: uptimeSeconds },
              { name: 'fluentbit_build_info', help: 'Build version information.', type: 'gauge', labels: { version: this.sources.version, edition: 'Community' }, value: Math.floor(this.sources.startedAtMs / 1000) },
            ],
          }),
        );
      case '/api/v1/health': {
        if (this.sources.health === null) return this.send(response, 404, 'text/plain', 'health check is off: set Health_Check on\n');
        const healthy = this.sources.health.isHealthy;
        return this.send(response, healthy ? 200 : 500, 'text/plain', healthy ? 'ok\n' : 'error\n');
      }
      case '/api/v1/storage': {
        const storage = this.sources.storage();
        if (storage === null) return this.send(response, 404, 'text/plain', 'storage is not enabled: set storage.path\n');
        return this.json(response, 200, {
          storage_layer: {
            chunks: {
              total_chunks: storage.chunks,
              mem_chunks: storage.memChunks,
              fs_chunks: storage.fsChunks,
              fs_chunks_up: storage.fsChunksUp,
              fs_chunks_down: storage.fsChunksDown,
            },
            ...(storage.disk === undefined
              ? {}
              : {
                  // While chunk writes fail, filesystem inputs are paused and acknowledge nothing.
                  disk: {
                    writable: storage.disk.writable,
                    reason: storage.disk.reason,
                    failing_since: storage.disk.failingSinceMs === null ? null : new Date(storage.disk.failingSinceMs).toISOString(),
                    held_back_records: storage.disk.heldBackRecords,
                  },
                }),
          },
        });
      }
      default:
        return this.send(response, 404, 'text/plain', 'not found\n');
    }
  }

  /** Fluent Bit's reload endpoint: POST or PUT starts a reload; GET reports whether it is enabled. */
  private reload(request: IncomingMessage, response: ServerResponse): void {
    const reload = this.sources.reload;
    if (request.method === 'GET') return this.json(response, 200, { hot_reload: reload === null ? 'disabled' : 'enabled' });
    if (request.method !== 'POST' && request.method !== 'PUT') return this.send(response, 405, 'text/plain', 'method not allowed\n');
    if (reload === null) return this.json(response, 400, { reload: 'not enabled', status: -1 });
    reload().then(
      (done) => this.json(response, done ? 200 : 400, { reload: done ? 'done' : 'failed: the new configuration is invalid, the running one is kept', status: done ? 0 : -1 }),
      () => this.json(response, 500, { reload: 'failed', status: -1 }),
    );
  }

  private json(response: ServerResponse, status: number, body: unknown): void {
    this.send(response, status, 'application/json', `${JSON.stringify(body)}\n`);
  }

  private send(response: ServerResponse, status: number, type: string, body: string): void {
    response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  }
}
