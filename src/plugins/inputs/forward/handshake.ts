/**
 * The Forward protocol's handshake (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1#handshake-messages),
 * server side, as Fluent Bit's in_forward and Fluentd's in_forward run it when `shared_key` is set:
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
import crypto from 'node:crypto';
import { readStr, strRange } from '../../../codec/msgpack-map.js';
import { skipValue } from '../../../codec/event.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { quoteUntrusted } from '../../../core/logger.js';

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
  const hash = crypto.createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

export function startHandshake(config: HandshakeConfig): { state: HandshakeState; helo: Buffer } {
  const state: HandshakeState = {
    nonce: crypto.randomBytes(NONCE_BYTES),
    userSalt: config.users.size > 0 ? crypto.randomBytes(NONCE_BYTES) : Buffer.alloc(0),
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

function timingSafeEqualText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

/** Checks a PING frame (`check_ping` in Fluent Bit's fw_prot.c) and builds the PONG to send. */
export function checkPing(frame: Uint8Array, config: HandshakeConfig, state: HandshakeState): PingResult {
  const end = frame.length;
  if (frame[0] !== 0x96) return { ok: false, pong: null, reason: 'Invalid PING message: expected an array of 6' };
  const fields: number[] = [];
  let pos = 1;
  for (let i = 0; i < 6; i++) {
    fields.push(pos);
    pos = skipValue(frame, pos, end);
  }
  const at = (i: number): number => fields[i] as number;
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
