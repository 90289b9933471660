/** The client connection over TLS, against ws on an https server, and TLS failures. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { WsbitError } from '../../src/base/errors.js';
import { Opcode } from '../../src/websocket/frame.js';
import type { TlsSettings } from '../../src/base/tls.js';
import { connectionTo, trackDown } from './peers.js';
import { TEST_CERT_PEM, TEST_KEY_PEM } from './tls-fixture.js';

/** `tls on` with Fluent Bit's defaults (verify on, hostname checked), then `overrides`. */
function tlsOn(overrides: Partial<TlsSettings> = {}): TlsSettings {
  return {
    verify: true, verifyHostname: true, caFile: null, caPath: null, crtFile: null, keyFile: null, keyPassphrase: null,
    minVersion: null, maxVersion: null, ciphers: null, servername: null, ...overrides,
  };
}

let dir = '';
let caFile = '';
let keyFile = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsbit-tls-'));
  caFile = join(dir, 'cert.pem');
  keyFile = join(dir, 'key.pem');
  writeFileSync(caFile, TEST_CERT_PEM);
  writeFileSync(keyFile, TEST_KEY_PEM);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface TlsPeer {
  port: number;
  received: Buffer[];
  hosts: string[];
  clientAuthorized: boolean[];
  close(): Promise<void>;
}

let peer: TlsPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

async function startWssServer(requestClientCert = false): Promise<TlsPeer> {
  const server: HttpsServer = createHttpsServer({
    cert: TEST_CERT_PEM,
    key: TEST_KEY_PEM,
    ...(requestClientCert ? { requestCert: true, rejectUnauthorized: true, ca: TEST_CERT_PEM } : {}),
  });
  const wss = new WebSocketServer({ server });
  const received: Buffer[] = [];
  const hosts: string[] = [];
  const clientAuthorized: boolean[] = [];
  wss.on('connection', (ws, request) => {
    hosts.push(request.headers.host ?? '');
    clientAuthorized.push((request.socket as TLSSocket).authorized);
    ws.on('message', (data) => received.push(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    hosts,
    clientAuthorized,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function startPlainServer(onConnection: (socket: import('node:net').Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
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

describe('WebSocketClientConnection over TLS', () => {
  it('connects with verify on and the CA file, and sends', async () => {
    peer = await startWssServer();
    const connection = connectionTo(peer.port, { tls: tlsOn({ caFile }) });
    trackDown(connection);
    await connection.open();
    await connection.sendAndConfirm(Opcode.Text, Buffer.from('over tls'), 2000);
    assert.deepEqual(peer.received, [Buffer.from('over tls')]);
    // Host keeps the port unless it is 443 (SPEC §1.6).
    assert.deepEqual(peer.hosts, [`127.0.0.1:${peer.port}`]);
    await connection.close();
  });

  it('presents a client certificate (mutual TLS)', async () => {
    peer = await startWssServer(true);
    const connection = connectionTo(peer.port, { tls: tlsOn({ caFile, crtFile: caFile, keyFile }) });
    trackDown(connection);
    await connection.open();
    assert.deepEqual(peer.clientAuthorized, [true]);
    await connection.close();
  });

  it('refuses an unknown certificate with verify on: WSBIT_TLS_FAILED with the cause', async () => {
    peer = await startWssServer();
    const connection = connectionTo(peer.port, { tls: tlsOn() });
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), (e: unknown) => {
      assert.ok(e instanceof WsbitError);
      assert.equal(e.code, 'WSBIT_TLS_FAILED');
      assert.match(String((e.cause as NodeJS.ErrnoException).code), /SELF_SIGNED/);
      return true;
    });
    assert.equal(downs.length, 1);
  });

  it('accepts an unknown certificate with verify off', async () => {
    peer = await startWssServer();
    const connection = connectionTo(peer.port, { tls: tlsOn({ verify: false }) });
    trackDown(connection);
    await connection.open();
    await connection.close();
  });

  it('checks the host name unless verifyHostname is off', async () => {
    peer = await startWssServer();
    const wrongName = tlsOn({ caFile, servername: 'other.example' });
    // The certificate names localhost and 127.0.0.1; the name checked is the SNI name, other.example.
    const strict = connectionTo(peer.port, { tls: wrongName });
    trackDown(strict);
    await assert.rejects(strict.open(), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_TLS_FAILED' && (e.cause as NodeJS.ErrnoException).code === 'ERR_TLS_CERT_ALTNAME_INVALID');
    const relaxed = connectionTo(peer.port, { tls: { ...wrongName, verifyHostname: false } });
    trackDown(relaxed);
    await relaxed.open();
    await relaxed.close();
  });

  it('a plain-text server is a TLS failure', async () => {
    const plain = await startPlainServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    try {
      const connection = connectionTo(plain.port, { tls: tlsOn() });
      trackDown(connection);
      await assert.rejects(connection.open(), { code: 'WSBIT_TLS_FAILED' });
    } finally {
      await plain.close();
    }
  });

  it('a server that never completes the TLS handshake trips the connect timeout', async () => {
    const silent = await startPlainServer(() => undefined);
    try {
      const connection = connectionTo(silent.port, { tls: tlsOn(), connectTimeoutMs: 200 });
      const { downs } = trackDown(connection);
      await assert.rejects(connection.open(), { code: 'WSBIT_CONNECT_TIMEOUT' });
      assert.equal(downs.length, 1);
    } finally {
      await silent.close();
    }
  });

  it('a missing CA file is a configuration error', async () => {
    const connection = connectionTo(1, { tls: tlsOn({ caFile: join(dir, 'missing.pem') }) });
    const { downs } = trackDown(connection);
    await assert.rejects(connection.open(), { code: 'WSBIT_TLS_CONFIG' });
    assert.equal(downs.length, 1);
  });
});
