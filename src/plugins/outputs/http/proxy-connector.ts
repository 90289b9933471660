/**
 * undici's connector for a node reached through an HTTP proxy: the same CONNECT tunnel as the
 * websocket and forward outputs (base/proxy-tunnel.ts), so the proxy choice (NO_PROXY included),
 * the limits on the proxy's answer and the errors that name the proxy are the same for all three.
 * undici's own ProxyAgent would tunnel too, but reports a refusal as `Proxy response (407) !== 200`
 * without naming the proxy, and would need its own copy of the NO_PROXY rules.
 */
import tls, { type ConnectionOptions } from 'node:tls';
import type { buildConnector } from 'undici';
import { WsbitError } from '../../../base/errors.js';
import type { ProxyServer } from '../../../base/proxy.js';
import { connectThroughProxy, tlsThroughTunnel } from '../../../base/proxy-tunnel.js';

export interface ProxiedTarget {
  host: string;
  port: number;
  /** Node's TLS options for the target (tlsConnectOptions), or null for plain HTTP. */
  tls: ConnectionOptions | null;
  /** The whole connect: tunnel, then TLS inside it. */
  timeoutMs: number;
  localAddress?: string;
}

export function proxyConnector(proxy: ProxyServer, target: ProxiedTarget): buildConnector.connector {
  return (_undiciOptions, callback) => {
    const { host, port } = target;
    const tunnel = connectThroughProxy(proxy, { host, port }, { timeoutMs: target.timeoutMs, ...(target.localAddress !== undefined ? { localAddress: target.localAddress } : {}) });
    const socket = target.tls === null ? tunnel : tlsThroughTunnel(tls.connect, tunnel, { host, ...target.tls, ALPNProtocols: ['http/1.1'] });
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', settle);
      if (error === null) return callback(null, socket);
      socket.destroy();
      callback(error, null);
    };
    const timer = setTimeout(() => {
      settle(new WsbitError('WSBIT_CONNECT_TIMEOUT', `connect to ${host}:${port} through proxy ${proxy.display} timed out after ${target.timeoutMs} ms`));
    }, target.timeoutMs);
    socket.once(target.tls === null ? 'connect' : 'secureConnect', () => settle(null));
    socket.on('error', settle);
  };
}
