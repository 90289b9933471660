/**
 * The plugin argument of `-i`/`-o`: a plain name (`websocket`) or a service URI
 * (`websocket://host:port/path?query`), read as Fluent Bit's `flb_net_host_set` does.
 */
import { ConfigError } from '../base/errors.js';
import { asciiLower } from './schema.js';

export interface ServiceUri {
  /** Lower-cased; Fluent Bit looks plugins up case-insensitively. */
  plugin: string;
  host?: string;
  /** Absent when the URI has no port (Fluent Bit's port 0: the plugin default applies). */
  port?: number;
  /** True for a bracketed address (`[::1]`). */
  ipv6?: boolean;
  /** Everything from the first `/` after the host, query included (`/something?x=1`). */
  uri?: string;
}

function badUri(arg: string, reason: string): ConfigError {
  return new ConfigError('WSBIT_CONFIG_BAD_URI', `[config] invalid plugin URI '${arg}': ${reason}`);
}

/**
 * `websocket://192.168.2.3:80/something` → host, port 80, uri `/something`; `[::1]:8080` sets
 * `ipv6`. Fluent Bit reads the port with `atoi` (so `:abc` is port 0); wsbit rejects a port that is
 * not a number from 1 to 65535, and text between the host or port and the path.
 */
export function parseServiceUri(arg: string): ServiceUri {
  const separator = arg.indexOf('://');
  if (separator < 0) return { plugin: asciiLower(arg) };
  const plugin = asciiLower(arg.slice(0, separator));
  if (plugin === '') throw badUri(arg, 'no plugin name before ://');
  const rest = arg.slice(separator + 3);
  const result: ServiceUri = { plugin };

  let p: number;
  if (rest.startsWith('[')) {
    // RFC 3986 IP literal, as in Fluent Bit.
    const close = rest.indexOf(']');
    if (close < 0) throw badUri(arg, "missing ']' after the IPv6 address");
    result.host = rest.slice(1, close);
    result.ipv6 = true;
    p = close + 1;
  } else {
    p = 0;
    while (p < rest.length && rest[p] !== ':' && rest[p] !== '/') p++;
    result.host = rest.slice(0, p);
  }
  if (result.host === '') throw badUri(arg, 'the host is empty');

  if (rest[p] === ':') {
    const slash = rest.indexOf('/', p);
    const portText = rest.slice(p + 1, slash < 0 ? rest.length : slash);
    if (portText !== '') {
      const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
      if (!(port >= 1 && port <= 65535)) throw badUri(arg, `invalid port '${portText}': expected a number from 1 to 65535`);
      result.port = port;
    }
    p = slash < 0 ? rest.length : slash;
  }
  if (p < rest.length) {
    if (rest[p] !== '/') throw badUri(arg, `unexpected '${rest.slice(p)}': expected [:port][/path]`);
    result.uri = rest.slice(p);
  }
  return result;
}
