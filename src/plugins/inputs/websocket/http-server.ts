/**
 * The HTTP(S) server under the websocket input: upgrades go to the admission gate, and any other request
 * is told that this port speaks WebSocket (426 Upgrade Required, RFC 9110 §15.5.22).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createTlsCapableServer } from '../../tls-server.js';
import type { WebSocketInputConfig } from './schema.js';

function onRequest(request: IncomingMessage, response: ServerResponse): void {
  const body = 'This port takes WebSocket connections (the websocket input of wsbit).\n';
  response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket', Connection: 'Upgrade' });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** A plain HTTP server, or HTTPS with the shared `tls.*` keys (plugins/tls-server.ts). */
export function createInputServer(config: WebSocketInputConfig, instance: string): Server {
  return createTlsCapableServer(config, instance, 'WSBIT_INPUT_TLS', onRequest);
}
