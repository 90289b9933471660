/**
 * Who may use one of wsbit's servers (the `websocket` input, the `websocket_server` output, and the
 * Host check of the monitoring server), decided before the upgrade so a refused client gets a plain
 * HTTP status (400, 401, 403, 404, 503) rather than a WebSocket that closes at once. The ladder is
 * written once, in admitUpgrade(); each server only says what its keys are.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { hostAllowed, type HostPolicy } from '../base/host-check.js';
import { hostPort } from '../base/listen.js';
import { quoteUntrusted as logSafe } from '../base/logger.js';
import type { MetricName } from '../base/metrics.js';
import type { Telemetry } from '../base/telemetry.js';

/** The request target as a URL; the base only completes origin-form targets (`/path?query`). */
export function requestUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://wsbit.invalid');
  } catch {
    return null;
  }
}

/** `Authorization: Bearer <token>` (RFC 6750 2.1), else `?token=` for clients that cannot set headers (browsers). */
export function presentedToken(request: IncomingMessage, url: URL): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match?.[1] !== undefined) return match[1];
  }
  return url.searchParams.get('token');
}

/** Compares digests in constant time, so response timing does not reveal how much of a guess was right. */
export function tokenMatches(presented: string | null, expected: string): boolean {
  if (presented === null) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

/**
 * Browsers send `Origin` with every WebSocket handshake and let any page connect anywhere, so without
 * a check any web site open in the user's browser could read the stream from 127.0.0.1 (cross-site
 * WebSocket hijacking). Allowed: clients that send no Origin (ws, curl, undici: they are not a page
 * acting for someone else), pages from this server itself (the live page), and `allowed` (`*` = any).
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[] | null): boolean {
  if (origin === undefined) return true;
  const normalized = normalizeOrigin(origin);
  if (allowed?.some((entry) => entry === '*' || normalizeOrigin(entry) === normalized) === true) return true;
  if (host === undefined) return false;
  try {
    const url = new URL(normalized);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    // `Origin: null` (sandboxed frames, file: pages) and garbage are cross-origin.
    return false;
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Readonly<Record<string, string>> = {}): void {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}

/** A header value or path quoted for a log line: the logger's one helper for values a peer chose. */
export { logSafe };

/** `address:port` of the peer, for log lines. Only the peer address is logged: the request URL may carry the token. */
export function peerAddress(request: IncomingMessage): string {
  return hostPort(request.socket.remoteAddress ?? 'unknown', request.socket.remotePort ?? 0);
}

/**
 * The DNS rebinding guard (see host-check.ts): why `Host` does not name this server, or null when it does
 * or when `hosts` is null (a token guards the server instead). `settingKey` is the key that widens it.
 */
export function hostRefusal(request: IncomingMessage, hosts: HostPolicy | null, settingKey: string): string | null {
  if (hosts === null || hostAllowed(request.headers.host, hosts)) return null;
  return `Host ${logSafe(request.headers.host ?? '')} is not a name of this server (see ${settingKey})`;
}

/** True when no token is configured, or the request presents the right one. */
export function tokenAccepted(request: IncomingMessage, url: URL, token: string | null): boolean {
  return token === null || tokenMatches(presentedToken(request, url), token);
}

/** What a server admits upgrades on: its keys, resolved. */
export interface UpgradeGate {
  /** Named in the 503 while shutting down: "the input", "the server". */
  subject: string;
  /** null when a token guards the server: a rebinding page cannot know the token, so agents may use any name. */
  hosts: HostPolicy | null;
  /** Accept upgrades on this path only; null = any. */
  path: string | null;
  allowedOrigins: readonly string[] | null;
  token: string | null;
  /** The key that limits clients, and its value; 0 = no limit. */
  capacity: { key: string; max: number };
}

/** What the gate cannot know from the request. */
export interface GateLoad {
  stopping: boolean;
  connected: number;
}

export interface UpgradeRefusal {
  status: number;
  reason: string;
  headers?: Readonly<Record<string, string>>;
}

export type UpgradeDecision = { admitted: true; url: URL } | { admitted: false; refusal: UpgradeRefusal };

/** The ladder, in order: the first step that refuses answers. */
export function admitUpgrade(request: IncomingMessage, gate: UpgradeGate, load: GateLoad): UpgradeDecision {
  const refuse = (status: number, reason: string, headers?: Readonly<Record<string, string>>): UpgradeDecision => ({
    admitted: false,
    refusal: headers === undefined ? { status, reason } : { status, reason, headers },
  });
  // 1. A request target that parses.
  const url = requestUrl(request);
  if (url === null) return refuse(400, 'malformed request target');
  // 2. Not while shutting down: the connection would be closed at once.
  if (load.stopping) return refuse(503, `${gate.subject} is shutting down`);
  // 3. Host names this server (DNS rebinding).
  const badHost = hostRefusal(request, gate.hosts, 'allowed_hosts');
  if (badHost !== null) return refuse(403, badHost);
  // 4. The path, when one is configured.
  if (gate.path !== null && url.pathname !== gate.path) return refuse(404, `path ${logSafe(url.pathname)} is not ${gate.path}`);
  // 5. Origin (cross-site WebSocket hijacking).
  const origin = request.headers.origin;
  if (!originAllowed(origin, request.headers.host, gate.allowedOrigins)) return refuse(403, `origin ${logSafe(origin ?? '')} is not in allowed_origins`);
  // 6. The token (RFC 6750).
  if (!tokenAccepted(request, url, gate.token)) return refuse(401, 'missing or wrong token', { 'WWW-Authenticate': 'Bearer realm="wsbit"' });
  // 7. Room for one more client.
  const { key, max } = gate.capacity;
  if (max > 0 && load.connected >= max) return refuse(503, `${key} (${max}) reached`, { 'Retry-After': '5' });
  // 8. The upgrade itself is the caller's: it hands the socket to ws.
  return { admitted: true, url };
}

/**
 * A server's 'upgrade' handler up to the upgrade: runs the ladder, and answers, logs and counts a refusal
 * (as `refusedMetric`). Returns the request URL and the peer when the client is admitted, else null.
 */
export function screenUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  gate: UpgradeGate,
  load: GateLoad,
  telemetry: Telemetry,
  refusedMetric: MetricName,
): { url: URL; remote: string } | null {
  // Until ws takes the socket, a reset by the peer must not become an uncaught 'error'.
  socket.on('error', (error) => telemetry.logger.debug(`upgrade socket: ${error.message}`));
  const remote = peerAddress(request);
  const decision = admitUpgrade(request, gate, load);
  if (decision.admitted) return { url: decision.url, remote };
  const { status, reason, headers } = decision.refusal;
  telemetry.event('warn', `refused client ${remote}: ${reason} (HTTP ${status})`, refusedMetric);
  rejectUpgrade(socket, status, reason, headers);
  return null;
}
