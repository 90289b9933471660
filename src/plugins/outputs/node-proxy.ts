/**
 * The proxy of each node an output dials (websocket, http, forward): the output's `proxy` key, else
 * the environment's choice for the node's host and scheme (base/proxy.ts). An upstream's nodes each
 * get their own answer, so NO_PROXY can send some of them direct.
 */
import { chooseProxy, type ChosenProxy, type ProxyEnvironment, type ProxyServer } from '../../base/proxy.js';
import type { UpstreamNode } from '../../upstream/config.js';

export interface ProxyKeyValues {
  proxy: ProxyServer | null;
  'net.proxy_env_ignore': boolean;
}

export function nodeProxy(config: ProxyKeyValues, node: Pick<UpstreamNode, 'host' | 'tls'>, env: ProxyEnvironment = process.env): ChosenProxy | null {
  return chooseProxy({ host: node.host, tls: node.tls !== null }, { proxy: config.proxy, ignoreEnvironment: config['net.proxy_env_ignore'] }, env);
}

/** ` through proxy http://host:port (from HTTPS_PROXY)` for start-up lines, or ''. */
export function proxyNote(chosen: ChosenProxy | null): string {
  if (chosen === null) return '';
  return ` through proxy ${chosen.server.display}${chosen.source === 'proxy' ? '' : ` (from ${chosen.source})`}`;
}
