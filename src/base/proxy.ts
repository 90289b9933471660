/**
 * Which HTTP proxy, if any, a client connection goes through: the `proxy` key, else the environment
 * (`https_proxy`/`HTTPS_PROXY` for TLS targets, `http_proxy`/`HTTP_PROXY` for plain ones) unless
 * `NO_PROXY` names the target, matched as curl matches it. Pure: the environment is handed in.
 */
import { BlockList, isIP } from 'node:net';
import { ConfigError } from './errors.js';

/** An HTTP proxy spoken to with CONNECT (proxy-tunnel.ts). */
export interface ProxyServer {
  host: string;
  port: number;
  /** `Basic …` from the URL's user and password, or null. */
  authorization: string | null;
  /** `http://host:port`, without credentials: what messages and logs show. */
  display: string;
}

/** Where a target's proxy came from, for the start-up line and messages. */
export type ProxySource = 'proxy' | 'https_proxy' | 'HTTPS_PROXY' | 'http_proxy' | 'HTTP_PROXY';

export interface ChosenProxy {
  server: ProxyServer;
  source: ProxySource;
}

/** Default port of a proxy URL without one: that of an `http://` URL, as Fluent Bit's proxy key reads it. */
const DEFAULT_PROXY_PORT = 80;

/**
 * `http://[user:pass@]host:port` (the scheme may be left out, as curl allows in the environment).
 * Returns the reason it is not one, for the caller's message: user, password and host are taken
 * as the WHATWG URL parser reads them, percent-decoded.
 */
export function parseProxyUrl(text: string): ProxyServer | { invalid: string } {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { invalid: 'not a URL' };
  }
  if (url.protocol !== 'http:') return { invalid: `scheme ${url.protocol.slice(0, -1)} is not supported (only http://, spoken to with CONNECT)` };
  if (url.hostname === '') return { invalid: 'no host' };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') return { invalid: 'a proxy URL has no path, query or fragment' };
  const port = url.port === '' ? DEFAULT_PROXY_PORT : Number(url.port);
  let authorization: string | null = null;
  if (url.username !== '' || url.password !== '') {
    try {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    } catch {
      return { invalid: 'bad percent-encoding in the user or password' };
    }
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, authorization, display: `http://${url.hostname}:${port}` };
}

/** The `proxy` key's parser: a ProxyServer or the text after "expected" in the config error. */
export const PROXY_URL_EXPECTED = 'an HTTP proxy URL, http://[user:password@]host:port';

function normalizeHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  return name.replace(/\.+$/, '');
}

/** `host:port`, `[v6]:port`, or a bare name: the part before the port. */
function withoutPort(entry: string): string {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    return close < 0 ? entry : entry.slice(1, close);
  }
  // More than one colon: an IPv6 literal (or a CIDR of one), which has no port without brackets.
  const colon = entry.indexOf(':');
  return colon >= 0 && entry.indexOf(':', colon + 1) < 0 ? entry.slice(0, colon) : entry;
}

function ipMatches(address: string, entry: string): boolean {
  const slash = entry.indexOf('/');
  const base = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(base);
  if (family === 0 || family !== isIP(address)) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  if (slash < 0) {
    list.addAddress(base, type);
  } else {
    const prefix = Number(entry.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return false;
    list.addSubnet(base, prefix, type);
  }
  return list.check(address, type);
}

/**
 * curl's NO_PROXY rules (lib/noproxy.c): a list split at commas and white space; `*` alone matches
 * every host; a name matches itself and every name below it, with or without a leading dot
 * (`example.com` and `.example.com` both match `example.com` and `www.example.com`); an IP target
 * matches an equal address or a CIDR range (`10.0.0.0/8`); ports in entries are ignored; case and
 * trailing dots do not matter. No entry names a loopback target unless it says so.
 */
export function noProxyMatches(targetHost: string, noProxy: string): boolean {
  const host = normalizeHost(targetHost);
  if (host === '') return false;
  const hostIsIp = isIP(host) !== 0;
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') return true;
    const entry = normalizeHost(withoutPort(raw.toLowerCase()));
    if (hostIsIp) {
      if (ipMatches(host, entry)) return true;
      continue;
    }
    const name = entry.replace(/^\.+/, '');
    if (name === '') continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

export interface ProxySettings {
  /** The `proxy` key, parsed; it applies to every target of the output. */
  proxy: ProxyServer | null;
  /** `net.proxy_env_ignore`. */
  ignoreEnvironment: boolean;
}

export type ProxyEnvironment = Readonly<Record<string, string | undefined>>;

/** The first of `names` set to a non-empty value; lower case first, as curl reads them. */
function fromEnvironment<N extends ProxySource>(env: ProxyEnvironment, names: readonly N[]): { name: N; value: string } | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return { name, value };
  }
  return null;
}

/**
 * The proxy for a connection to `target`, or null to connect directly. Throws WSBIT_CONFIG_PROXY when
 * the environment variable that applies does not hold a proxy URL.
 */
export function chooseProxy(target: { host: string; tls: boolean }, settings: ProxySettings, env: ProxyEnvironment): ChosenProxy | null {
  if (settings.proxy !== null) return { server: settings.proxy, source: 'proxy' };
  if (settings.ignoreEnvironment) return null;
  const found = target.tls ? fromEnvironment(env, ['https_proxy', 'HTTPS_PROXY']) : fromEnvironment(env, ['http_proxy', 'HTTP_PROXY']);
  if (found === null) return null;
  const noProxy = [env['no_proxy'], env['NO_PROXY']].find((value) => value !== undefined && value.trim() !== '') ?? '';
  if (noProxyMatches(target.host, noProxy)) return null;
  const parsed = parseProxyUrl(found.value);
  if ('invalid' in parsed) {
    throw new ConfigError('WSBIT_CONFIG_PROXY', `environment variable ${found.name}: ${parsed.invalid}; expected ${PROXY_URL_EXPECTED} (or set net.proxy_env_ignore on)`);
  }
  return { server: parsed, source: found.name };
}
