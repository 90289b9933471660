import { cryptoModule } from '../../base/openssl.js';
import { ConfigError, errorMessage } from '../../base/errors.js';
import { UpstreamBalancer, type BalancedNode } from '../../upstream/balancer.js';
import { outputNodes, type UpstreamNode } from '../../upstream/config.js';
import { defineOutput } from '../../pipeline/contracts.js';
import { ForwardConnection } from './forward/connection.js';
import { encodeForwardMessage } from './forward/encode.js';
import { forwardOutputManifest } from './forward/schema.js';
import { nodeProxy, proxyNote } from './node-proxy.js';

interface NodeTarget {
  idle: ForwardConnection[];
}

/**
 * Fluent Bit's `forward` output: Fluentd's Forward protocol to one server or balanced over the
 * nodes of an `upstream` file, with acks and the shared-key handshake. Connections are kept open
 * between flushes (one per chunk in flight) and read all the time, so a closed one is noticed.
 */
export const forwardOutput = defineOutput({
  ...forwardOutputManifest,
  create(context) {
    const { config, telemetry } = context;
    const port = config.port ?? 24224;
    if (config.compress === 'gzip' && config.time_as_integer) {
      // Fluent Bit refuses the pair too: gzip needs PackedForward, time_as_integer is for Fluentd v0.12, which has no compression.
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${context.instance}: compress gzip cannot be used with time_as_integer on`);
    }
    const nodes = outputNodes(context.instance, config, port, context.upstream);
    // Chosen once, at start: the environment is read then, as for the other outputs.
    const proxies = new Map(nodes.map((node): [UpstreamNode, ReturnType<typeof nodeProxy>] => [node, nodeProxy(config, node)]));
    // As in Fluent Bit, an upstream wins over unix_path.
    const unixPath = config.upstream === null ? config.unix_path : null;
    if (config.unix_path !== null && unixPath === null) telemetry.logger.warn(`unix_path '${config.unix_path}' is ignored: upstream is set`);
    const outputKey = config.shared_key ?? (config.empty_shared_key ? '' : null);
    const workers = Number((config as Record<string, unknown>)['workers'] ?? 0);
    const maxIdle = Math.max(1, workers);
    const idleTimeoutMs = Math.max(1, config['net.keepalive_idle_timeout']) * 1000;
    const balancer = new UpstreamBalancer<NodeTarget>(nodes, telemetry, context.clock, () => ({ idle: [] }));

    const take = async (entry: BalancedNode<NodeTarget>): Promise<ForwardConnection> => {
      const now = context.clock.nowMs();
      for (let connection = entry.target.idle.pop(); connection !== undefined; connection = entry.target.idle.pop()) {
        if (connection.alive && now - connection.lastUsedMs < idleTimeoutMs) return connection;
        connection.destroy();
      }
      const sharedKey = entry.node.sharedKey ?? outputKey;
      const connection = new ForwardConnection({
        host: entry.node.host,
        port: entry.node.port,
        unixPath,
        tls: entry.node.tls,
        proxy: proxies.get(entry.node)?.server ?? null,
        sourceAddress: config['net.source_address'],
        connectTimeoutMs: Math.max(1, config['net.connect_timeout']) * 1000,
        responseTimeoutMs: Math.max(1, config.ack_timeout) * 1000,
        handshake:
          sharedKey === null
            ? null
            : { sharedKey, selfHostname: entry.node.selfHostname ?? config.self_hostname, username: config.username, password: config.password },
      });
      await connection.open();
      balancer.connected(entry);
      return connection;
    };

    const giveBack = (entry: BalancedNode<NodeTarget>, connection: ForwardConnection): void => {
      const recycle = config['net.keepalive_max_recycle'];
      const reusable = config['net.keepalive'] && connection.alive && (recycle <= 0 || connection.sent < recycle) && entry.target.idle.length < maxIdle;
      if (!reusable) return connection.destroy();
      connection.lastUsedMs = context.clock.nowMs();
      entry.target.idle.push(connection);
    };

    return {
      async start() {
        const where =
          unixPath !== null
            ? `unix://${unixPath}`
            : config.upstream === null
              ? `${nodes[0]?.host ?? ''}:${port}${proxyNote(proxies.get(nodes[0] as UpstreamNode) ?? null)}`
              : `upstream ${balancer.description}`;
        const mode = config.compress === 'gzip' ? 'CompressedPackedForward' : config.forward_mode === 'packed_forward' ? 'PackedForward' : 'Forward';
        telemetry.logger.info(`target ${where}, ${mode} mode${config.require_ack_response ? ', with acks' : ''}${outputKey !== null ? ', shared key' : ''}`);
      },
      async flush(chunk) {
        // Fluent Bit's chunk ids are 16 random bytes in base64; a fresh one per attempt keeps a late ack from confirming a retry.
        const chunkId = config.require_ack_response ? cryptoModule().randomBytes(16).toString('base64') : null;
        let encoded;
        try {
          encoded = await encodeForwardMessage(chunk.data, {
            tag: config.tag ?? chunk.tag,
            mode: config.forward_mode,
            gzip: config.compress === 'gzip',
            timeAsInteger: config.time_as_integer,
            retainMetadata: config.retain_metadata_in_forward_mode,
            sendOptions: config.send_options,
            chunkId,
            extraOptions: config.add_option,
          });
        } catch (error) {
          telemetry.logger.error(`error encoding chunk '${chunk.id}': ${errorMessage(error)}`);
          return 'error';
        }
        if (encoded.records === 0) return 'ok';
        // Failover: a node that fails is marked down and the chunk goes to the next one at once.
        for (const entry of balancer.candidates()) {
          let connection: ForwardConnection | null = null;
          try {
            connection = await take(entry);
            await connection.send(encoded.message, chunkId);
            if (chunkId !== null) telemetry.count('wsbit_output_forward_acks_total');
            giveBack(entry, connection);
            balancer.delivered(entry, encoded.records);
            return 'ok';
          } catch (error) {
            connection?.destroy();
            balancer.failed(entry, errorMessage(error));
          }
        }
        return 'retry';
      },
      async stop() {
        for (const entry of balancer.nodes) {
          for (const connection of entry.target.idle.splice(0)) connection.destroy();
        }
      },
    };
  },
});
