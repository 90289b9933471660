import { BufferPool } from '../../core/buffer-pool.js';
import { netClientKeys, tlsClientKeys } from '../../config/common-keys.js';
import { ConfigError, errorMessage } from '../../core/errors.js';
import { encodePayload } from '../../codec/payload.js';
import { Opcode } from '../../websocket/frame.js';
import { withShownDefaults } from '../../config/schema.js';
import { defineOutput } from '../types.js';
import { formatKeys, payloadOptions } from './format-keys.js';
import { reportRejectedRecords } from './rejected.js';
import { WebSocketLink } from './websocket/link.js';

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
    const tlsEnabled = config.tls;
    const host = config.host ?? '127.0.0.1';
    // Fluent Bit keeps port 80 with TLS on, a known trap; wsbit uses 443 (SPEC part A).
    const port = config.port ?? (tlsEnabled ? 443 : 80);
    if (port < 1 || port > 65535) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${context.instance}: invalid value '${port}' for 'port': expected 1 to 65535`);
    }
    const uri = config.uri.startsWith('/') ? config.uri : `/${config.uri}`;
    const options = payloadOptions(config, context.service);
    const payloadPool = new BufferPool(2);
    const link = new WebSocketLink(
      {
        connection: {
          host,
          port,
          uri,
          tls: tlsEnabled
            ? {
                enabled: true,
                verify: config['tls.verify'],
                verifyHostname: config['tls.verify_hostname'],
                ...(config['tls.ca_file'] !== null ? { caFile: config['tls.ca_file'] } : {}),
                ...(config['tls.ca_path'] !== null ? { caPath: config['tls.ca_path'] } : {}),
                ...(config['tls.crt_file'] !== null ? { crtFile: config['tls.crt_file'] } : {}),
                ...(config['tls.key_file'] !== null ? { keyFile: config['tls.key_file'] } : {}),
                ...(config['tls.key_passwd'] !== null ? { keyPassphrase: config['tls.key_passwd'] } : {}),
                ...(config['tls.min_version'] !== null ? { minVersion: config['tls.min_version'] } : {}),
                ...(config['tls.max_version'] !== null ? { maxVersion: config['tls.max_version'] } : {}),
                ...(config['tls.ciphers'] !== null ? { ciphers: config['tls.ciphers'] } : {}),
                ...(config['tls.vhost'] !== null ? { servername: config['tls.vhost'] } : {}),
              }
            : { enabled: false, verify: false },
          headers: config.header,
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
      },
      telemetry,
      context.clock,
      context.notifyReady,
    );

    return {
      // The link's reconnect loop calls notifyReady() the moment a handshake succeeds again.
      signalsReady: true,
      async start() {
        telemetry.logger.info(
          `target ${link.description}, format ${options.format}, confirm_delivery ${config.confirm_delivery ? 'on' : 'off'}`,
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
          if (encoded.payload.length > 0) await link.send(encoded.isText ? Opcode.Text : Opcode.Binary, encoded.payload);
          // Reported once the rest is delivered: a retried chunk would otherwise count them on every attempt.
          reportRejectedRecords(telemetry, chunk, encoded.rejected);
          return 'ok';
        } catch (error) {
          telemetry.logger.debug(`chunk '${chunk.id}' not delivered: ${errorMessage(error)}`);
          return 'retry';
        } finally {
          // The frame holds a masked copy, so the text can serve the next chunk.
          payloadPool.give(encoded.payload);
        }
      },
      async stop(graceful) {
        await link.stop(graceful);
      },
    };
  },
});
