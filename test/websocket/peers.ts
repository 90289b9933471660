/**
 * Peers for the connection tests: a real `ws` server, and raw `net` servers that answer the upgrade by hand
 * (to play hostile servers). Everything listens on 127.0.0.1, port 0.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { WsbitError } from '../../src/base/errors.js';
import { WebSocketClientConnection, type WebSocketConnectionOptions } from '../../src/websocket/connection.js';

export function connectionTo(port: number, overrides: Partial<WebSocketConnectionOptions> = {}): WebSocketClientConnection {
  return new WebSocketClientConnection({
    host: '127.0.0.1',
    port,
    uri: '/',
    headers: [],
    connectTimeoutMs: 2000,
    handshakeTimeoutMs: 2000,
    ioTimeoutMs: 0,
    keepaliveHeader: true,
    ...overrides,
  });
}

/** Records every `down` event, so tests can check there was exactly one. */
export function trackDown(connection: WebSocketClientConnection): { downs: WsbitError[]; next: Promise<WsbitError> } {
  const downs: WsbitError[] = [];
  const next = new Promise<WsbitError>((resolve) => {
    connection.on('down', (reason) => {
      downs.push(reason);
      resolve(reason);
    });
  });
  return { downs, next };
}

export interface WsPeer {
  wss: WebSocketServer;
  port: number;
  clients: WebSocket[];
  requests: IncomingMessage[];
  /** Resolves with the next server-side socket. */
  nextClient(): Promise<WebSocket>;
  close(): Promise<void>;
}

export async function startWsServer(options: ServerOptions = {}): Promise<WsPeer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const clients: WebSocket[] = [];
  const requests: IncomingMessage[] = [];
  const next = queue(clients);
  wss.on('connection', (ws, request) => {
    clients.push(ws);
    requests.push(request);
    next.flush();
  });
  return {
    wss,
    port: (wss.address() as AddressInfo).port,
    clients,
    requests,
    nextClient: next.take,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

export function switchingProtocols(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
}

export interface RawPeer {
  port: number;
  close(): Promise<void>;
}

/** Calls `onRequest` once the request head has arrived, with the client's key; bytes after it are discarded. */
export async function startRawServer(onRequest: (socket: Socket, key: string, head: string) => void): Promise<RawPeer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = received.slice(0, end);
      const key = /^Sec-WebSocket-Key: (.+)$/im.exec(head)?.[1]?.trim() ?? '';
      onRequest(socket, key, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A minimal, independent decoder for the masked frames a client sends (tests only; no fragmentation). */
export interface ClientFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** RSV1: compressed (permessage-deflate), as sent; the payload is not inflated. */
  rsv1: boolean;
}

export function collectClientFrames(socket: Socket): { frames: ClientFrame[]; next(): Promise<ClientFrame> } {
  const frames: ClientFrame[] = [];
  const next = queue(frames);
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const b1 = buffer[1] as number;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const total = offset + (masked ? 4 : 0) + length;
      if (buffer.length < total) return;
      const key = masked ? buffer.subarray(offset, offset + 4) : Buffer.alloc(4);
      const payload = Buffer.from(buffer.subarray(total - length, total));
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i % 4] as number);
      frames.push({ fin: ((buffer[0] as number) & 0x80) !== 0, opcode: (buffer[0] as number) & 0x0f, masked, payload, rsv1: ((buffer[0] as number) & 0x40) !== 0 });
      buffer = buffer.subarray(total);
      next.flush();
    }
  });
  return { frames, next: next.take };
}

/** Hands out the items of a growing list in order, waiting for ones not yet there. */
function queue<T>(items: T[]): { take(): Promise<T>; flush(): void } {
  let handedOut = 0;
  const waiting: Array<(item: T) => void> = [];
  const flush = (): void => {
    while (waiting.length > 0 && handedOut < items.length) (waiting.shift() as (item: T) => void)(items[handedOut++] as T);
  };
  return {
    take: () =>
      new Promise<T>((resolve) => {
        waiting.push(resolve);
        flush();
      }),
    flush,
  };
}
