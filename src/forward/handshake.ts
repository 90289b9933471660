/**
 * The Forward protocol's handshake (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1#handshake-messages),
 * both sides (the forward input is the server, the forward output the client), as Fluent Bit's in_forward and Fluentd's in_forward run it when `shared_key` is set:
 *
 *   server → HELO  ["HELO", {"nonce": <16 random bytes>, "auth": <user salt or "">, "keepalive": true}]
 *   client → PING  ["PING", client_hostname, shared_key_salt, sha512_hex(salt + client_hostname + nonce + shared_key),
 *                   username, sha512_hex(user_salt + username + password)]
 *   server → PONG  ["PONG", true, "", self_hostname, sha512_hex(salt + self_hostname + nonce + shared_key)]
 *              or  ["PONG", false, reason, "", ""], and the connection is closed.
 *
 * The nonce and salt are sent as bin (Fluentd's encoding): Fluent Bit packs raw random bytes as str,
 * which clients that decode str as UTF-8 (the Node client among them) would mangle.
 */
import { cryptoModule } from '../base/openssl.js';
import { findEntry, mapEntries, readStr, strRange } from '../codec/msgpack-map.js';
import { skipValue } from '../codec/event.js';
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import { quoteUntrusted } from '../base/logger.js';

const NONCE_BYTES = 16;

export interface HandshakeConfig {
  sharedKey: string;
  selfHostname: string;
  /** username → password; empty when `security.users` is not set. */
  users: ReadonlyMap<string, string>;
}

export interface HandshakeState {
  nonce: Buffer;
  /** Sent as HELO's `auth` when users are configured; empty otherwise. */
  userSalt: Buffer;
}

export type PingResult =
  | { ok: true; pong: Buffer; clientHostname: string }
  | { ok: false; pong: Buffer | null; reason: string };

function sha512Hex(...parts: Array<Uint8Array | string>): string {
  const hash = cryptoModule().createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

export function startHandshake(config: HandshakeConfig): { state: HandshakeState; helo: Buffer } {
  const state: HandshakeState = {
    nonce: cryptoModule().randomBytes(NONCE_BYTES),
    userSalt: config.users.size > 0 ? cryptoModule().randomBytes(NONCE_BYTES) : Buffer.alloc(0),
  };
  const writer = new MsgpackWriter(64);
  writer.arrayHeader(2);
  writer.str('HELO');
  writer.mapHeader(3);
  writer.str('nonce');
  writer.bin(state.nonce);
  writer.str('auth');
  if (state.userSalt.length > 0) writer.bin(state.userSalt);
  else writer.str('');
  writer.str('keepalive');
  writer.bool(true);
  return { state, helo: writer.bytes() };
}

function pong(ok: boolean, reason: string, hostname: string, digest: string): Buffer {
  const writer = new MsgpackWriter(256);
  writer.arrayHeader(5);
  writer.str('PONG');
  writer.bool(ok);
  writer.str(reason);
  writer.str(hostname);
  writer.str(digest);
  return writer.bytes();
}

/** A str or bin element's bytes (PING's salt may be either). */
function bytesAt(frame: Uint8Array, pos: number, end: number): Uint8Array | null {
  const range = strRange(frame, pos, end, true);
  return range === null ? null : frame.subarray(range.start, range.end);
}

/** Where each of the `count` elements of the fixarray at 0 starts (HELO/PING/PONG are fixarrays). */
function elementStarts(frame: Uint8Array, count: number): (index: number) => number {
  const starts: number[] = [];
  let pos = 1;
  for (let i = 0; i < count; i++) {
    starts.push(pos);
    pos = skipValue(frame, pos, frame.length);
  }
  return (index) => starts[index] as number;
}

function timingSafeEqualText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && cryptoModule().timingSafeEqual(left, right);
}

/** Checks a PING frame (`check_ping` in Fluent Bit's fw_prot.c) and builds the PONG to send. */
export function checkPing(frame: Uint8Array, config: HandshakeConfig, state: HandshakeState): PingResult {
  const end = frame.length;
  if (frame[0] !== 0x96) return { ok: false, pong: null, reason: 'Invalid PING message: expected an array of 6' };
  const at = elementStarts(frame, 6);
  if (readStr(frame, at(0), end) !== 'PING') return { ok: false, pong: null, reason: 'Invalid PING message' };
  const hostname = readStr(frame, at(1), end);
  const salt = bytesAt(frame, at(2), end);
  const digest = readStr(frame, at(3), end);
  const username = readStr(frame, at(4), end);
  const passwordDigest = readStr(frame, at(5), end);
  if (hostname === null || salt === null || digest === null || username === null || passwordDigest === null) {
    return { ok: false, pong: null, reason: 'Invalid PING message: a field has the wrong type' };
  }
  const expected = sha512Hex(salt, hostname, state.nonce, config.sharedKey);
  if (!timingSafeEqualText(expected, digest)) {
    // Fluentd answers a refused PING with a PONG that says why; Fluent Bit just closes.
    return { ok: false, pong: pong(false, 'shared_key mismatch', '', ''), reason: `shared_key mismatch from host ${quoteUntrusted(hostname)}` };
  }
  if (config.users.size > 0) {
    const password = config.users.get(username);
    const ok = password !== undefined && timingSafeEqualText(sha512Hex(state.userSalt, username, password), passwordDigest);
    if (!ok) {
      return { ok: false, pong: pong(false, 'username/password mismatch', '', ''), reason: `user authentication failed for ${quoteUntrusted(username)} from host ${quoteUntrusted(hostname)}` };
    }
  }
  return { ok: true, pong: pong(true, '', config.selfHostname, sha512Hex(salt, config.selfHostname, state.nonce, config.sharedKey)), clientHostname: hostname };
}

