import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha1 } from '../../src/websocket/sha1.js';

const hex = (digest: Uint8Array): string => Buffer.from(digest).toString('hex');
const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const opensslSha1 = (message: Uint8Array): string => createHash('sha1').update(message).digest('hex');

describe('sha1', () => {
  it('gives the FIPS 180 / RFC 3174 test vectors', () => {
    assert.equal(hex(sha1(ascii('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    // The 448-bit message: its padding needs a second block.
    assert.equal(hex(sha1(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
    assert.equal(hex(sha1(new Uint8Array(1_000_000).fill(0x61))), '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
    assert.equal(hex(sha1(ascii('01234567012345670123456701234567'.repeat(20)))), 'dea356a2cddd90c7a7ecedc5ebb563934f460452');
    assert.equal(hex(sha1(new Uint8Array(0))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  });

  it('gives the RFC 6455 §1.3 sample accept value', () => {
    const digest = sha1(ascii('dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11'));
    assert.equal(Buffer.from(digest).toString('base64'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('matches OpenSSL for every length up to 200 bytes and around each padding edge', () => {
    const lengths = new Set<number>();
    for (let length = 0; length <= 200; length++) lengths.add(length);
    // 55 bytes is the longest message whose padding fits its last block; 56-63 need one more.
    for (const blocks of [1, 2, 3, 16, 17]) for (let delta = -10; delta <= 10; delta++) lengths.add(blocks * 64 + delta);
    for (const length of lengths) {
      const message = randomBytes(length);
      assert.equal(hex(sha1(message)), opensslSha1(message), `length ${length}`);
    }
  });

  it('hashes only the view it is given, not the rest of its buffer', () => {
    const whole = randomBytes(300);
    const view = whole.subarray(17, 17 + 100);
    assert.equal(hex(sha1(view)), opensslSha1(view));
  });
});
