/**
 * The HTTP(S) server under the websocket input: upgrades go to the admission gate, and any other request
 * is told that this port speaks WebSocket (426 Upgrade Required, RFC 9110 §15.5.22).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { WsbitError, errorMessage } from '../../../base/errors.js';
import type { WebSocketInputConfig } from './schema.js';

function onRequest(request: IncomingMessage, response: ServerResponse): void {
  const body = 'This port takes WebSocket connections (the websocket input of wsbit).\n';
  response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket', Connection: 'Upgrade' });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** A plain HTTP server, or HTTPS with the `tls.*` keys (the files are read now, so a bad one fails start-up). */
export function createInputServer(config: WebSocketInputConfig, instance: string): Server {
  if (!config.tls) return createHttpServer(onRequest);
  const read = (key: 'tls.crt_file' | 'tls.key_file'): Buffer => {
    const file = config[key] as string;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new WsbitError('WSBIT_INPUT_TLS', `${instance}: cannot read ${key} ${file}: ${errorMessage(error)}`, { cause: error });
    }
  };
  try {
    return createHttpsServer(
      {
        cert: read('tls.crt_file'),
        key: read('tls.key_file'),
        ...(config['tls.key_passwd'] !== null ? { passphrase: config['tls.key_passwd'] } : {}),
        ...(config['tls.min_version'] !== null ? { minVersion: config['tls.min_version'] } : {}),
        ...(config['tls.max_version'] !== null ? { maxVersion: config['tls.max_version'] } : {}),
        ...(config['tls.ciphers'] !== null ? { ciphers: config['tls.ciphers'] } : {}),
      },
      onRequest,
    );
  } catch (error) {
    if (error instanceof WsbitError) throw error;
    throw new WsbitError('WSBIT_INPUT_TLS', `${instance}: cannot use tls.crt_file/tls.key_file: ${errorMessage(error)}`, { cause: error });
  }
}