/* Client side (the forward output): HELO in, PING out, PONG checked. */

export interface ClientHandshakeConfig {
  sharedKey: string;
  selfHostname: string;
  /** Empty when the server asks for no user (`auth` empty in HELO). */
  username: string;
  password: string;
}

export interface Helo {
  nonce: Uint8Array;
  /** The user salt; empty when the server wants no user authentication. */
  auth: Uint8Array;
}

const KEY_NONCE = Buffer.from('nonce');
const KEY_AUTH = Buffer.from('auth');

/** Reads `["HELO", {"nonce": …, "auth": …, "keepalive": …}]`; null when the frame is not a valid HELO. */
export function readHelo(frame: Uint8Array): Helo | null {
  const end = frame.length;
  if (frame[0] !== 0x92 || readStr(frame, 1, end) !== 'HELO') return null;
  const optionsAt = skipValue(frame, 1, end);
  const entries = mapEntries(frame, optionsAt, end);
  if (entries === null) return null;
  const nonce = findEntry(frame, entries, KEY_NONCE);
  if (nonce === undefined) return null;
  const nonceBytes = bytesAt(frame, nonce.valueStart, nonce.end);
  if (nonceBytes === null || nonceBytes.length === 0) return null;
  const auth = findEntry(frame, entries, KEY_AUTH);
  const authBytes = auth === undefined ? new Uint8Array(0) : bytesAt(frame, auth.valueStart, auth.end);
  return { nonce: nonceBytes, auth: authBytes ?? new Uint8Array(0) };
}

/** The PING answering `helo`, and the salt it used (needed to check the PONG). */
export function buildPing(config: ClientHandshakeConfig, helo: Helo): { ping: Buffer; salt: Buffer } {
  // Fluent Bit's in_forward takes the salt only as a str ("Invalid shared_key_salt type"), and a str
  // of raw random bytes is not UTF-8: hex text works with Fluent Bit, Fluentd and wsbit alike.
  const salt = Buffer.from(cryptoModule().randomBytes(NONCE_BYTES).toString('hex'));
  const writer = new MsgpackWriter(512);
  writer.arrayHeader(6);
  writer.str('PING');
  writer.str(config.selfHostname);
  writer.str(salt.toString('latin1'));
  writer.str(sha512Hex(salt, config.selfHostname, helo.nonce, config.sharedKey));
  const withUser = helo.auth.length > 0;
  writer.str(withUser ? config.username : '');
  writer.str(withUser ? sha512Hex(helo.auth, config.username, config.password) : '');
  return { ping: writer.bytes(), salt };
}

export type PongResult = { ok: true; serverHostname: string } | { ok: false; reason: string };

/** Checks `["PONG", ok, reason, server_hostname, digest]`; the digest proves the server knows the key too. */
export function checkPong(frame: Uint8Array, config: ClientHandshakeConfig, helo: Helo, salt: Uint8Array): PongResult {
  const end = frame.length;
  if (frame[0] !== 0x95 || readStr(frame, 1, end) !== 'PONG') return { ok: false, reason: 'expected a PONG message' };
  const at = elementStarts(frame, 5);
  const authenticated = frame[at(1)] === 0xc3;
  const reason = readStr(frame, at(2), end) ?? '';
  if (!authenticated) return { ok: false, reason: `the server refused the handshake: ${reason === '' ? 'no reason given' : reason}` };
  const hostname = readStr(frame, at(3), end);
  const digest = readStr(frame, at(4), end);
  if (hostname === null || digest === null) return { ok: false, reason: 'invalid PONG message: a field has the wrong type' };
  if (!timingSafeEqualText(sha512Hex(salt, hostname, helo.nonce, config.sharedKey), digest)) {
    return { ok: false, reason: `the server '${hostname}' does not know the shared key (PONG digest mismatch)` };
  }
  return { ok: true, serverHostname: hostname };
}
