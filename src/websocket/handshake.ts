/**
 * The RFC 6455 §4 opening handshake, client side: build the HTTP/1.1 Upgrade request, parse the response
 * incrementally, and check it as §4.1 tells a client to.
 *
 * The request keeps Fluent Bit's visible shape (SPEC §1.6) so that servers and proxies written against it see
 * the same bytes, with two fixes (SPEC Part A point 3): the key is 16 fresh random bytes, not the RFC's sample
 * nonce, and the response is actually checked (Fluent Bit accepts any 101).
 */
import { isIPv6 } from 'node:net';
import { randomBytes } from '../base/entropy.js';
import { WsbitError } from '../base/errors.js';
import { sha1 } from './sha1.js';

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Response headers above this size fail the handshake; a real 101 is a few hundred bytes. */
export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;

export interface HttpHeader {
  name: string;
  value: string;
}

export interface HandshakeRequestOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Sent verbatim, as Fluent Bit does (query strings kept, nothing encoded). */
  uri: string;
  /** User `header` entries, sent in order after the WebSocket headers. */
  headers: readonly HttpHeader[];
  subprotocol?: string;
  /** A `Sec-WebSocket-Extensions` offer (permessage-deflate), sent after the subprotocol. */
  extensions?: string;
  /** Fluent Bit appends `Connection: keep-alive` when `net.keepalive` is on (its default). */
  keepaliveHeader: boolean;
  /** Tests only; by default 16 random bytes, base64 (§4.1). */
  key?: string;
}

/** Any failure of the opening handshake. `status` is set when the server answered with a status line. */
export class HandshakeError extends WsbitError {
  readonly status: number | undefined;

  constructor(code: string, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

// RFC 7230 §3.2.6 token characters, for header names and the subprotocol (RFC 6455 §4.1 step 10 / §11.3.4).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Header values: visible characters, spaces and tabs; never CR, LF or NUL (that would be header injection).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;

/** `Host` as Fluent Bit writes it (`add_host_and_content_length`): no port only for TLS on 443. */
export function formatHostHeader(host: string, port: number, tls: boolean): string {
  let name = host;
  if (isIPv6(host)) {
    // RFC 3986 §3.2.2: an IPv6 literal goes in brackets; Fluent Bit strips the zone id (`%eth0`).
    name = `[${host.split('%')[0]}]`;
  }
  return tls && port === 443 ? name : `${name}:${port}`;
}

/** §4.1 step 7: a nonce of 16 random bytes, base64-encoded. */
export function createWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}

/** §4.2.2 step 5.4: base64(SHA-1(key + GUID)). SHA-1 of our own (sha1.ts), so that no OpenSSL is loaded. */
export function computeAcceptValue(key: string): string {
  return Buffer.from(sha1(Buffer.from(key + WEBSOCKET_GUID, 'latin1'))).toString('base64');
}

export function createHandshakeRequest(options: HandshakeRequestOptions): { request: Buffer; key: string } {
  const key = options.key ?? createWebSocketKey();
  // §4.1 step 3: the request-target; Fluent Bit sends it verbatim, but a space or control byte would break
  // the request line (or smuggle a header), so refuse it here.
  if (!/^[\x21-\x7e]+$/.test(options.uri)) {
    throw new HandshakeError('WSBIT_HANDSHAKE_BAD_URI', `uri ${JSON.stringify(options.uri)} contains spaces or control characters`);
  }
  const lines = [
    `GET ${options.uri} HTTP/1.1`,
    `Host: ${formatHostHeader(options.host, options.port, options.tls)}`,
    'Content-Length: 0',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (options.subprotocol !== undefined) {
    if (!TOKEN.test(options.subprotocol)) {
      throw new HandshakeError('WSBIT_HANDSHAKE_BAD_HEADER', `subprotocol ${JSON.stringify(options.subprotocol)} is not an HTTP token`);
    }
    lines.push(`Sec-WebSocket-Protocol: ${options.subprotocol}`);
  }
  if (options.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  for (const { name, value } of options.headers) {
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new HandshakeError('WSBIT_HANDSHAKE_BAD_HEADER', `header ${JSON.stringify(name)} has an invalid name or value`);
    }
    lines.push(`${name}: ${value}`);
  }
  if (options.keepaliveHeader) lines.push('Connection: keep-alive');
  // One buffer, written with one write, as Fluent Bit does.
  return { request: Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), key };
}

export interface HandshakeResponse {
  status: number;
  statusText: string;
  /** Lower-case header names; every value of a repeated header, in order. */
  headers: ReadonlyMap<string, readonly string[]>;
}

export type ParseResult = { done: false } | { done: true; response: HandshakeResponse; rest: Buffer };

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

/** Incremental parser for the response head: feed bytes in any split until it returns `done: true`. */
export class HandshakeResponseParser {
  readonly #maxHeaderBytes: number;
  #received: Buffer = Buffer.alloc(0);
  #finished = false;

