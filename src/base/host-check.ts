/**
 * The `Host` check that keeps wsbit's local servers (the `websocket_server` output, the `websocket`
 * input, the monitoring HTTP server) out of reach of DNS rebinding: a web page on `evil.example`
 * whose name the attacker re-points to 127.0.0.1 is same-origin with our server in the browser's
 * eyes, so its `Origin` matches its `Host` and the Origin check lets it in. The one thing it cannot
 * change is the name: the browser sends `Host: evil.example`. So a request is served only when its
 * `Host` names this server:
 *
 * - a loopback address (127.0.0.0/8, ::1), `localhost` or a `*.localhost` name (RFC 6761: these
 *   never leave the machine, so no attacker controls them);
 * - the listen address itself (`listen 192.168.1.5` → `Host: 192.168.1.5`);
 * - when listening on every interface (0.0.0.0 or ::), any IP literal and this machine's host name:
 *   an IP literal cannot be rebound (the browser connects to that very address, no DNS involved),
 *   and it keeps scrapers and agents that come through NAT or a container port mapping working;
 * - the names in `allowed_hosts` (`*` turns the check off).
 *
 * A request without `Host` (HTTP/1.0 tools) is allowed: browsers always send one.
 */
import net from 'node:net';
import os from 'node:os';

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
// IPv4-mapped IPv6 loopback (::ffff:127.x.y.z).
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]', '']);

export interface HostPolicy {
  /** Lower-case names (no port, no trailing dot) allowed beyond the built-in ones. */
  allowed: ReadonlySet<string>;
  /** `*` was given: every Host is allowed. */
  any: boolean;
  /** The listen address, normalised; null for a wildcard listen. */
  listen: string | null;
  /** This machine's host name, allowed when listening on every interface. */
  machineName: string | null;
}

/** Lower case, without brackets around an IPv6 literal, without one trailing dot. */
function normalizeName(name: string): string {
  let text = name.trim().toLowerCase();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.endsWith('.') && net.isIP(text) === 0) text = text.slice(0, -1);
  return text;
}

/** The policy of a server listening on `listenAddress`, with `allowedHosts` from its config. */
export function hostPolicy(listenAddress: string, allowedHosts: readonly string[] | null): HostPolicy {
  const entries = (allowedHosts ?? []).map(normalizeName).filter((entry) => entry !== '');
  const wildcard = WILDCARD_ADDRESSES.has(listenAddress.trim());
  return {
    allowed: new Set(entries),
    any: entries.includes('*'),
    listen: wildcard ? null : normalizeName(listenAddress),
    machineName: wildcard ? normalizeName(os.hostname()) : null,
  };
}

/**
 * The host part of a `Host` header (RFC 9110 7.2: `uri-host [ ":" port ]`), normalised, or null when
 * the value is not a host at all.
 */
export function hostOfHeader(header: string): string | null {
  const value = header.trim();
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return null;
    const rest = value.slice(close + 1);
    if (rest !== '' && !/^:\d*$/.test(rest)) return null;
    const address = value.slice(1, close);
    return net.isIPv6(address) ? address.toLowerCase() : null;
  }
  const colon = value.lastIndexOf(':');
  const name = colon >= 0 && /^\d*$/.test(value.slice(colon + 1)) ? value.slice(0, colon) : value;
  // A bare IPv6 address without brackets, or a name with characters no host name has.
  if (name === '' || name.includes(':') || !/^[a-z0-9._~!$&'()*+,;=%-]+$/i.test(name)) return null;
  return normalizeName(name);
}

function isLoopback(host: string): boolean {
  const family = net.isIP(host);
  if (family === 4) return loopback.check(host, 'ipv4');
  if (family === 6) return loopback.check(host, 'ipv6');
  return host === 'localhost' || host.endsWith('.localhost');
}

/** Whether a request with this `Host` header may be served (see the header comment). */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  if (header === undefined || policy.any) return true;
  const host = hostOfHeader(header);
  if (host === null) return false;
  if (isLoopback(host) || policy.allowed.has(host)) return true;
  if (policy.listen === null) return net.isIP(host) !== 0 || host === policy.machineName;
  return host === policy.listen || (net.isIP(host) !== 0 && net.isIP(policy.listen) !== 0 && sameAddress(host, policy.listen));
}

/** `::0:1` and `::1` are the same address; BlockList compares them as numbers. */
function sameAddress(a: string, b: string): boolean {
  const family = net.isIP(b) === 4 ? 'ipv4' : 'ipv6';
  const list = new net.BlockList();
  list.addAddress(b, family);
  return list.check(a, net.isIP(a) === 4 ? 'ipv4' : 'ipv6');
}

