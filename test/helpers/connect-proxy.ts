/**
 * An HTTP proxy that speaks CONNECT only (RFC 9110 §9.3.6), written for the tests: it counts client
 * connections, tunnels and the bytes it carries each way, and can refuse as real proxies do (407
 * without the right Basic credentials, a fixed status, garbage, a close).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface ProxiedRequest {
  /** The request target of CONNECT: `host:port`. */
  target: string;
  /** The Proxy-Authorization header, if any. */
  authorization: string | undefined;
  /** The whole request head as received. */
  head: string;
}

export interface ConnectProxyOptions {
  /** Require these Basic credentials; a request without them gets 407. */
  credentials?: { user: string; password: string };
  /** Answer every CONNECT with this raw text, then close (a refusal, or garbage). */
  answer?: string;
  /** Close the connection as soon as the request head has arrived. */
  closeOnRequest?: boolean;
  /**
   * Send the 200 only once the target has spoken, in the same write as the target's first bytes: the
   * client must take what follows the blank line as the tunnel's, not the proxy's.
   */
  answerWithTargetBytes?: boolean;
  /** Listen on this port (0: any), e.g. to come back where a crashed proxy was. */
  port?: number;
}

export interface ConnectProxy {
  port: number;
  /** `http://127.0.0.1:PORT`, without credentials. */
  url: string;
  /** TCP connections accepted from clients. */
  connections: number;
  /** Tunnels opened (2xx sent). */
  tunnels: number;
  /** Bytes carried from clients to targets, and back, through open tunnels. */
  bytesToTargets: number;
  bytesFromTargets: number;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 16 * 1024;

export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.password}`).toString('base64')}`;

  const server = createServer((client) => {
    proxy.connections++;
    track(client);
    let head = Buffer.alloc(0);
    const onHead = (data: Buffer): void => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) client.destroy();
        return;
      }
      client.removeListener('data', onHead);
      client.pause();
      const text = head.subarray(0, end).toString('latin1');
      const early = head.subarray(end + 4);
      const [requestLine = '', ...headerLines] = text.split('\r\n');
      const authorization = headerLines.find((line) => /^proxy-authorization:/i.test(line))?.replace(/^[^:]*:\s*/, '');
      const [method, target = ''] = requestLine.split(' ');
      proxy.requests.push({ target, authorization, head: text });
      if (options.closeOnRequest === true) return void client.destroy();
      if (options.answer !== undefined) return void client.end(options.answer);
      if (method !== 'CONNECT') return void client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n');
      if (expected !== undefined && authorization !== expected) {
        return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      }
      const colon = target.lastIndexOf(':');
      let host = target.slice(0, colon);
      if (host.startsWith('[')) host = host.slice(1, -1);
      // The servers of the tests listen on 127.0.0.1; `localhost` may resolve to ::1 first.
      if (host === 'localhost') host = '127.0.0.1';
      const upstream = connect({ host, port: Number(target.slice(colon + 1)) });
      track(upstream);
      upstream.once('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
      upstream.once('connect', () => {
        const established = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n');
        const open = (first?: Buffer): void => {
          proxy.tunnels++;
          if (first !== undefined) proxy.bytesFromTargets += first.length;
          client.write(first === undefined ? established : Buffer.concat([established, first]));
          if (early.length > 0) {
            proxy.bytesToTargets += early.length;
            upstream.write(early);
          }
          client.on('data', (data: Buffer) => {
            proxy.bytesToTargets += data.length;
            upstream.write(data);
          });
          upstream.on('data', (data: Buffer) => {
            proxy.bytesFromTargets += data.length;
            client.write(data);
          });
          client.on('end', () => upstream.end());
          upstream.on('end', () => client.end());
          client.on('close', () => upstream.destroy());
          upstream.on('close', () => client.destroy());
          client.resume();
        };
        if (options.answerWithTargetBytes === true) upstream.once('data', (first: Buffer) => open(first));
        else open();
      });
    };
    client.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: ConnectProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: 0,
    tunnels: 0,
    bytesToTargets: 0,
    bytesFromTargets: 0,
    requests: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
