import type { ResolvedConfig } from '../../../config/schema.js';
import type { MessageOptions } from '../../../codec/messages.js';
import type { PayloadOptions } from '../../../codec/payload.js';
import type { OutputContext } from '../../../pipeline/contracts.js';
import { nodeUri, outputNodes, type UpstreamNode } from '../../../upstream/config.js';
import { outputBufferPool } from '../buffer-pools.js';
import { payloadOptions } from '../format-keys.js';
import { nodeProxy, proxyNote } from '../node-proxy.js';
import type { LinkOptions } from './link.js';
import type { websocketOutputSchema } from './schema.js';

export type WebSocketOutputConfig = ResolvedConfig<typeof websocketOutputSchema>;

/** A link's settings except the hooks an upstream's balancer adds. */
export type NodeLinkOptions = Omit<LinkOptions, 'onConnected' | 'onLost'>;

/** What the websocket output runs with, derived from its configuration. */
export interface WebSocketOutputOptions {
  /** One node, or those of the upstream. */
  nodes: UpstreamNode[];
  /** An upstream is set: a balancer picks the node for each chunk. */
  balanced: boolean;
  payload: PayloadOptions;
  /** One message per chunk or per record. */
  messages: MessageOptions;
  confirmDelivery: boolean;
  /** Size of the frames a chunk's message is cut into while it is made; 0: one frame (see `fragment_size`). */
  fragmentBytes: number;
  /** The settings of the link to `node`. */
  linkOptions(node: UpstreamNode): NodeLinkOptions;
}

export function websocketOutputOptions(config: WebSocketOutputConfig, context: Pick<OutputContext<unknown>, 'instance' | 'upstream' | 'service'>): WebSocketOutputOptions {
  // Fluent Bit keeps port 80 with TLS on, a known trap; wsbit uses 443 (SPEC part A).
  const port = config.port ?? (config.tls ? 443 : 80);
  // Shared by the output's connections: a reconnect keeps the buffers, and an upstream's nodes share them.
  const framePool = outputBufferPool(config);
  return {
    nodes: outputNodes(context.instance, config, port, context.upstream),
    balanced: context.upstream !== undefined || config.upstream !== null,
    payload: payloadOptions(config, context.service),
    messages: { mode: config.message_mode, newline: config.message_newline },
    confirmDelivery: config.confirm_delivery,
    fragmentBytes: config.message_mode === 'chunk' && config.compress === 'off' ? config.fragment_size : 0,
    linkOptions: (node) => ({
      connection: {
        host: node.host,
        port: node.port,
        uri: nodeUri(node, config.uri),
        tls: node.tls,
        proxy: nodeProxy(config, node)?.server ?? null,
        headers: [...config.header, ...node.headers],
        ...(config.subprotocol !== null ? { subprotocol: config.subprotocol } : {}),
        connectTimeoutMs: config['net.connect_timeout'] * 1000,
        handshakeTimeoutMs: config.handshake_timeout * 1000,
        ioTimeoutMs: config['net.io_timeout'] * 1000,
        ...(config['net.source_address'] !== null ? { sourceAddress: config['net.source_address'] } : {}),
        keepaliveHeader: config['net.keepalive'],
        maxControlFramesPerSecond: Math.max(0, config.control_frame_limit),
        writeStallTimeoutMs: config.write_stall_timeout * 1000,
        framePool,
        ...(config.compress === 'deflate'
          ? { compression: { level: config['compress.level'], threshold: config['compress.threshold'], clientMaxWindowBits: config['compress.window_bits'] } }
          : {}),
      },
      idleTimeoutMs: Math.max(1, config['net.keepalive_idle_timeout']) * 1000,
      keepalive: config['net.keepalive'],
      maxFlushesPerConnection: config['net.keepalive_max_recycle'],
      pingIntervalMs: config.ping_interval * 1000,
      pingTimeoutMs: Math.max(1, config.ping_timeout) * 1000,
      confirmDelivery: config.confirm_delivery,
      confirmTimeoutMs: Math.max(1, config.confirm_timeout) * 1000,
      connectTimeoutLogError: config['net.connect_timeout_log_error'],
      proxyNote: proxyNote(nodeProxy(config, node)),
    }),
  };
}