  constructor(maxHeaderBytes = MAX_RESPONSE_HEADER_BYTES) {
    this.#maxHeaderBytes = maxHeaderBytes;
  }

  push(chunk: Buffer): ParseResult {
    if (this.#finished) throw new WsbitError('WSBIT_HANDSHAKE_PARSER_DONE', 'the response head was already parsed');
    // The head is small and arrives in one or two reads, so plain concatenation is fine here.
    const searchFrom = Math.max(0, this.#received.length - 3);
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    const end = this.#received.indexOf(HEADER_END, searchFrom);
    if (end === -1) {
      if (this.#received.length > this.#maxHeaderBytes) {
        throw new HandshakeError('WSBIT_HANDSHAKE_MALFORMED', `response headers exceed ${this.#maxHeaderBytes} bytes`);
      }
      return { done: false };
    }
    if (end + HEADER_END.length > this.#maxHeaderBytes) {
      throw new HandshakeError('WSBIT_HANDSHAKE_MALFORMED', `response headers exceed ${this.#maxHeaderBytes} bytes`);
    }
    this.#finished = true;
    const response = parseResponseHead(this.#received.subarray(0, end).toString('latin1'));
    // Whatever follows the blank line is the server's first frame(s) (or a body); Fluent Bit drops it.
    const rest = this.#received.subarray(end + HEADER_END.length);
    this.#received = Buffer.alloc(0);
    return { done: true, response, rest };
  }
}

function parseResponseHead(head: string): HandshakeResponse {
  const lines = head.split('\r\n');
  const statusLine = lines[0] ?? '';
  // RFC 7230 §3.1.2: HTTP-version SP status-code SP reason-phrase.
  const match = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?$/.exec(statusLine);
  if (match === null) {
    throw new HandshakeError('WSBIT_HANDSHAKE_MALFORMED', `malformed HTTP status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  }
  const status = Number(match[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // Obsolete line folding (a line starting with whitespace) and names that are not tokens are rejected.
    if (!TOKEN.test(name)) {
      throw new HandshakeError('WSBIT_HANDSHAKE_MALFORMED', `malformed response header line ${JSON.stringify(line.slice(0, 80))}`, status);
    }
    const key = name.toLowerCase();
    const values = headers.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(key, values);
  }
  return { status, statusText: match[2] ?? '', headers };
}

/** All comma-separated, trimmed, lower-cased tokens of a header (e.g. `Connection: keep-alive, Upgrade`). */
function headerTokens(response: HandshakeResponse, name: string): string[] {
  const values = response.headers.get(name) ?? [];
  return values.flatMap((value) => value.split(',')).map((token) => token.trim().toLowerCase()).filter((t) => t !== '');
}

/** A short printable extract of a rejection body for the error message. */
export function bodySnippet(body: Buffer, maxChars = 200): string {
  const text = body.subarray(0, maxChars * 4).toString('utf8').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

/**
 * RFC 6455 §4.1, "the client MUST validate the server's response as follows" (steps 1-6 there). Throws a
 * HandshakeError on the first failed step. `body` is whatever arrived after the head, used in messages only.
 */
export function validateHandshakeResponse(
  response: HandshakeResponse,
  key: string,
  subprotocol?: string,
  body: Buffer = Buffer.alloc(0),
  extensionsOffered = false,
): void {
  // 1. "If the status code received from the server is not 101, the client handles the response per HTTP
  //    procedures." We follow no redirects and answer no auth challenges: any other status is a rejection.
  if (response.status !== 101) {
    const snippet = bodySnippet(body);
    throw new HandshakeError(
      'WSBIT_HANDSHAKE_REJECTED',
      `server rejected the WebSocket upgrade: HTTP ${response.status} ${response.statusText}`.trim() + (snippet ? `: ${snippet}` : ''),
      response.status,
    );
  }
  // 2. |Upgrade| must be present and equal "websocket", ASCII case-insensitively.
  const upgrade = response.headers.get('upgrade') ?? [];
  if (upgrade.length !== 1 || upgrade[0]?.toLowerCase() !== 'websocket') {
    throw new HandshakeError('WSBIT_HANDSHAKE_BAD_UPGRADE', `response Upgrade header is ${JSON.stringify(upgrade.join(', '))}, not "websocket"`, 101);
  }
  // 3. |Connection| must contain the token "Upgrade", ASCII case-insensitively.
  if (!headerTokens(response, 'connection').includes('upgrade')) {
    throw new HandshakeError('WSBIT_HANDSHAKE_BAD_CONNECTION', 'response Connection header lacks the "Upgrade" token', 101);
  }
  // 4. |Sec-WebSocket-Accept| must equal base64(SHA-1(key + GUID)), compared after trimming whitespace.
  const accept = response.headers.get('sec-websocket-accept') ?? [];
  const expected = computeAcceptValue(key);
  if (accept.length !== 1 || accept[0] !== expected) {
    throw new HandshakeError(
      'WSBIT_HANDSHAKE_BAD_ACCEPT',
      `response Sec-WebSocket-Accept is ${JSON.stringify(accept.join(', '))}, expected ${JSON.stringify(expected)}`,
      101,
    );
  }
  // 5. Extensions the client did not request fail the connection. When we offered one, the answer is
  //    checked by negotiateDeflate (deflate.ts), which knows its parameters.
  const extensions = headerTokens(response, 'sec-websocket-extensions');
  if (extensions.length > 0 && !extensionsOffered) {
    throw new HandshakeError('WSBIT_HANDSHAKE_BAD_EXTENSION', `server chose extensions ${JSON.stringify(extensions.join(', '))} that were not requested`, 101);
  }
  // 6. A subprotocol not in the request fails the connection. Beyond the RFC (as `ws` does), a requested
  //    subprotocol must also be confirmed: a server that ignores it would speak something else.
  const protocols = (response.headers.get('sec-websocket-protocol') ?? []).map((value) => value.trim());
  if (subprotocol === undefined) {
    if (protocols.length > 0) {
      throw new HandshakeError('WSBIT_HANDSHAKE_BAD_SUBPROTOCOL', `server chose subprotocol ${JSON.stringify(protocols.join(', '))} that was not requested`, 101);
    }
  } else if (protocols.length !== 1 || protocols[0] !== subprotocol) {
    throw new HandshakeError(
      'WSBIT_HANDSHAKE_BAD_SUBPROTOCOL',
      protocols.length === 0
        ? `server did not confirm subprotocol ${JSON.stringify(subprotocol)}`
        : `server chose subprotocol ${JSON.stringify(protocols.join(', '))}, requested ${JSON.stringify(subprotocol)}`,
      101,
    );
  }
}
