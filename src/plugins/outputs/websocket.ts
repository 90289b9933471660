import { BufferPool } from '../../base/buffer-pool.js';
import { netClientKeys, tlsClientKeys } from '../../config/common-keys.js';
import { WsbitError, errorMessage } from '../../base/errors.js';
import type { Telemetry } from '../../base/telemetry.js';
import { UpstreamBalancer, type BalancedNode } from '../../upstream/balancer.js';
import { nodeUri, outputNodes, upstreamKey, type UpstreamNode } from '../../upstream/config.js';
import { encodePayload } from '../../codec/payload.js';
import { Opcode, type DataOpcode } from '../../websocket/frame.js';
import { withShownDefaults } from '../../config/schema.js';
import { defineOutput, type FlushResult } from '../../pipeline/contracts.js';
import { formatKeys, payloadOptions } from './format-keys.js';
import { reportRejectedRecords } from './rejected.js';
import { WebSocketLink, type LinkOptions } from './websocket/link.js';

const schema = [
  // create() fills these in when they are not given; help says what it picks.
  ...withShownDefaults(netClientKeys, { host: '127.0.0.1', port: '80 (443 with tls on)' }),
  ...tlsClientKeys,
  { key: 'uri', type: 'string', default: '/', description: 'Path (and query) of the WebSocket endpoint; a leading / is added if missing. A path in the service URI wins.' },
  ...formatKeys('msgpack'),
  { key: 'header', type: 'header', multiple: true, description: "An HTTP header sent with the upgrade request, as 'Name value' (e.g. 'Authorization Bearer abc')." },
  { key: 'subprotocol', type: 'string', default: null, description: 'Sec-WebSocket-Protocol to request; the server must accept it.' },
  { key: 'ping_interval', type: 'time', default: '10s', description: 'Send a keepalive ping this often while connected, to notice a dead server between flushes (0 = off).' },
  { key: 'ping_timeout', type: 'time', default: '10s', description: 'Drop the connection when a keepalive ping gets no pong within this time.' },
  { key: 'confirm_delivery', type: 'bool', default: true, description: 'Count a chunk as delivered only when the pong for a ping sent after it returns, which proves the server read it. Off: delivered once written to the socket, as Fluent Bit does.' },
  { key: 'confirm_timeout', type: 'time', default: '30s', description: 'How long to wait for that pong before the chunk is retried on a new connection.' },
  { key: 'handshake_timeout', type: 'time', default: '10s', description: 'How long to wait for the HTTP 101 response to the upgrade request.' },
  { key: 'control_frame_limit', type: 'int', default: 100, description: 'Most pings, and pongs answering none of ours, the server may send in one second; more drops the connection as hostile and its chunks go to the next one (0 = no limit).' },
  upstreamKey,
  { key: 'write_stall_timeout', type: 'time', default: '30s', description: 'Drop the connection when more than 64 KiB we sent stays unread by the server this long; its chunks go to the next connection (0 = never).' },
] as const;

/**
 * The WebSocket client output: Fluent Bit's `websocket` keys and payloads, with the defects listed
 * in SPEC part A fixed. One message per chunk, binary for msgpack and text for JSON formats.
 */
