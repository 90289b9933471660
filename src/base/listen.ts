/**
 * Listening and closing for the plugins that run a server (tcp, forward, http, websocket_server) and for
 * the monitoring endpoint: a port that cannot be had fails start-up with one clear, typed error that
 * names HOST:PORT, and stop waits until the server has really closed.
 */
import type net from 'node:net';
import { WsbitError, errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/** A TCP address, or a Unix socket path. */
export type ListenAddress = { host: string; port: number } | { path: string };

export interface ListenFailure {
  /** The error code of a failed listen (`WSBIT_INPUT_LISTEN`, `WSBIT_OUTPUT_LISTEN`, ...). */
  code: string;
  /** What the error message starts with: the instance (`tcp.0`) or `[http_server]`. */
  instance: string;
}

/** `host:port`, with brackets for IPv6 addresses. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `HOST:PORT` or `unix://PATH`. */
function describeAddress(address: ListenAddress): string {
  return 'path' in address ? `unix://${address.path}` : hostPort(address.host, address.port);
}

/** The port `server` is bound to, or null when it is not listening on TCP. */
export function boundPort(server: net.Server | null): number | null {
  const address = server?.address();
  return typeof address === 'object' && address !== null ? address.port : null;
}

/**
 * Listens on `address` and resolves with the port bound (port 0 picks a free one; 0 for a Unix socket).
 * A failure rejects with a `WsbitError` such as `tcp.0: cannot listen on 127.0.0.1:5170: the address is
 * already in use`. Errors the server reports later (an accept that fails) are logged to `logger`.
 */
export async function listenOn(server: net.Server, address: ListenAddress, failure: ListenFailure, logger: Logger): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        resolve();
      };
      if ('path' in address) server.listen(address.path, listening);
      else server.listen(address.port, address.host, listening);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : errorMessage(error);
    throw new WsbitError(failure.code, `${failure.instance}: cannot listen on ${describeAddress(address)}: ${reason}`, { cause: error });
  }
  server.on('error', (error) => logger.error(`server: ${error.message}`));
  return boundPort(server) ?? 0;
}

/**
 * Stops `server` accepting connections and resolves once it has closed. Connections still open would
 * hold close() forever, so `sockets` are destroyed, and an HTTP server's idle keep-alive ones are closed.
 */
export function closeServer(server: net.Server | null, sockets: Iterable<net.Socket> = []): Promise<void> {
  if (server === null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
  });
}
