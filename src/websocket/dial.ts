/**
 * What a client connection is told, and the socket it starts from: TCP, or TLS over it, not yet connected.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { BufferPool } from '../base/buffer-pool.js';
import type { ProxyServer } from '../base/proxy.js';
import { connectThroughProxy, tlsThroughTunnel } from '../base/proxy-tunnel.js';
import { tlsModule } from '../base/openssl.js';
import { tlsConnectOptions, type TlsSettings } from '../base/tls.js';
import type { DeflateOffer } from './deflate.js';
import type { HttpHeader } from './handshake.js';

export interface WebSocketConnectionOptions {
  host: string;
  port: number;
  uri: string;
  /** `null` or absent: plain TCP. The `tls*` keys, as every output that opens its own sockets reads them. */
  tls?: TlsSettings | null;
  /** `null` or absent: connect directly. Else a CONNECT tunnel through this proxy, for plain and TLS alike. */
  proxy?: ProxyServer | null;
  headers: readonly HttpHeader[];
  subprotocol?: string;
  /** TCP connect plus TLS handshake, as Fluent Bit's `net.connect_timeout`. */
  connectTimeoutMs: number;
  /** From the upgrade request written to a complete 101 response. */
  handshakeTimeoutMs: number;
  /** Longest a single write may take to reach the socket; 0 = no limit (Fluent Bit's `net.io_timeout`). */
  ioTimeoutMs: number;
  /** How long close() waits for the server's Close before dropping the socket; default 1000. */
  closeTimeoutMs?: number;
  sourceAddress?: string;
  keepaliveHeader: boolean;
  /** Idle time before the first TCP keepalive probe; default 30000. */
  tcpKeepaliveInitialDelayMs?: number;
  /** Largest message accepted from the server (they are ignored anyway); default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Most control frames the server may send per second that we did not ask for (its pings, and pongs that
   * answer none of our pings) before the connection is dropped as hostile; 0 = no limit. Default 100: real
   * servers ping every few seconds at most.
   */
  maxControlFramesPerSecond?: number;
  /**
   * Drop the connection when our unsent bytes stay above WRITE_BACKLOG_BOUND_BYTES this long (a server that
   * does not read); 0 = never. Default 30000.
   */
  writeStallTimeoutMs?: number;
  /** Where large frame buffers come from: one pool for all connections of an output (see WebSocketSender). */
  framePool?: BufferPool;
  /** Offer permessage-deflate (RFC 7692); the server may decline, and the connection then sends uncompressed. */
  compression?: DeflateOffer;
  /** Told of every compressed message: its payload bytes, and its compressed bytes. */
  onCompressed?: (payloadBytes: number, compressedBytes: number) => void;
}


/**
 * Starts the TCP connection (and the TLS handshake over it when `tls` is set); the caller listens for
 * 'connect' and 'secureConnect'. Through a proxy, 'connect' means the tunnel is open, and TLS runs
 * inside it with the target's name for SNI and verification.
 */
export function dial(options: WebSocketConnectionOptions): Socket {
  const { host, port, sourceAddress, proxy } = options;
  if (proxy !== undefined && proxy !== null) {
    const tunnel = connectThroughProxy(proxy, { host, port }, { timeoutMs: options.connectTimeoutMs, ...(sourceAddress !== undefined ? { localAddress: sourceAddress } : {}) });
    if (options.tls === undefined || options.tls === null) return tunnel;
    const tlsOptions = { host, ...tlsConnectOptions(options.tls, host), ALPNProtocols: ['http/1.1'] };
    return tlsThroughTunnel((connectOptions) => tlsModule().connect(connectOptions), tunnel, tlsOptions, options.tcpKeepaliveInitialDelayMs);
  }
  // Node merges connect options over its defaults, so an explicit `undefined` would erase a default
  // (tls.checkServerIdentity, for one): only keys with values are passed. tls.connect also accepts the
  // net.connect options such as localAddress, though its typings omit them.
  const tcp = { host, port, ...(sourceAddress !== undefined ? { localAddress: sourceAddress } : {}) };
  if (options.tls === undefined || options.tls === null) return netConnect(tcp);
  return tlsModule().connect({
    ...tcp,
    ...tlsConnectOptions(options.tls, host),
    ALPNProtocols: ['http/1.1'],
  });
}
