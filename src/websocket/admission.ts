/**
 * Who may open a WebSocket on one of wsbit's servers (the `websocket_server` output, the `websocket`
 * input), decided before the upgrade so a refused client gets a plain HTTP status (401, 403, 503)
 * rather than a WebSocket that closes at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

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
export { quoteUntrusted as logSafe } from '../base/logger.js';
