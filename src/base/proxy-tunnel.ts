/**
 * A TCP connection to a target through an HTTP proxy's CONNECT tunnel (RFC 9110 §9.3.6), for every
 * client that dials (the websocket, forward and http outputs).
 *
 * `connectThroughProxy` returns a real `net.Socket` to the proxy whose `connect` event means "the
 * tunnel is open", and whose `data` starts with the target's first byte: the proxy's answer is read
 * and kept from the caller, and bytes that came after its blank line are handed on as the tunnel's.
 * A caller that waits for `connect` therefore works unchanged. For TLS to the target, `tunnelStream`
 * gives a stream for `tls.connect({ socket })`: TLS must not take the socket's handle before the
 * proxy's answer is read, so it runs over a stream that holds its first bytes until the tunnel opens.
 *
 * The proxy is a peer like any other: its answer is bounded in size and time, and a refusal (407,
 * 403, 502), garbage or a close is a ProxyError that names the proxy (never the target) and its status.
 */
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { WsbitError, errorMessage } from './errors.js';
import type { ProxyServer } from './proxy.js';

/** Most bytes of the proxy's answer (status line and headers); real ones are a few hundred. */
export const MAX_CONNECT_RESPONSE_BYTES = 16 * 1024;

export type ProxyErrorCode = 'WSBIT_PROXY_UNREACHABLE' | 'WSBIT_PROXY_REFUSED' | 'WSBIT_PROXY_BAD_RESPONSE' | 'WSBIT_PROXY_CLOSED' | 'WSBIT_PROXY_TIMEOUT';

/** The proxy, not the target, failed: it could not be reached, refused the tunnel, or did not answer. */
export class ProxyError extends WsbitError {
  /** `http://host:port`, without credentials. */
  readonly proxy: string;
  /** The proxy's HTTP status when it answered with one. */
  readonly status: number | null;

  constructor(code: ProxyErrorCode, proxy: string, message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(code, `proxy ${proxy} ${message}`, options);
    this.proxy = proxy;
    this.status = status;
  }
}

export interface TunnelTarget {
  host: string;
  port: number;
}

export interface TunnelOptions {
  /** From the TCP connect to the proxy to the end of its answer. */
  timeoutMs: number;
  localAddress?: string;
}

