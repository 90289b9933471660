import { Pool } from 'undici';
import { errorMessage } from '../../../base/errors.js';
import { quoteUntrusted } from '../../../base/logger.js';
import type { FlushResult, OutputContext } from '../../../pipeline/contracts.js';
import { UpstreamBalancer, type BalancedNode } from '../../../upstream/balancer.js';
import type { HeaderPair } from '../../../config/schema.js';
import type { HttpNodeOptions, HttpOutputOptions } from './options.js';
import { resultForStatus } from './request.js';

/** How much of a response body goes into a log line, and how much is read at most (the rest is dropped with the connection). */
const LOG_BODY_BYTES = 1024;
const MAX_RESPONSE_BYTES = 1024 * 1024;

interface NodeTarget {
  pool: Pool;
  uri: string;
  headers: HttpNodeOptions['headers'];
  origin: string;
}

/** Some errors only say which syscall failed; the code is what a reader needs. */
function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/** Reads at most MAX_RESPONSE_BYTES of the body; keeps the first LOG_BODY_BYTES for the log. */
async function readBody(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<{ head: Buffer; total: number }> {
  const parts: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const part of body) {
    total += part.length;
    if (kept < LOG_BODY_BYTES) {
      parts.push(part.subarray(0, LOG_BODY_BYTES - kept));
      kept += Math.min(part.length, LOG_BODY_BYTES - kept);
    }
    if (total > MAX_RESPONSE_BYTES) {
      body.destroy();
      break;
    }
  }
  return { head: Buffer.concat(parts), total };
}

/**
 * Where the http output's requests go: a keep-alive connection pool per node (undici `Pool`, bounded),
 * balanced over the nodes of an upstream, with failover to the next node at once.
 */
export class HttpDelivery {
  private readonly balancer: UpstreamBalancer<NodeTarget>;

  constructor(
    private readonly options: HttpOutputOptions,
    private readonly context: Pick<OutputContext<unknown>, 'telemetry' | 'clock'>,
  ) {
    this.balancer = new UpstreamBalancer<NodeTarget>(options.nodes, context.telemetry, context.clock, (node) => {
      const { origin, pool: poolOptions, uri, headers } = options.node(node);
      const pool = new Pool(origin, poolOptions);
      pool.on('connect', () => this.balancer.connected(this.entryFor(pool)));
      return { pool, origin, uri, headers };
    });
  }

  /** The node, or the upstream, for the start-up line. */
  get description(): string {
    return this.options.singleTarget ?? `upstream ${this.balancer.description}`;
  }

  /**
   * Sends `body` (records of `tag`) to a node; `records` are counted as delivered by the node that
   * takes it. `recordHeaders`: with body_key, the record's own headers.
   */
  async deliver(body: Buffer, records: number, chunkId: string, tag: string, recordHeaders: readonly HeaderPair[] | null = null): Promise<FlushResult> {
    const { balancer } = this;
    // Failover: a node that fails is marked down and the chunk goes to the next one at once.
    for (const entry of balancer.candidates()) {
      const { result, reason } = await this.post(entry, body, chunkId, entry.target.headers(tag, recordHeaders));
      if (result === 'ok') {
        balancer.delivered(entry, records);
        return 'ok';
      }
      if (result === 'error') {
        // Another node would refuse the same request; the engine counts and logs the drop.
        this.context.telemetry.logger.error(`chunk '${chunkId}' refused: ${reason}`);
        return 'error';
      }
      balancer.failed(entry, reason);
    }
    return 'retry';
  }

  async stop(graceful: boolean): Promise<void> {
    // After Grace ran out a request still waiting for its answer is abandoned, not awaited.
    await Promise.all(this.balancer.nodes.map((entry) => (graceful ? entry.target.pool.close() : entry.target.pool.destroy()).catch(() => undefined)));
  }

  private entryFor(pool: Pool): BalancedNode<NodeTarget> {
    return this.balancer.nodes.find((entry) => entry.target.pool === pool) as BalancedNode<NodeTarget>;
  }

  /** One request to one node: `ok`, `retry` (try elsewhere or later) or `error`, with a reason. */
  private async post(entry: BalancedNode<NodeTarget>, body: Buffer, chunkId: string, headers: string[]): Promise<{ result: FlushResult; reason: string }> {
    const { telemetry } = this.context;
    const { target } = entry;
    telemetry.count('wsbit_output_http_requests_total');
    let response;
    try {
      response = await target.pool.request({ method: this.options.method, path: target.uri, headers, body });
    } catch (error) {
      return { result: 'retry', reason: describeNetworkError(error) };
    }
    let text = '';
    try {
      const { head, total } = await readBody(response.body);
      if (this.options.logResponsePayload && total > 0) text = `, response: ${quoteUntrusted(head, LOG_BODY_BYTES, total)}`;
    } catch (error) {
      // The status is what decides; a body cut off by the server does not change it.
      text = `, response body unreadable: ${describeNetworkError(error)}`;
    }
    const result = resultForStatus(response.statusCode);
    const reason = `${target.origin}${target.uri} answered HTTP ${response.statusCode}${text}`;
    if (result === 'ok') telemetry.logger.debug(`chunk '${chunkId}': ${reason}`);
    return { result, reason };
  }
}
