/**
 * The client connection through an HTTP proxy's CONNECT tunnel (test/helpers/connect-proxy.ts) to a
 * real `ws` server, plain and TLS, and the proxy's refusals: each must name the proxy, not the target.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { parseProxyUrl, type ProxyServer } from '../../src/base/proxy.js';
import { ProxyError, connectThroughProxy } from '../../src/base/proxy-tunnel.js';
import type { TlsSettings } from '../../src/base/tls.js';
import { Opcode } from '../../src/websocket/frame.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { connectionTo, startWsServer, trackDown, type WsPeer } from './peers.js';
import { SERVER_CERT_PEM, SERVER_KEY_PEM, writeTestPki } from './tls-ca-fixture.js';

function proxyServer(url: string): ProxyServer {
  const parsed = parseProxyUrl(url);
  assert.ok(!('invalid' in parsed), url);
  return parsed;
}

let proxy: ConnectProxy | undefined;
let peer: WsPeer | undefined;
afterEach(async () => {
  await proxy?.close();
  await peer?.close();
  proxy = undefined;
  peer = undefined;
});

describe('websocket client connection through a CONNECT proxy', () => {
  it('tunnels a plain ws:// connection; every message arrives, and the proxy carried the bytes', async () => {
    peer = await startWsServer();
    proxy = await startConnectProxy();
    const received: string[] = [];
    peer.wss.on('connection', (ws) => ws.on('message', (data) => received.push(String(data))));
    const connection = connectionTo(peer.port, { proxy: proxyServer(proxy.url) });
    await connection.open();
    const messages = Array.from({ length: 50 }, (_, i) => `record ${i}`);
    for (const message of messages) await connection.sendAndConfirm(Opcode.Text, Buffer.from(message), 2000);
    assert.deepEqual(received, messages);
    assert.equal(proxy.connections, 1);
    assert.equal(proxy.tunnels, 1);
    assert.equal(proxy.requests[0]?.target, `127.0.0.1:${peer.port}`);
    // The upgrade request is inside the tunnel; the server saw it with the target's Host.
    assert.equal(peer.requests[0]?.headers.host, `127.0.0.1:${peer.port}`);
    const payloadBytes = messages.reduce((sum, message) => sum + message.length, 0);
    assert.ok(proxy.bytesToTargets > payloadBytes, `${proxy.bytesToTargets} bytes carried to the target`);
    await connection.close();
  });

  it('sends Basic credentials from the URL as Proxy-Authorization', async () => {
    peer = await startWsServer();
    proxy = await startConnectProxy({ credentials: { user: 'agent', password: 'p@ss:word' } });
    const connection = connectionTo(peer.port, { proxy: proxyServer(`http://agent:p%40ss%3Aword@127.0.0.1:${proxy.port}`) });
    await connection.open();
    assert.equal(proxy.requests[0]?.authorization, `Basic ${Buffer.from('agent:p@ss:word').toString('base64')}`);
    assert.equal(proxy.tunnels, 1);
    await connection.close();
  });

  const refusals: Array<{ name: string; options: Parameters<typeof startConnectProxy>[0]; code: string; status: number | null; words: RegExp }> = [
    { name: '407 without credentials', options: { credentials: { user: 'u', password: 'p' } }, code: 'WSBIT_PROXY_REFUSED', status: 407, words: /HTTP 407 Proxy Authentication Required/ },
    { name: '403', options: { answer: 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n' }, code: 'WSBIT_PROXY_REFUSED', status: 403, words: /HTTP 403 Forbidden/ },
    { name: '502', options: { answer: 'HTTP/1.1 502 Bad Gateway\r\n\r\n' }, code: 'WSBIT_PROXY_REFUSED', status: 502, words: /HTTP 502 Bad Gateway/ },
    { name: 'garbage', options: { answer: 'SSH-2.0-OpenSSH_9.6\r\n' }, code: 'WSBIT_PROXY_BAD_RESPONSE', status: null, words: /something other than HTTP/ },
    { name: 'a close', options: { closeOnRequest: true }, code: 'WSBIT_PROXY_CLOSED', status: null, words: /before opening a tunnel/ },
  ];
  for (const refusal of refusals) {
    it(`a proxy that answers with ${refusal.name} fails open() with a ProxyError naming the proxy`, async () => {
      peer = await startWsServer();
      proxy = await startConnectProxy(refusal.options);
      const connection = connectionTo(peer.port, { proxy: proxyServer(`http://secret-user:secret-pass@127.0.0.1:${proxy.port}`) });
      const { downs } = trackDown(connection);
      const error = await connection.open().then(
        () => assert.fail('open() succeeded through a refusing proxy'),
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof ProxyError, String(error));
      assert.equal(error.code, refusal.code);
      assert.equal(error.status, refusal.status);
      assert.match(error.message, new RegExp(`^proxy http://127\\.0\\.0\\.1:${proxy.port} `));
      assert.match(error.message, refusal.words);
      assert.doesNotMatch(error.message, /secret/);
      assert.equal(downs.length, 1);
      assert.equal(peer.clients.length, 0, 'nothing reached the target');
    });
  }

  it('a proxy that cannot be reached is WSBIT_PROXY_UNREACHABLE', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await connectionTo(1, { proxy: proxyServer(`http://127.0.0.1:${port}`) }).open().catch((reason: unknown) => reason);
    assert.ok(error instanceof ProxyError);
    assert.equal(error.code, 'WSBIT_PROXY_UNREACHABLE');
  });

  it('a proxy that never answers is a WSBIT_PROXY_TIMEOUT within the connect timeout', async () => {
    const held = new Set<import('node:net').Socket>();
    const silent = createNetServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const error = await connectionTo(1, { proxy: proxyServer(`http://127.0.0.1:${port}`), connectTimeoutMs: 300 }).open().catch((reason: unknown) => reason);
      assert.ok(error instanceof ProxyError, String(error));
      assert.equal(error.code, 'WSBIT_PROXY_TIMEOUT');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('an endless answer is cut at the header limit', async () => {
    const endless = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('HTTP/1.1 200 OK\r\n');
      const line = Buffer.from(`X-Filler: ${'x'.repeat(1000)}\r\n`);
      const timer = setInterval(() => socket.write(line), 1);
      socket.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const port = (endless.address() as AddressInfo).port;
    try {
      const error = await connectionTo(1, { proxy: proxyServer(`http://127.0.0.1:${port}`), connectTimeoutMs: 20_000 }).open().catch((reason: unknown) => reason);
      assert.ok(error instanceof ProxyError, String(error));
      assert.equal(error.code, 'WSBIT_PROXY_BAD_RESPONSE');
      assert.match(error.message, /more than 16384 bytes/);
    } finally {
      await new Promise<void>((resolve) => endless.close(() => resolve()));
    }
  });

  it("hands on the target's bytes that arrive in the same packet as the proxy's 200", async () => {
    const banner = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('HELLO FROM THE TARGET\n');
    });
    await new Promise<void>((resolve) => banner.listen(0, '127.0.0.1', resolve));
    const port = (banner.address() as AddressInfo).port;
    proxy = await startConnectProxy({ answerWithTargetBytes: true });
    try {
      const socket = connectThroughProxy(proxyServer(proxy.url), { host: '127.0.0.1', port }, { timeoutMs: 2000 });
      const chunks: Buffer[] = [];
      let connectedBeforeData = false;
      socket.on('connect', () => (connectedBeforeData = chunks.length === 0));
      socket.on('data', (data: Buffer) => chunks.push(data));
      await new Promise<void>((resolve, reject) => {
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      assert.equal(Buffer.concat(chunks).toString(), 'HELLO FROM THE TARGET\n');
      assert.ok(connectedBeforeData);
    } finally {
      await new Promise<void>((resolve) => banner.close(() => resolve()));
    }
  });
});

describe('websocket client connection through a CONNECT proxy, TLS inside the tunnel', () => {
  let dir = '';
  let caFile = '';
  before(() => {
    dir = tempDir('wsbit-proxy-tls-');
    caFile = writeTestPki(dir).ca;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function tlsOn(overrides: Partial<TlsSettings> = {}): TlsSettings {
    return {
      verify: true, verifyHostname: true, caFile, caPath: null, crtFile: null, keyFile: null, keyPassphrase: null,
      minVersion: null, maxVersion: null, ciphers: null, servername: null, ...overrides,
    };
  }

  async function startWss(): Promise<{ port: number; received: string[]; servernames: Array<string | false | null>; close(): Promise<void> }> {
    const server = createHttpsServer({ cert: SERVER_CERT_PEM, key: SERVER_KEY_PEM });
    const wss = new WebSocketServer({ server });
    const received: string[] = [];
    const servernames: Array<string | false | null> = [];
    wss.on('connection', (ws, request) => {
      servernames.push((request.socket as TLSSocket).servername);
      ws.on('message', (data) => received.push(String(data)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      received,
      servernames,
      close: async () => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  it("verifies the target's certificate and sends the target's name as SNI, not the proxy's", async () => {
    const wss = await startWss();
    proxy = await startConnectProxy();
    try {
      const connection = connectionTo(wss.port, { host: 'localhost', tls: tlsOn(), proxy: proxyServer(proxy.url) });
      await connection.open();
      const messages = Array.from({ length: 20 }, (_, i) => `secure ${i}`);
      for (const message of messages) await connection.sendAndConfirm(Opcode.Text, Buffer.from(message), 2000);
      assert.deepEqual(wss.received, messages);
      assert.deepEqual(wss.servernames, ['localhost']);
      assert.equal(proxy.requests[0]?.target, `localhost:${wss.port}`);
      // The proxy saw TLS records only: no message text crossed it in the clear.
      assert.ok(proxy.bytesToTargets > 0);
      await connection.close();
    } finally {
      await wss.close();
    }
  });

  it('fails TLS verification for a name the certificate does not carry, as WSBIT_TLS_FAILED', async () => {
    const wss = await startWss();
    proxy = await startConnectProxy();
    try {
      const connection = connectionTo(wss.port, { host: 'localhost', tls: tlsOn({ servername: 'other.example' }), proxy: proxyServer(proxy.url) });
      const error = await connection.open().catch((reason: unknown) => reason);
      assert.ok(!(error instanceof ProxyError), String(error));
      assert.equal((error as { code?: string }).code, 'WSBIT_TLS_FAILED');
      await waitFor(() => proxy?.tunnels === 1, 'the tunnel');
    } finally {
      await wss.close();
    }
  });

  it('a 407 before TLS is the proxy refusing, not a TLS failure', async () => {
    proxy = await startConnectProxy({ credentials: { user: 'u', password: 'p' } });
    const error = await connectionTo(1, { host: 'localhost', tls: tlsOn(), proxy: proxyServer(proxy.url) }).open().catch((reason: unknown) => reason);
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.status, 407);
  });
});