/** `host:port` as CONNECT's request target takes it (RFC 9110 §9.3.6: authority form), IPv6 in brackets. */
function authority(target: TunnelTarget): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** The CONNECT request, with Proxy-Authorization when the proxy URL carries credentials. */
export function connectRequest(proxy: ProxyServer, target: TunnelTarget): Buffer {
  const hostPort = authority(target);
  const lines = [`CONNECT ${hostPort} HTTP/1.1`, `Host: ${hostPort}`];
  if (proxy.authorization !== null) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

type ProxyAnswer = { kind: 'more' } | { kind: 'open'; rest: Buffer } | { kind: 'failed'; error: ProxyError };

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?$/;

/**
 * Reads the proxy's answer from `received` (all bytes so far). Any 2xx opens the tunnel, and its
 * headers are ignored (a Content-Length on a 2xx to CONNECT means nothing, RFC 9110 §9.3.6).
 */
export function readProxyAnswer(received: Buffer, proxy: string): ProxyAnswer {
  const lineEnd = received.indexOf('\n');
  if (lineEnd >= 0) {
    const statusLine = received.subarray(0, lineEnd).toString('latin1');
    const match = STATUS_LINE.exec(statusLine);
    if (match === null) {
      return { kind: 'failed', error: new ProxyError('WSBIT_PROXY_BAD_RESPONSE', proxy, `answered CONNECT with something other than HTTP: ${JSON.stringify(statusLine.slice(0, 80))}`) };
    }
    const status = Number(match[1]);
    if (status < 200 || status > 299) {
      const reason = (match[2] ?? '').trim();
      return { kind: 'failed', error: new ProxyError('WSBIT_PROXY_REFUSED', proxy, `refused the tunnel: HTTP ${status}${reason === '' ? '' : ` ${reason}`}`, status) };
    }
    const end = received.indexOf('\r\n\r\n', lineEnd - 1);
    if (end >= 0) return { kind: 'open', rest: received.subarray(end + 4) };
  } else if (received.length > 0 && !'HTTP/1.'.startsWith(received.subarray(0, 7).toString('latin1'))) {
    return { kind: 'failed', error: new ProxyError('WSBIT_PROXY_BAD_RESPONSE', proxy, 'answered CONNECT with something other than HTTP') };
  }
  if (received.length > MAX_CONNECT_RESPONSE_BYTES) {
    return { kind: 'failed', error: new ProxyError('WSBIT_PROXY_BAD_RESPONSE', proxy, `sent more than ${MAX_CONNECT_RESPONSE_BYTES} bytes without ending its answer to CONNECT`) };
  }
  return { kind: 'more' };
}

/**
 * A socket to the proxy that shows its caller only the tunnel: `connect`, `ready` and `data` are held
 * back (by overriding `emit`, which is how Node's stream and net code raise them) until the proxy has
 * answered 2xx; failures before that become ProxyErrors.
 */
class ProxyTunnelSocket extends Socket {
  #open = false;
  /** TCP to the proxy is up and CONNECT sent: a failure from here on is the proxy's answer, or its lack. */
  #asked = false;
  #received: Buffer = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;
  readonly #proxy: ProxyServer;
  readonly #target: TunnelTarget;

  constructor(proxy: ProxyServer, target: TunnelTarget, options: TunnelOptions) {
    super();
    this.#proxy = proxy;
    this.#target = target;
    this.#timer = setTimeout(() => {
      this.destroy(new ProxyError('WSBIT_PROXY_TIMEOUT', proxy.display, `did not open a tunnel to ${authority(target)} within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    this.once('close', () => clearTimeout(this.#timer));
    // The caller's own 'error' listener gets every error; this one keeps an error that comes after the
    // caller let go of the socket (a connect refused as it tears down) from ending the process.
    this.on('error', () => undefined);
    this.connect({ host: proxy.host, port: proxy.port, ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}) });
  }

  get tunnelOpen(): boolean {
    return this.#open;
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (this.#open) return super.emit(event, ...args);
    switch (event) {
      case 'connect':
        this.#asked = true;
        this.setNoDelay(true);
        this.write(connectRequest(this.#proxy, this.#target));
        // Node's own listeners for 'connect' (a read asked for while connecting) run only once the
        // tunnel is open, so the proxy's answer is read by starting the read here; the one
        // asked for then finds it started.
        this._read(MAX_CONNECT_RESPONSE_BYTES);
        this.resume();
        return true;
      case 'ready':
        return true;
      case 'data':
        this.#onProxyBytes(args[0] as Buffer);
        return true;
      case 'end':
        this.destroy(new ProxyError('WSBIT_PROXY_CLOSED', this.#proxy.display, `closed the connection before opening a tunnel to ${authority(this.#target)}`));
        return true;
      case 'error': {
        const error = args[0];
        if (error instanceof ProxyError) return super.emit('error', error);
        const wrapped = this.#asked
          ? new ProxyError('WSBIT_PROXY_CLOSED', this.#proxy.display, `failed before opening a tunnel to ${authority(this.#target)}: ${errorMessage(error)}`, null, { cause: error })
          : new ProxyError('WSBIT_PROXY_UNREACHABLE', this.#proxy.display, `cannot be reached: ${errorMessage(error)}`, null, { cause: error });
        return super.emit('error', wrapped);
      }
      default:
        return super.emit(event, ...args);
    }
  }

  #onProxyBytes(chunk: Buffer): void {
    if (this.destroyed) return;
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    const answer = readProxyAnswer(this.#received, this.#proxy.display);
    if (answer.kind === 'more') return;
    if (answer.kind === 'failed') {
      this.destroy(answer.error);
      return;
    }
    clearTimeout(this.#timer);
    this.#open = true;
    this.#received = Buffer.alloc(0);
    super.emit('connect');
    super.emit('ready');
    // The target's first bytes, when the proxy sent them in the same packet as its answer.
    if (answer.rest.length > 0 && !this.destroyed) super.emit('data', answer.rest);
  }
}

/**
 * Starts a connection to `target` through `proxy`. Like `net.connect`: listen for `connect` (the
 * tunnel is open) and `error` (a ProxyError while the tunnel is not open, a socket error after).
 */
export function connectThroughProxy(proxy: ProxyServer, target: TunnelTarget, options: TunnelOptions): Socket {
  return new ProxyTunnelSocket(proxy, target, options);
}

/**
 * The tunnel as a plain stream for `tls.connect({ socket })`: what TLS writes before the tunnel is
 * open waits (its ClientHello must reach the target, not the proxy), and the tunnel's bytes, ends
 * and errors pass through.
 */
export function tunnelStream(tunnel: Socket): Duplex {
  const isOpen = (): boolean => (tunnel instanceof ProxyTunnelSocket ? tunnel.tunnelOpen : !tunnel.connecting);
  const stream = new Duplex({
    read() {
      tunnel.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      const send = (): void => {
        tunnel.write(chunk, (error) => done(error ?? null));
      };
      if (isOpen()) send();
      else tunnel.once('connect', send);
    },
    final(done) {
      tunnel.end();
      done();
    },
    destroy(error, done) {
      tunnel.destroy(error ?? undefined);
      done(error);
    },
  });
  tunnel.on('data', (data: Buffer) => {
    if (!stream.push(data)) tunnel.pause();
  });
  tunnel.on('end', () => stream.push(null));
  tunnel.on('error', (error) => {
    if (!stream.destroyed) stream.destroy(error);
  });
  // TLS listens for the stream's errors; this keeps one after TLS let go from ending the process.
  stream.on('error', () => undefined);
  tunnel.on('close', () => stream.destroy());
  return stream;
}

/**
 * TLS to the target inside `tunnel`. `connectTls` is the caller's `tls.connect` (node:tls is loaded
 * lazily by some). `options` are for the target: its name for SNI and the certificate check, and
 * `host` too, which Node checks the certificate against when there is no SNI name (an IP target).
 */
export function tlsThroughTunnel(
  connectTls: (options: ConnectionOptions) => TLSSocket,
  tunnel: Socket,
  options: ConnectionOptions & { host: string },
  tcpKeepaliveInitialDelayMs = 30_000,
): TLSSocket {
  const secure = connectTls({ ...options, socket: tunnelStream(tunnel) });
  // A TLS socket over a stream has no 'connect' of its own; the tunnel's is its TCP connect, which
  // tells a TLS failure from a connect failure, and TCP keepalive goes on the real socket.
  tunnel.once('connect', () => {
    tunnel.setKeepAlive(true, tcpKeepaliveInitialDelayMs);
    secure.emit('connect');
  });
  return secure;
}
