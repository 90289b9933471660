/**
 * Answers to the upgrade that no retry will change: HTTP 404 (the path), 401 or 403 (the credentials),
 * a TLS certificate the client does not trust, and a proxy's 407 or 403. They look like an outage from the engine's side
 * (the chunk waits), but only a change of configuration ends them, so the link logs them as errors
 * with what to change, and the health endpoint turns unhealthy while they last (issue 22, point 4).
 */
import { WsbitError } from '../../../base/errors.js';
import { ProxyError } from '../../../base/proxy-tunnel.js';
import { HandshakeError } from '../../../websocket/handshake.js';
import type { WebSocketConnectionOptions } from '../../../websocket/dial.js';

export interface Refusal {
  /** Stable: a new code, not a new message, is a new refusal. */
  code: 'WSBIT_OUTPUT_REFUSED_PATH' | 'WSBIT_OUTPUT_REFUSED_CREDENTIALS' | 'WSBIT_OUTPUT_TLS_UNTRUSTED' | 'WSBIT_OUTPUT_REFUSED_BY_PROXY';
  /** What the server said, in a few words: `HTTP 401 Unauthorized`, `TLS verification failed: …`. */
  answer: string;
  /** What to change in the configuration, naming the keys. */
  hint: string;
  /** The proxy (without credentials) when it refused, not the server. */
  refusedBy?: string;
}

/**
 * OpenSSL's verification results as Node reports them (`error.code` of the TLS socket error), plus
 * Node's own hostname check. Other TLS failures (no shared cipher or version) are not about trust.
 */
const untrustedCertificateCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
]);
const hostnameMismatchCode = 'ERR_TLS_CERT_ALTNAME_INVALID';

export interface RefusalContext {
  connection: WebSocketConnectionOptions;
  /** One node of an upstream: its [NODE] section may set `uri`, `header` and `tls*` too. */
  node: boolean;
}

/** The refusal `error` stands for, or null when retrying may help (a 5xx, a reset, a timeout). */
export function permanentRefusal(error: unknown, context: RefusalContext): Refusal | null {
  if (error instanceof HandshakeError && error.code === 'WSBIT_HANDSHAKE_REJECTED') return httpRefusal(error, context);
  if (error instanceof WsbitError && error.code === 'WSBIT_TLS_FAILED') return tlsRefusal(error, context);
  if (error instanceof ProxyError) return proxyRefusal(error);
  return null;
}

/** A proxy's 407 (its credentials) or 403 (its rules): its 502 and 503 say the server is away, which passes. */
function proxyRefusal(error: ProxyError): Refusal | null {
  if (error.status !== 407 && error.status !== 403) return null;
  const answer = /HTTP \d{3}.*$/.exec(error.message)?.[0] ?? `HTTP ${error.status}`;
  return {
    code: 'WSBIT_OUTPUT_REFUSED_BY_PROXY',
    answer,
    refusedBy: error.proxy,
    hint:
      error.status === 407
        ? `the proxy wants credentials: put them in the proxy URL (proxy key, or HTTPS_PROXY/HTTP_PROXY), http://user:password@host:port`
        : `the proxy does not let this server through: ask for its host and port to be allowed (CONNECT), or list it in NO_PROXY if it is reachable directly`,
  };
}

function httpRefusal(error: HandshakeError, { connection, node }: RefusalContext): Refusal | null {
  const status = error.status;
  // The message is `server rejected the WebSocket upgrade: HTTP 404 Not Found[: body]`.
  const answer = /HTTP \d{3}[^:]*/.exec(error.message)?.[0]?.trim() ?? `HTTP ${status}`;
  const where = node ? ' (of the output, or of this [NODE])' : '';
  if (status === 404) {
    const keys = node ? 'the uri key of this [NODE] (or of the output)' : 'the uri key (or the path of the websocket:// URL)';
    return {
      code: 'WSBIT_OUTPUT_REFUSED_PATH',
      answer,
      hint: `no WebSocket endpoint at path ${JSON.stringify(connection.uri)}: set ${keys} to the path the server serves`,
    };
  }
  if (status !== 401 && status !== 403) return null;
  const sent = connection.headers.some((header) => header.name.toLowerCase() === 'authorization');
  const credentials = sent
    ? `the Authorization header sent (header key${where}) is ${status === 401 ? 'not accepted' : 'not allowed here'}`
    : 'no Authorization header was sent';
  return {
    code: 'WSBIT_OUTPUT_REFUSED_CREDENTIALS',
    answer,
    hint: `${credentials}: set the token or credentials the server expects with the header key${where}, e.g. 'header Authorization Bearer <token>'${status === 403 ? '; a server may also refuse by Origin or client address' : ''}`,
  };
}

function tlsRefusal(error: WsbitError, { connection, node }: RefusalContext): Refusal | null {
  const cause = error.cause;
  const reason = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
  if (reason === undefined) return null;
  const where = node ? ' (of the output, or of this [NODE])' : '';
  const detail = cause instanceof Error ? cause.message : reason;
  if (reason === hostnameMismatchCode) {
    return {
      code: 'WSBIT_OUTPUT_TLS_UNTRUSTED',
      answer: `TLS verification failed: ${detail}`,
      hint: `the certificate does not carry the name wsbit checks (${connection.tls?.servername ?? connection.host}): set host or tls.vhost${where} to a name in the certificate, or tls.verify_hostname off`,
    };
  }
  if (!untrustedCertificateCodes.has(reason)) return null;
  return {
    code: 'WSBIT_OUTPUT_TLS_UNTRUSTED',
    answer: `TLS verification failed: ${detail}`,
    hint: `the server's certificate is not signed by a CA wsbit trusts: set tls.ca_file${where} (or tls.ca_path) to the CA that signed it, or tls.verify off to skip the check (insecure)`,
  };
}
