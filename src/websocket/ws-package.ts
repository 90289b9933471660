import { createRequire } from 'node:module';
import type { WebSocketServer } from 'ws';

/**
 * The `ws` package's server class, loaded on first use: loading `ws` costs about 11 MB of resident
 * memory, which an agent that only ships over the websocket output (our own client) should not pay.
 */
export function loadWebSocketServer(): typeof WebSocketServer {
  return (createRequire(import.meta.url)('ws') as { WebSocketServer: typeof WebSocketServer }).WebSocketServer;
}
