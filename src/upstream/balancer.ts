/**
 * Round robin over the nodes of an upstream, with failover. A node that refuses a connection, fails
 * a handshake or a request, or stops answering is marked down and left alone until its own backoff
 * (`ReconnectBackoff`) runs out; the chunk that failed on it goes to the next node at once. When
 * every node is down, the one due soonest is still offered, so a single-node upstream behaves like
 * a plain host and the engine's retry timing stays in charge.
 *
 * Per-node counters go through a Telemetry whose instance is `OUTPUT/NODE` (`http.0/node-1`), so
 * they appear under that name in `/api/v1/metrics` and as `name="http.0/node-1"` in Prometheus.
 */
import { ReconnectBackoff } from '../base/backoff.js';
import type { Clock } from '../base/clock.js';
import { Telemetry } from '../base/telemetry.js';
import type { UpstreamNode } from './config.js';

export interface BalancedNode<Target> {
  readonly node: UpstreamNode;
  /** What the output keeps per node: a connection pool, an undici Pool. */
  readonly target: Target;
  readonly telemetry: Telemetry;
  readonly label: string;
  up: boolean;
  /** When a down node may be tried again. */
  retryAtMs: number;
  readonly backoff: ReconnectBackoff;
}

export interface BalancerOptions {
  /** First and longest wait before a down node is tried again. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** The backoff's jitter source (tests pass a constant). */
  random?: () => number;
}

export class UpstreamBalancer<Target> {
  readonly nodes: ReadonlyArray<BalancedNode<Target>>;
  private cursor = 0;

  constructor(
    nodes: readonly UpstreamNode[],
    private readonly telemetry: Telemetry,
    private readonly clock: Clock,
    makeTarget: (node: UpstreamNode, telemetry: Telemetry) => Target,
    options: BalancerOptions = {},
  ) {
    this.nodes = nodes.map((node) => {
      const nodeTelemetry = new Telemetry(`${telemetry.instance}/${node.name}`, telemetry.logger, telemetry.metrics);
      nodeTelemetry.gauge('wsbit_output_upstream_node_up', 1);
      return {
        node,
        target: makeTarget(node, nodeTelemetry),
        telemetry: nodeTelemetry,
        label: `node '${node.name}' (${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port})`,
        up: true,
        retryAtMs: 0,
        backoff: new ReconnectBackoff(options.retryInitialMs ?? 1_000, options.retryMaxMs ?? 30_000, options.random),
      };
    });
  }

  /**
   * The nodes to try for one chunk, in order: those up or due for a retry, starting at the
   * round-robin cursor (which moves one step per call); when there are none, every node by how soon
   * it is due.
   */
  candidates(): Array<BalancedNode<Target>> {
    const count = this.nodes.length;
    const start = this.cursor % count;
    this.cursor = (this.cursor + 1) % count;
    const now = this.clock.nowMs();
    const ready: Array<BalancedNode<Target>> = [];
    for (let i = 0; i < count; i++) {
      const entry = this.nodes[(start + i) % count] as BalancedNode<Target>;
      if (entry.up || entry.retryAtMs <= now) ready.push(entry);
    }
    if (ready.length > 0) return ready;
    return [...this.nodes].sort((a, b) => a.retryAtMs - b.retryAtMs);
  }

  /**
   * A probe of the output's own (the websocket output's reconnect loop) reached a down node: offer it
   * to the next chunk now rather than when its backoff runs out. The first delivery marks it up.
   */
  reachable(entry: BalancedNode<Target>): void {
    entry.retryAtMs = 0;
  }

  /** Whether `entry` is up or due for a try, so a new failure on it is news (not one already counted). */
  isCandidate(entry: BalancedNode<Target>): boolean {
    return entry.up || entry.retryAtMs <= this.clock.nowMs();
  }

  /** A new connection to `entry` is open. */
  connected(entry: BalancedNode<Target>): void {
    entry.telemetry.count('wsbit_output_upstream_connections_total');
  }

  /** A chunk of `records` records was delivered through `entry`. */
  delivered(entry: BalancedNode<Target>, records: number): void {
    entry.telemetry.count('wsbit_output_upstream_chunks_total');
    entry.telemetry.count('wsbit_output_upstream_records_total', records);
    if (!entry.up) {
      entry.up = true;
      entry.telemetry.gauge('wsbit_output_upstream_node_up', 1);
      this.telemetry.logger.info(`[upstream] ${entry.label} is up again`);
    }
    entry.backoff.reset();
  }

  /** `entry` failed; it is marked down until its backoff runs out. Logged once per outage. */
  failed(entry: BalancedNode<Target>, reason: string): void {
    entry.telemetry.count('wsbit_output_upstream_failures_total');
    const waitMs = entry.backoff.nextDelayMs();
    entry.retryAtMs = this.clock.nowMs() + waitMs;
    if (entry.up) {
      entry.up = false;
      entry.telemetry.gauge('wsbit_output_upstream_node_up', 0);
      const others = this.nodes.filter((other) => other.up).length;
      this.telemetry.logger.warn(`[upstream] ${entry.label} is down: ${reason}; ${others} other node${others === 1 ? '' : 's'} up, retrying it in ${(waitMs / 1000).toFixed(1)}s`);
    } else {
      this.telemetry.logger.debug(`[upstream] ${entry.label} still down: ${reason}; next try in ${(waitMs / 1000).toFixed(1)}s`);
    }
  }

  get description(): string {
    return this.nodes.map((entry) => entry.label).join(', ');
  }
}
