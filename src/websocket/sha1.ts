/**
 * SHA-1 (FIPS 180-4 §6.1), for the one hash the WebSocket client computes: the Sec-WebSocket-Accept check
 * of the opening handshake (RFC 6455 §4.1), 60 bytes once per connection.
 *
 * Why not node:crypto: loading it brings OpenSSL's pages of the node binary and its state into memory,
 * 1.0 MB of an idle `-i dummy -o websocket` agent's RSS, which otherwise needs it only for this hash and
 * a few random bytes (base/entropy.ts). SHA-1 guards no secret here: §10.3 uses it only to show that the
 * server understood the handshake.
 */

const BLOCK_BYTES = 64;

/** The 20-byte SHA-1 digest of `message`. */
export function sha1(message: Uint8Array): Uint8Array {
  // §5.1.1 padding: a 1 bit, zeros, then the message length in bits as a 64-bit big-endian number, up to
  // a whole number of 512-bit blocks.
  const blockCount = Math.ceil((message.length + 9) / BLOCK_BYTES);
  const padded = new Uint8Array(blockCount * BLOCK_BYTES);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bitLength = message.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x1_0000_0000));
  view.setUint32(padded.length - 4, bitLength >>> 0);

  // §5.3.1 initial hash value. Everything below is 32-bit arithmetic: `| 0` wraps a sum modulo 2^32.
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const schedule = new Int32Array(80);
  for (let block = 0; block < padded.length; block += BLOCK_BYTES) {
    // §6.1.2 step 1: the message schedule.
    for (let t = 0; t < 16; t++) schedule[t] = view.getInt32(block + 4 * t);
    for (let t = 16; t < 80; t++) {
      const mixed = (schedule[t - 3] as number) ^ (schedule[t - 8] as number) ^ (schedule[t - 14] as number) ^ (schedule[t - 16] as number);
      schedule[t] = (mixed << 1) | (mixed >>> 31);
    }
    // Steps 2-4: 80 rounds, with the §4.1.1 function and the §4.2.1 constant of each group of 20.
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const next = (((a << 5) | (a >>> 27)) + f + e + k + (schedule[t] as number)) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }

  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  out.setInt32(0, h0);
  out.setInt32(4, h1);
  out.setInt32(8, h2);
  out.setInt32(12, h3);
  out.setInt32(16, h4);
  return digest;
}
