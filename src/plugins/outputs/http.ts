import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Pool } from 'undici';
import { netClientKeys, tlsClientKeys } from '../../config/common-keys.js';
import { encodePayload } from '../../codec/payload.js';
import { BufferPool } from '../../base/buffer-pool.js';
import { errorMessage } from '../../base/errors.js';
import { quoteUntrusted } from '../../base/logger.js';
import { UpstreamBalancer, type BalancedNode } from '../../upstream/balancer.js';
import { nodeUri, outputNodes, upstreamKey, type UpstreamNode } from '../../upstream/config.js';
import { tlsConnectOptions } from '../../base/tls.js';
import { defineOutput, type FlushResult } from '../../pipeline/contracts.js';
import { formatKeys, payloadOptions } from './format-keys.js';
import { requestHeaders, resultForStatus } from './http/request.js';

const gzip = promisify(zlib.gzip);

/** How much of a response body goes into a log line, and how much is read at most (the rest is dropped with the connection). */
const LOG_BODY_BYTES = 1024;
const MAX_RESPONSE_BYTES = 1024 * 1024;

const schema = [
  ...netClientKeys,
  ...tlsClientKeys,
  { key: 'uri', type: 'string', default: '/', description: 'Path (and query) requested; a leading / is added if missing. A path in the service URI wins.' },
  ...formatKeys('json'),
  { key: 'header', type: 'header', multiple: true, description: "An HTTP header to send, as 'Name value'; may be given more than once." },
  { key: 'http_user', type: 'string', default: null, description: 'User name for HTTP basic authentication.' },
  { key: 'http_passwd', type: 'string', default: '', description: 'Password for HTTP basic authentication.' },
  { key: 'compress', type: 'enum', values: ['gzip'], default: null, description: "Compress the request body ('gzip'); sent with Content-Encoding: gzip." },
  { key: 'allow_duplicated_headers', type: 'bool', default: true, description: 'Send every configured header even when a name repeats. Off: a later header replaces an earlier one of the same name, defaults included.' },
  { key: 'log_response_payload', type: 'bool', default: true, description: 'Include the response body (cut to 1 KiB) in log lines about responses.' },
  { key: 'http.response_timeout', type: 'time', default: '60s', description: 'Longest wait for the response headers before the request is retried.' },
  { key: 'net.max_worker_connections', type: 'int', default: 0, description: 'Most connections kept open to each node (0: one per worker, at least 2).' },
  upstreamKey,
] as const;

interface NodeTarget {
  pool: Pool;
  uri: string;
  headers: string[];
  origin: string;
}

/** Some errors only say which syscall failed; the code is what a reader needs. */
function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Fluent Bit's `http` output on undici: one POST per chunk, in the output's format, to one host or
 * balanced over the nodes of an `upstream` file. Payloads are the websocket output's bytes for the
 * same format. Keep-alive connections are pooled per node (undici `Pool`, bounded).
 */
