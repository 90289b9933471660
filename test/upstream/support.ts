/** Real peers for the http and forward output tests: a plain Node HTTP server, and a tcp feeder. */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import zlib from 'node:zlib';

export interface CapturedRequest {
  method: string;
  url: string;
  /** As received: names in the case sent, repeats kept. */
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  /** The body as sent (still gzipped when it was). */
  raw: Buffer;
  /** The body, gunzipped when Content-Encoding says gzip. */
  body: Buffer;
}

export interface CaptureServer {
  port: number;
  requests: CapturedRequest[];
  /** Requests answered 2xx. */
  accepted: CapturedRequest[];
  /** Ends every open connection at once, as a crash would, and stops listening. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1:`port` (0: any) answering with `respond(request, index)`: a status and a body. */
export async function captureServer(respond: (request: CapturedRequest, index: number) => { status: number; body?: string } = () => ({ status: 200 }), port = 0): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const accepted: CapturedRequest[] = [];
  const server = http.createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      const raw = Buffer.concat(parts);
      const body = request.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      const captured: CapturedRequest = { method: request.method ?? '', url: request.url ?? '', rawHeaders: request.rawHeaders, headers: request.headers, raw, body };
      const index = requests.length;
      requests.push(captured);
      const answer = respond(captured, index);
      if (answer.status >= 200 && answer.status < 300) accepted.push(captured);
      response.writeHead(answer.status, { 'Content-Type': 'text/plain' });
      response.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as net.AddressInfo).port;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port: bound, requests, accepted, kill: close, close };
}

/** Writes `count` JSON lines `{"n": first + i}` to a tcp input, in one connection. */
export async function sendNumbered(port: number, first: number, count: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  for (let i = 0; i < count; i++) text += `{"n":${first + i}}\n`;
  await new Promise<void>((resolve, reject) => socket.end(text, () => resolve()).once('error', reject));
}

/** The `n` of every JSON line or JSON array element in the bodies. */
export function numbersIn(bodies: readonly Buffer[]): number[] {
  const numbers: number[] = [];
  for (const body of bodies) {
    const text = body.toString('utf8').trim();
    if (text === '') continue;
    const records: Array<{ n?: number }> = text.startsWith('[') ? (JSON.parse(text) as Array<{ n?: number }>) : text.split('\n').map((line) => JSON.parse(line) as { n?: number });
    for (const record of records) if (typeof record.n === 'number') numbers.push(record.n);
  }
  return numbers;
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-upstream-'));
  return {
    dir,
    write(name, text) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** An upstream file for `ports` on 127.0.0.1, nodes named node-1, node-2, … */
export function upstreamFile(name: string, ports: readonly number[], extra: (index: number) => string[] = () => []): string {
  const lines = ['[UPSTREAM]', `    name ${name}`, ''];
  ports.forEach((port, index) => {
    lines.push('[NODE]', `    name node-${index + 1}`, '    host 127.0.0.1', `    port ${port}`, ...extra(index).map((line) => `    ${line}`), '');
  });
  return lines.join('\n');
}

/** A TCP server (TLS with `tlsOptions`) on 127.0.0.1 that answers nothing and keeps every byte it reads. */
export async function byteServer(tlsOptions?: tls.TlsOptions): Promise<{ port: number; bytes: () => Buffer; close: () => Promise<void> }> {
  let bytes = Buffer.alloc(0);
  const sockets = new Set<net.Socket>();
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('data', (data: Buffer) => (bytes = Buffer.concat([bytes, data])));
    socket.on('close', () => sockets.delete(socket));
  };
  const server = tlsOptions === undefined ? net.createServer(onSocket) : tls.createServer(tlsOptions, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => bytes,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