export const websocketOutput = defineOutput({
  kind: 'output',
  name: 'websocket',
  description: 'Websocket',
  schema,
  serviceUriKeys: { host: 'host', port: 'port', path: 'uri' },
  // Its failures are connection failures: wait for the server rather than drop data (SPEC part A).
  defaultRetryLimit: 'no_limits',
  create(context) {
    const { config, telemetry } = context;
    // Fluent Bit keeps port 80 with TLS on, a known trap; wsbit uses 443 (SPEC part A).
    const port = config.port ?? (config.tls ? 443 : 80);
    const nodes = outputNodes(context.instance, config, port, context.upstream);
    const balanced = context.upstream !== undefined || config.upstream !== null;
    const options = payloadOptions(config, context.service);
    const payloadPool = new BufferPool(2);
    const linkTo = (node: UpstreamNode, linkTelemetry: Telemetry, hooks: Pick<LinkOptions, 'onConnected' | 'onLost'>, onReady: () => void): WebSocketLink =>
      new WebSocketLink(
        {
          connection: {
            host: node.host,
            port: node.port,
            uri: nodeUri(node, config.uri),
            tls: node.tls,
            headers: [...config.header, ...node.headers],
            ...(config.subprotocol !== null ? { subprotocol: config.subprotocol } : {}),
            connectTimeoutMs: config['net.connect_timeout'] * 1000,
            handshakeTimeoutMs: config.handshake_timeout * 1000,
            ioTimeoutMs: config['net.io_timeout'] * 1000,
            ...(config['net.source_address'] !== null ? { sourceAddress: config['net.source_address'] } : {}),
            keepaliveHeader: config['net.keepalive'],
            maxControlFramesPerSecond: Math.max(0, config.control_frame_limit),
            writeStallTimeoutMs: config.write_stall_timeout * 1000,
          },
          idleTimeoutMs: Math.max(1, config['net.keepalive_idle_timeout']) * 1000,
          keepalive: config['net.keepalive'],
          maxFlushesPerConnection: config['net.keepalive_max_recycle'],
          pingIntervalMs: config.ping_interval * 1000,
          pingTimeoutMs: Math.max(1, config.ping_timeout) * 1000,
          confirmDelivery: config.confirm_delivery,
          confirmTimeoutMs: Math.max(1, config.confirm_timeout) * 1000,
          connectTimeoutLogError: config['net.connect_timeout_log_error'],
          ...hooks,
        },
        linkTelemetry,
        context.clock,
        onReady,
      );

    // One link per node. Without an upstream there is one node and no balancer: the link alone says
    // when the server is back. With one, each node's link keeps its own reconnect loop (the node's own
    // backoff) and its counters under `OUTPUT/NODE`, and the balancer picks the node for each chunk.
    let balancer: UpstreamBalancer<WebSocketLink> | null = null;
    // Nodes whose last failure came on an open connection (no pong, a reset mid-send). For them a new
    // handshake is no news, so it does not cut their backoff short: a node that accepts handshakes
    // but never confirms would otherwise hold up every other chunk for confirm_timeout.
    const failedWhileOpen = new Set<UpstreamNode>();
    const single = balanced ? null : linkTo(nodes[0] as UpstreamNode, telemetry, {}, context.notifyReady);
    if (balanced) {
      const entryOf = (node: UpstreamNode): BalancedNode<WebSocketLink> | undefined => balancer?.nodes.find((entry) => entry.node === node);
      balancer = new UpstreamBalancer<WebSocketLink>(nodes, telemetry, context.clock, (node, nodeTelemetry) =>
        linkTo(
          node,
          nodeTelemetry,
          {
            onConnected: () => {
              const entry = entryOf(node);
              if (entry !== undefined) balancer?.connected(entry);
            },
            // An idle connection that stops answering pings (or is closed under us) marks its node down.
            onLost: (reason) => {
              failedWhileOpen.add(node);
              const entry = entryOf(node);
              if (entry !== undefined && balancer?.isCandidate(entry) === true) balancer.failed(entry, reason);
            },
          },
          () => {
            const entry = entryOf(node);
            if (entry !== undefined && !failedWhileOpen.has(node)) balancer?.reachable(entry);
            context.notifyReady();
          },
        ),
      );
    }
    const links = balancer === null ? [single as WebSocketLink] : balancer.nodes.map((entry) => entry.target);

    /** Sends one message on one node; with an upstream, a node that fails is marked down and the next one tried at once. */
    const deliver = async (opcode: DataOpcode, payload: Buffer, records: number, chunkId: string): Promise<FlushResult> => {
      if (balancer === null) {
        try {
          await (single as WebSocketLink).send(opcode, payload);
          return 'ok';
        } catch (error) {
          telemetry.logger.debug(`chunk '${chunkId}' not delivered: ${errorMessage(error)}`);
          return 'retry';
        }
      }
      for (const entry of balancer.candidates()) {
        try {
          await entry.target.send(opcode, payload);
          balancer.delivered(entry, records);
          failedWhileOpen.delete(entry.node);
          return 'ok';
        } catch (error) {
          if (error instanceof WsbitError && error.code === 'WSBIT_OUTPUT_STOPPED') return 'retry';
          telemetry.logger.debug(`chunk '${chunkId}' not delivered through ${entry.label}: ${errorMessage(error)}`);
          if (error instanceof WsbitError && error.code === 'WSBIT_OUTPUT_DOWN') failedWhileOpen.delete(entry.node);
          else failedWhileOpen.add(entry.node);
          // onLost may have marked it down already for the same failure.
          if (balancer.isCandidate(entry)) balancer.failed(entry, errorMessage(error));
        }
      }
      return 'retry';
    };

    return {
      // The link's reconnect loop calls notifyReady() the moment a handshake succeeds again.
      signalsReady: true,
      async start() {
        telemetry.logger.info(
          `target ${balancer === null ? links[0]?.description : `upstream ${balancer.description}`}, format ${options.format}, confirm_delivery ${config.confirm_delivery ? 'on' : 'off'}`,
        );
      },
      async flush(chunk) {
        let encoded;
        try {
          encoded = encodePayload(chunk.data, options, payloadPool);
        } catch (error) {
          // A chunk that cannot be read is not going to become readable on a retry.
          telemetry.logger.error(`[out_ws] error formatting ${options.format} payload for chunk '${chunk.id}': ${errorMessage(error)}`);
          return 'error';
        }
        try {
          const result = encoded.payload.length === 0 ? 'ok' : await deliver(encoded.isText ? Opcode.Text : Opcode.Binary, encoded.payload, chunk.records - encoded.rejected.length, chunk.id);
          // Reported once the rest is delivered: a retried chunk would otherwise count them on every attempt.
          if (result === 'ok') reportRejectedRecords(telemetry, chunk, encoded.rejected);
          return result;
        } finally {
          // The frame holds a masked copy, so the text can serve the next chunk.
          payloadPool.give(encoded.payload);
        }
      },
      async stop(graceful) {
        await Promise.all(links.map((link) => link.stop(graceful)));
      },
    };
  },
});