export const httpOutput = defineOutput({
  kind: 'output',
  name: 'http',
  description: 'HTTP Output',
  schema,
  serviceUriKeys: { host: 'host', port: 'port', path: 'uri' },
  create(context) {
    const { config, telemetry } = context;
    const port = config.port ?? (config.tls ? 443 : 80);
    const nodes = outputNodes(context.instance, config, port, context.upstream);
    const options = payloadOptions(config, context.service);
    const gzipBody = config.compress === 'gzip';
    // `workers` is a shared output key (resolved with the plugin's own, outside this schema's type).
    const workers = Number((config as Record<string, unknown>)['workers'] ?? 0);
    const connections = config['net.max_worker_connections'] > 0 ? config['net.max_worker_connections'] : Math.max(2, workers);
    const payloadPool = new BufferPool(2);

    const makeTarget = (node: UpstreamNode): NodeTarget => {
      const host = node.host.includes(':') ? `[${node.host}]` : node.host;
      const origin = `${node.tls === null ? 'http' : 'https'}://${host}:${node.port}`;
      const pool = new Pool(origin, {
        connections,
        // net.keepalive off: one request per connection, as Fluent Bit closes it after each flush.
        pipelining: config['net.keepalive'] ? 1 : 0,
        keepAliveTimeout: Math.max(1, config['net.keepalive_idle_timeout']) * 1000,
        keepAliveMaxTimeout: Math.max(1, config['net.keepalive_idle_timeout']) * 1000,
        ...(config['net.keepalive_max_recycle'] > 0 ? { maxRequestsPerClient: config['net.keepalive_max_recycle'] } : {}),
        headersTimeout: Math.max(1, config['http.response_timeout']) * 1000,
        bodyTimeout: config['net.io_timeout'] * 1000,
        connect: {
          timeout: Math.max(1, config['net.connect_timeout']) * 1000,
          ...(config['net.source_address'] !== null ? { localAddress: config['net.source_address'] } : {}),
          ...(node.tls === null ? {} : tlsConnectOptions(node.tls, node.host)),
        },
      });
      pool.on('connect', () => balancer.connected(entryFor(pool)));
      return {
        pool,
        origin,
        uri: nodeUri(node, config.uri),
        headers: requestHeaders({
          format: options.format,
          gzip: gzipBody,
          user: config.http_user,
          password: config.http_passwd,
          headers: [...config.header, ...node.headers],
          allowDuplicates: config.allow_duplicated_headers,
        }),
      };
    };
    const balancer: UpstreamBalancer<NodeTarget> = new UpstreamBalancer(nodes, telemetry, context.clock, makeTarget);
    const entryFor = (pool: Pool): BalancedNode<NodeTarget> => balancer.nodes.find((entry) => entry.target.pool === pool) as BalancedNode<NodeTarget>;

    /** Reads at most MAX_RESPONSE_BYTES of the body; keeps the first LOG_BODY_BYTES for the log. */
    const readBody = async (body: AsyncIterable<Buffer> & { destroy(): void }): Promise<{ head: Buffer; total: number }> => {
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
    };

    /** One POST to one node: `ok`, `retry` (try elsewhere or later) or `error`, with a reason. */
    const post = async (entry: BalancedNode<NodeTarget>, body: Buffer, chunkId: string): Promise<{ result: FlushResult; reason: string }> => {
      const { target } = entry;
      telemetry.count('wsbit_output_http_requests_total');
      let response;
      try {
        response = await target.pool.request({ method: 'POST', path: target.uri, headers: target.headers, body });
      } catch (error) {
        return { result: 'retry', reason: describeNetworkError(error) };
      }
      let text = '';
      try {
        const { head, total } = await readBody(response.body);
        if (config.log_response_payload && total > 0) text = `, response: ${quoteUntrusted(head, LOG_BODY_BYTES, total)}`;
      } catch (error) {
        // The status is what decides; a body cut off by the server does not change it.
        text = `, response body unreadable: ${describeNetworkError(error)}`;
      }
      const result = resultForStatus(response.statusCode);
      const reason = `${target.origin}${target.uri} answered HTTP ${response.statusCode}${text}`;
      if (result === 'ok') telemetry.logger.debug(`chunk '${chunkId}': ${reason}`);
      return { result, reason };
    };

    return {
      async start() {
        const where = config.upstream === null ? `${nodes[0]?.host ?? ''}:${port}` : `upstream ${balancer.description}`;
        telemetry.logger.info(`target ${where}, format ${options.format}${gzipBody ? ', gzip' : ''}, up to ${connections} connection${connections === 1 ? '' : 's'} per node`);
      },
      async flush(chunk) {
        let encoded;
        try {
          encoded = encodePayload(chunk.data, options, payloadPool);
        } catch (error) {
          telemetry.logger.error(`error formatting ${options.format} payload for chunk '${chunk.id}': ${errorMessage(error)}`);
          return 'error';
        }
        for (const { index, reason } of encoded.rejected) {
          telemetry.event('warn', `record ${index} of chunk '${chunk.id}' left out: ${reason}`, 'wsbit_output_rejected_records_total');
        }
        try {
          if (encoded.payload.length === 0) return 'ok';
          const body = gzipBody ? await gzip(encoded.payload) : encoded.payload;
          const delivered = chunk.records - encoded.rejected.length;
          // Failover: a node that fails is marked down and the chunk goes to the next one at once.
          for (const entry of balancer.candidates()) {
            const { result, reason } = await post(entry, body, chunk.id);
            if (result === 'ok') {
              balancer.delivered(entry, delivered);
              return 'ok';
            }
            if (result === 'error') {
              // Another node would refuse the same request; the engine counts and logs the drop.
              telemetry.logger.error(`chunk '${chunk.id}' refused: ${reason}`);
              return 'error';
            }
            balancer.failed(entry, reason);
          }
          return 'retry';
        } finally {
          payloadPool.give(encoded.payload);
        }
      },
      async stop(graceful) {
        // After Grace ran out a request still waiting for its answer is abandoned, not awaited.
        await Promise.all(balancer.nodes.map((entry) => (graceful ? entry.target.pool.close() : entry.target.pool.destroy()).catch(() => undefined)));
      },
    };
  },
});
