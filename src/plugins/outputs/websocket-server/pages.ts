/**
 * The plain HTTP side of `websocket_server`, on the same port as the WebSocket: the live page at `/`,
 * the msgpack decoder it loads, and `/status`. Upgrades go through the admission gate instead.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { errorMessage } from '../../../base/errors.js';
import { quoteUntrusted } from '../../../base/logger.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { hostRefusal, peerAddress, requestUrl, tokenAccepted, type UpgradeGate } from '../../../websocket/admission.js';
import { MSGPACK_ASSET_PATH, STATUS_PATH, livePage } from './live-page.js';
import type { WebSocketServerConfig } from './schema.js';

let msgpackBundle: Promise<Buffer> | undefined;

/** The browser (UMD) build of @msgpack/msgpack, read from the installed package on first use. */
function msgpackBrowserBundle(): Promise<Buffer> {
  msgpackBundle ??= readFile(createRequire(import.meta.url).resolve('@msgpack/msgpack/dist.umd/msgpack.min.js'));
  return msgpackBundle;
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function requestPath(request: IncomingMessage): string {
  // The path only, never the query: it may carry the token.
  return (request.url ?? '/').split('?')[0] ?? '/';
}

export interface PageContext {
  config: WebSocketServerConfig;
  gate: UpgradeGate;
  telemetry: Telemetry;
  /** Clients connected now, for /status. */
  clientCount: () => number;
}

/** The 'request' handler: a failure is logged and answered with 500, never thrown. */
export function pageHandler(context: PageContext): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    answer(context, request, response).catch((error: unknown) => {
      context.telemetry.logger.error(`${quoteUntrusted(request.method ?? 'GET')} ${quoteUntrusted(requestPath(request))}: ${errorMessage(error)}`);
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'Internal error\n');
      else response.destroy();
    });
  };
}

async function answer({ config, gate, telemetry, clientCount }: PageContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const text = 'text/plain; charset=utf-8';
  if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, text, 'Method not allowed\n', { Allow: 'GET, HEAD' });
  const url = requestUrl(request);
  if (url === null) return send(response, 400, text, 'Bad request\n');
  const badHost = hostRefusal(request, gate.hosts, 'allowed_hosts');
  if (badHost !== null) {
    telemetry.event('warn', `refused request from ${peerAddress(request)}: ${badHost} (HTTP 403)`, 'wsbit_output_broadcast_rejected_clients_total');
    return send(response, 403, text, `${badHost}\n`);
  }
  if (!config.live_page) {
    return send(response, 426, text, 'This port serves WebSocket clients only (live_page is off).\n', { Upgrade: 'websocket', Connection: 'Upgrade' });
  }
  switch (url.pathname) {
    case '/': {
      const page = livePage();
      return send(response, 200, 'text/html; charset=utf-8', page.html, {
        'Content-Security-Policy': page.contentSecurityPolicy,
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
      });
    }
    case MSGPACK_ASSET_PATH:
      return send(response, 200, 'text/javascript; charset=utf-8', await msgpackBrowserBundle(), { 'Cache-Control': 'public, max-age=86400' });
    case STATUS_PATH: {
      if (!tokenAccepted(request, url, config.token)) return send(response, 401, text, 'Missing or wrong token\n', { 'WWW-Authenticate': 'Bearer realm="wsbit"' });
      const status = { clients: clientCount(), max_clients: config.max_clients, use_msgpack: config.use_msgpack, add_tag: config.add_tag, add_time: config.add_time, message_id_key: config.message_id_key === '' ? null : config.message_id_key };
      return send(response, 200, 'application/json', `${JSON.stringify(status)}\n`, { 'Cache-Control': 'no-store' });
    }
    default:
      return send(response, 404, text, 'Not found\n');
  }
}
