import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  HandshakeError,
  HandshakeResponseParser,
  computeAcceptValue,
  createHandshakeRequest,
  formatHostHeader,
  validateHandshakeResponse,
  type HandshakeResponse,
} from '../../src/websocket/handshake.js';
import { fluentBitFixtures } from '../helpers/paths.js';

// Fluent Bit 5.1.1's upgrade request for host 127.0.0.1, port 18089, uri /, net.keepalive on (SPEC §1.6).
const fixture = readFileSync(path.join(fluentBitFixtures, 'handshake_request.bin'));
const KEY_LINE = /^Sec-WebSocket-Key: (.*)$/m;

function linesWithoutKey(request: Buffer): string {
  return request.toString('latin1').replace(KEY_LINE, 'Sec-WebSocket-Key: <key>');
}

function keyOf(request: Buffer): string {
  const match = KEY_LINE.exec(request.toString('latin1'));
  assert.ok(match?.[1] !== undefined);
  return match[1].replace(/\r$/, '');
}

const base = { host: '127.0.0.1', port: 18089, tls: false, uri: '/', headers: [], keepaliveHeader: true };

describe('createHandshakeRequest', () => {
  it("matches Fluent Bit's request byte for byte, except the key", () => {
    const { request } = createHandshakeRequest(base);
    assert.equal(linesWithoutKey(request), linesWithoutKey(fixture));
    // Fluent Bit's fixed key is the RFC sample nonce; ours is not.
    assert.equal(keyOf(fixture), 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.notEqual(keyOf(request), 'dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('reproduces the fixture exactly when given its key', () => {
    const { request, key } = createHandshakeRequest({ ...base, key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    assert.deepEqual(request, fixture);
    assert.equal(key, 'dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('uses a fresh 16-byte random key each time (RFC 6455 §4.1 step 7)', () => {
    const a = createHandshakeRequest(base);
    const b = createHandshakeRequest(base);
    assert.notEqual(a.key, b.key);
    for (const { request, key } of [a, b]) {
      assert.equal(keyOf(request), key);
      assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
      assert.equal(Buffer.from(key, 'base64').length, 16);
    }
  });

  it('orders subprotocol, user headers and keep-alive as specified', () => {
    const { request } = createHandshakeRequest({
      ...base,
      uri: '/ingest?token=a%20b',
      subprotocol: 'fluent.v1',
      headers: [
        { name: 'Authorization', value: 'Bearer x y' },
        { name: 'X-Tag', value: 'one' },
      ],
      key: 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(
      request.toString('latin1'),
      [
        'GET /ingest?token=a%20b HTTP/1.1',
        'Host: 127.0.0.1:18089',
        'Content-Length: 0',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: fluent.v1',
        'Authorization: Bearer x y',
        'X-Tag: one',
        'Connection: keep-alive',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('leaves out Connection: keep-alive when keepalive is off', () => {
    const { request } = createHandshakeRequest({ ...base, keepaliveHeader: false });
    assert.ok(!request.toString('latin1').includes('keep-alive'));
    assert.ok(request.toString('latin1').endsWith('Sec-WebSocket-Version: 13\r\n\r\n'));
  });

  it('formats Host as Fluent Bit does', () => {
    assert.equal(formatHostHeader('example.com', 80, false), 'example.com:80');
    assert.equal(formatHostHeader('example.com', 443, false), 'example.com:443');
    assert.equal(formatHostHeader('example.com', 443, true), 'example.com');
    assert.equal(formatHostHeader('example.com', 8443, true), 'example.com:8443');
    assert.equal(formatHostHeader('::1', 8080, false), '[::1]:8080');
    assert.equal(formatHostHeader('fe80::1%eth0', 443, true), '[fe80::1]');
  });

  it('refuses header injection and a broken request line', () => {
    const bad = (e: unknown, code: string): boolean => e instanceof HandshakeError && e.code === code;
    assert.throws(() => createHandshakeRequest({ ...base, headers: [{ name: 'X', value: 'a\r\nHost: evil' }] }), (e) => bad(e, 'WSBIT_HANDSHAKE_BAD_HEADER'));
    assert.throws(() => createHandshakeRequest({ ...base, headers: [{ name: 'Bad Name', value: 'v' }] }), (e) => bad(e, 'WSBIT_HANDSHAKE_BAD_HEADER'));
    assert.throws(() => createHandshakeRequest({ ...base, subprotocol: 'a b' }), (e) => bad(e, 'WSBIT_HANDSHAKE_BAD_HEADER'));
    assert.throws(() => createHandshakeRequest({ ...base, uri: '/a b' }), (e) => bad(e, 'WSBIT_HANDSHAKE_BAD_URI'));
  });
});

describe('computeAcceptValue', () => {
  it('gives the RFC 6455 §1.3 sample answer', () => {
    assert.equal(computeAcceptValue('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const good101 = [
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  '',
  '',
].join('\r\n');

function parse(text: string): { response: HandshakeResponse; rest: Buffer } {
  const result = new HandshakeResponseParser().push(Buffer.from(text, 'latin1'));
  assert.ok(result.done);
  return result;
}

describe('HandshakeResponseParser', () => {
  it('parses a response fed in every split, keeping the bytes after the head', () => {
    const frame = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    const bytes = Buffer.concat([Buffer.from(good101, 'latin1'), frame]);
    for (let at = 0; at <= bytes.length; at++) {
      const parser = new HandshakeResponseParser();
      const first = parser.push(bytes.subarray(0, at));
      const result = first.done ? first : parser.push(bytes.subarray(at));
      assert.ok(result.done, `split at ${at}`);
      assert.equal(result.response.status, 101);
      assert.equal(result.response.statusText, 'Switching Protocols');
      assert.deepEqual(result.response.headers.get('sec-websocket-accept'), ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
      if (!first.done) assert.deepEqual(result.rest, frame, `split at ${at}`);
    }
  });

  it('parses one byte at a time', () => {
    const parser = new HandshakeResponseParser();
    const bytes = Buffer.from(good101 + 'xy', 'latin1');
    let result;
    for (let i = 0; i < bytes.length; i++) {
      result = parser.push(bytes.subarray(i, i + 1));
      if (result.done) break;
    }
    assert.ok(result?.done);
    assert.equal(result.rest.length, 0);
  });

  it('keeps repeated headers and lower-cases names', () => {
    const { response } = parse('HTTP/1.1 101 OK\r\nCONNECTION: keep-alive\r\nconnection: Upgrade\r\n\r\n');
    assert.deepEqual(response.headers.get('connection'), ['keep-alive', 'Upgrade']);
  });

  it('rejects a malformed status line, header line, or an oversized head', () => {
    const malformed = (e: unknown): boolean => e instanceof HandshakeError && e.code === 'WSBIT_HANDSHAKE_MALFORMED';
    for (const text of ['SSH-2.0-OpenSSH\r\n\r\n', 'HTTP/1.1 1010 x\r\n\r\n', 'HTTP/2 101\r\n\r\n', 'HTTP/1.1 101 OK\r\nno colon\r\n\r\n', 'HTTP/1.1 101 OK\r\n folded: x\r\n\r\n']) {
      assert.throws(() => new HandshakeResponseParser().push(Buffer.from(text, 'latin1')), malformed, text);
    }
    const parser = new HandshakeResponseParser(1024);
    assert.deepEqual(parser.push(Buffer.from('HTTP/1.1 101 OK\r\n', 'latin1')), { done: false });
    assert.throws(() => parser.push(Buffer.from(`X-Big: ${'a'.repeat(1100)}`, 'latin1')), malformed);
  });
});

describe('validateHandshakeResponse (RFC 6455 §4.1)', () => {
  const fails = (text: string, code: string, subprotocol?: string): void => {
    const { response, rest } = parse(text);
    assert.throws(
      () => validateHandshakeResponse(response, KEY, subprotocol, rest),
      (e: unknown) => e instanceof HandshakeError && e.code === code,
      `expected ${code}`,
    );
  };
  const change = (from: string, to: string): string => {
    assert.ok(good101.includes(from));
    return good101.replace(from, to);
  };

  it('accepts a correct 101, with any case in Upgrade and Connection tokens', () => {
    validateHandshakeResponse(parse(good101).response, KEY);
    validateHandshakeResponse(parse(change('Upgrade: websocket', 'Upgrade: WebSocket').replace('Connection: Upgrade', 'Connection: keep-alive, UPGRADE')).response, KEY);
  });

  it('1. rejects a status other than 101, with status and body snippet', () => {
    const { response, rest } = parse('HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\nno token\r\nok');
    assert.throws(
      () => validateHandshakeResponse(response, KEY, undefined, rest),
      (e: unknown) => e instanceof HandshakeError && e.code === 'WSBIT_HANDSHAKE_REJECTED' && e.status === 403 && e.message.includes('403 Forbidden: no token ok'),
    );
    fails('HTTP/1.1 200 OK\r\n\r\n', 'WSBIT_HANDSHAKE_REJECTED');
  });

  it('2. rejects a missing or wrong Upgrade header', () => {
    fails(change('Upgrade: websocket\r\n', ''), 'WSBIT_HANDSHAKE_BAD_UPGRADE');
    fails(change('Upgrade: websocket', 'Upgrade: h2c'), 'WSBIT_HANDSHAKE_BAD_UPGRADE');
  });

  it('3. rejects a Connection header without the upgrade token', () => {
    fails(change('Connection: Upgrade\r\n', ''), 'WSBIT_HANDSHAKE_BAD_CONNECTION');
    fails(change('Connection: Upgrade', 'Connection: keep-alive'), 'WSBIT_HANDSHAKE_BAD_CONNECTION');
  });

  it('4. rejects a missing, wrong or duplicated Sec-WebSocket-Accept', () => {
    fails(change('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n', ''), 'WSBIT_HANDSHAKE_BAD_ACCEPT');
    fails(change('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 's3pPLMBiTxaQ9kYGzzhZRbK+xOp='), 'WSBIT_HANDSHAKE_BAD_ACCEPT');
    fails(change('Upgrade: websocket\r\n', 'Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'), 'WSBIT_HANDSHAKE_BAD_ACCEPT');
  });

  it('5. rejects extensions that were not requested', () => {
    fails(change('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'), 'WSBIT_HANDSHAKE_BAD_EXTENSION');
  });

  it('6. checks the subprotocol both ways', () => {
    const withProtocol = change('\r\n\r\n', '\r\nSec-WebSocket-Protocol: fluent.v1\r\n\r\n');
    validateHandshakeResponse(parse(withProtocol).response, KEY, 'fluent.v1');
    fails(withProtocol, 'WSBIT_HANDSHAKE_BAD_SUBPROTOCOL');
    fails(withProtocol, 'WSBIT_HANDSHAKE_BAD_SUBPROTOCOL', 'other');
    fails(good101, 'WSBIT_HANDSHAKE_BAD_SUBPROTOCOL', 'fluent.v1');
  });
});
