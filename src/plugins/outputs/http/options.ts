import type { Pool } from 'undici';
import { tlsConnectOptions } from '../../../base/tls.js';
import type { PayloadOptions } from '../../../codec/payload.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import type { OutputContext } from '../../../pipeline/contracts.js';
import { nodeUri, outputNodes, type UpstreamNode } from '../../../upstream/config.js';
import { payloadOptions } from '../format-keys.js';
import { nodeProxy, proxyNote } from '../node-proxy.js';
import { proxyConnector } from './proxy-connector.js';
import { requestHeaders } from './request.js';
import type { httpOutputSchema } from './schema.js';

export type HttpOutputConfig = ResolvedConfig<typeof httpOutputSchema>;

/** How the output reaches one node: its connection pool's settings, and what every request carries. */
export interface HttpNodeOptions {
  /** `http://host:port` or `https://...`, as undici's Pool takes it. */
  origin: string;
  pool: Pool.Options;
  uri: string;
  /** Flat `[name, value, ...]`, see requestHeaders. */
  headers: string[];
}

/** What the http output runs with, derived from its configuration. */
export interface HttpOutputOptions {
  /** One node, or those of the upstream. */
  nodes: UpstreamNode[];
  /** `host:port` for the start-up line, or null with an upstream. */
  singleTarget: string | null;
  payload: PayloadOptions;
  gzip: boolean;
  /** Most connections kept open to each node. */
  connectionsPerNode: number;
  /** Quote the response body in log lines about responses. */
  logResponsePayload: boolean;
  node(node: UpstreamNode): HttpNodeOptions;
}

export function httpOutputOptions(config: HttpOutputConfig, context: Pick<OutputContext<unknown>, 'instance' | 'upstream' | 'service'>): HttpOutputOptions {
  const port = config.port ?? (config.tls ? 443 : 80);
  const nodes = outputNodes(context.instance, config, port, context.upstream);
  const payload = payloadOptions(config, context.service);
  const gzip = config.compress === 'gzip';
  // `workers` is a shared output key (resolved with the plugin's own, outside this schema's type).
  const workers = Number((config as Record<string, unknown>)['workers'] ?? 0);
  const connectionsPerNode = config['net.max_worker_connections'] > 0 ? config['net.max_worker_connections'] : Math.max(2, workers);
  const idleTimeoutMs = Math.max(1, config['net.keepalive_idle_timeout']) * 1000;
  return {
    nodes,
    singleTarget: config.upstream === null ? `${nodes[0]?.host ?? ''}:${port}${nodes[0] === undefined ? '' : proxyNote(nodeProxy(config, nodes[0]))}` : null,
    payload,
    gzip,
    connectionsPerNode,
    logResponsePayload: config.log_response_payload,
    node(node) {
      const host = node.host.includes(':') ? `[${node.host}]` : node.host;
      const proxy = nodeProxy(config, node);
      const connectTimeoutMs = Math.max(1, config['net.connect_timeout']) * 1000;
      const localAddress = config['net.source_address'] ?? undefined;
      return {
        origin: `${node.tls === null ? 'http' : 'https'}://${host}:${node.port}`,
        pool: {
          connections: connectionsPerNode,
          // net.keepalive off: one request per connection, as Fluent Bit closes it after each flush.
          pipelining: config['net.keepalive'] ? 1 : 0,
          keepAliveTimeout: idleTimeoutMs,
          keepAliveMaxTimeout: idleTimeoutMs,
          ...(config['net.keepalive_max_recycle'] > 0 ? { maxRequestsPerClient: config['net.keepalive_max_recycle'] } : {}),
          headersTimeout: Math.max(1, config['http.response_timeout']) * 1000,
          bodyTimeout: config['net.io_timeout'] * 1000,
          connect:
            proxy === null
              ? {
                  timeout: connectTimeoutMs,
                  ...(localAddress !== undefined ? { localAddress } : {}),
                  ...(node.tls === null ? {} : tlsConnectOptions(node.tls, node.host)),
                }
              : proxyConnector(proxy.server, {
                  host: node.host,
                  port: node.port,
                  tls: node.tls === null ? null : tlsConnectOptions(node.tls, node.host),
                  timeoutMs: connectTimeoutMs,
                  ...(localAddress !== undefined ? { localAddress } : {}),
                }),
        },
        uri: nodeUri(node, config.uri),
        headers: requestHeaders({
          format: payload.format,
          gzip,
          user: config.http_user,
          password: config.http_passwd,
          headers: [...config.header, ...node.headers],
          allowDuplicates: config.allow_duplicated_headers,
        }),
      };
    },
  };
}
