import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloseCode,
  Opcode,
  encodeCloseFrame,
  encodeFrame,
  encodePing,
  encodePong,
  frameHeaderLength,
  isValidCloseCode,
  maskDataFrameInPlace,
} from '../../src/websocket/frame.js';
import { WsbitError } from '../../src/base/errors.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const KEY = hex('37fa213d');
const hello = Buffer.from('Hello');

describe('encodeFrame: RFC 6455 §5.7 examples', () => {
  it('single-frame unmasked text', () => {
    assert.deepEqual(encodeFrame(Opcode.Text, hello, { mask: false }), hex('81 05 48 65 6c 6c 6f'));
  });

  it('single-frame masked text', () => {
    assert.deepEqual(encodeFrame(Opcode.Text, hello, { mask: true, maskKey: KEY }), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    assert.deepEqual(encodeFrame(Opcode.Text, Buffer.from('Hel'), { mask: false, fin: false }), hex('01 03 48 65 6c'));
    assert.deepEqual(encodeFrame(Opcode.Continuation, Buffer.from('lo'), { mask: false }), hex('80 02 6c 6f'));
  });

  it('unmasked ping and masked pong', () => {
    assert.deepEqual(encodePing(hello, false), hex('89 05 48 65 6c 6c 6f'));
    assert.deepEqual(encodePong(hello, true, KEY), hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  it('256 bytes of binary data in one unmasked frame uses the 16-bit length', () => {
    const payload = Buffer.alloc(256, 0xab);
    const frame = encodeFrame(Opcode.Binary, payload, { mask: false });
    assert.deepEqual(frame.subarray(0, 4), hex('82 7e 01 00'));
    assert.deepEqual(frame.subarray(4), payload);
  });

  it('64 KiB of binary data in one unmasked frame uses the 64-bit length', () => {
    const payload = Buffer.alloc(65536, 0xcd);
    const frame = encodeFrame(Opcode.Binary, payload, { mask: false });
    assert.deepEqual(frame.subarray(0, 10), hex('82 7f 00 00 00 00 00 01 00 00'));
    assert.equal(frame.length, 10 + 65536);
    assert.deepEqual(frame.subarray(10), payload);
  });
});

describe('encodeFrame: lengths', () => {
  it('switches encodings at 125/126 and 65535/65536', () => {
    const cases: Array<[number, string]> = [
      [0, '82 80'],
      [125, '82 fd'],
      [126, '82 fe 00 7e'],
      [65535, '82 fe ff ff'],
      [65536, '82 ff 00 00 00 00 00 01 00 00'],
    ];
    for (const [length, header] of cases) {
      const frame = encodeFrame(Opcode.Binary, Buffer.alloc(length), { mask: true, maskKey: KEY });
      assert.deepEqual(frame.subarray(0, hex(header).length), hex(header), `length ${length}`);
      assert.equal(frame.length, frameHeaderLength(length, true) + length);
    }
  });
});

describe('encodeFrame: Fluent Bit example (SPEC §1.7)', () => {
  it('reproduces the 64-byte JSON frame masked with 12 34 56 78', () => {
    const payload = Buffer.from('[{"date":1700000000.123457,"key 1":123456789,"key 2":"abcdefg"}]');
    assert.equal(payload.length, 64);
    const frame = encodeFrame(Opcode.Text, payload, { mask: true, maskKey: hex('12345678') });
    assert.deepEqual(frame.subarray(0, 22), hex('81 c0 12 34 56 78 49 4f 74 1c 73 40 33 5a 28 05 61 48 22 04 66 48'));
    assert.equal(frame.length, 6 + 64);
    for (let i = 0; i < 64; i++) {
      assert.equal(frame[6 + i], (payload[i] as number) ^ [0x12, 0x34, 0x56, 0x78][i % 4]!, `byte ${i}`);
    }
  });
});

describe('encodeFrame: masking', () => {
  it('never mutates the payload (SPEC Part A point 4)', () => {
    const payload = Buffer.from('a chunk shared with another output');
    const copy = Buffer.from(payload);
    encodeFrame(Opcode.Binary, payload, { mask: true });
    encodeFrame(Opcode.Binary, payload, { mask: true, maskKey: KEY });
    encodeFrame(Opcode.Binary, [payload.subarray(0, 5), payload.subarray(5)], { mask: true });
    assert.deepEqual(payload, copy);
  });

  it('uses a fresh mask for every frame', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const frame = encodeFrame(Opcode.Text, hello, { mask: true });
      assert.equal(frame[1], 0x85);
      keys.add(frame.subarray(2, 6).toString('hex'));
    }
    // 50 random 32-bit keys: a collision is a 1-in-~3-million event, a constant key fails at once.
    assert.equal(keys.size, 50);
  });

  it('masks payload parts as one continuous payload', () => {
    const whole = Buffer.from('0123456789abcdefg');
    const parts = [whole.subarray(0, 3), whole.subarray(3, 4), Buffer.alloc(0), whole.subarray(4)];
    assert.deepEqual(
      encodeFrame(Opcode.Binary, parts, { mask: true, maskKey: KEY }),
      encodeFrame(Opcode.Binary, whole, { mask: true, maskKey: KEY }),
    );
  });

  it('masks a large payload correctly at every offset', () => {
    const payload = Buffer.alloc(100_003);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const frame = encodeFrame(Opcode.Binary, payload, { mask: true, maskKey: KEY });
    const body = frame.subarray(14);
    for (let i = 0; i < payload.length; i++) {
      if (body[i] !== ((payload[i] as number) ^ (KEY[i & 3] as number))) assert.fail(`byte ${i} masked wrongly`);
    }
  });
});

describe('maskDataFrameInPlace: a private payload masked where it lies', () => {
  it('gives, header then payload, the bytes encodeFrame gives, at every length encoding', () => {
    for (const length of [0, 5, 125, 126, 65_535, 65_536, 100_003]) {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 13) & 0xff;
      const expected = encodeFrame(Opcode.Text, payload, { mask: true, maskKey: KEY });
      const header = maskDataFrameInPlace(Opcode.Text, payload, KEY);
      assert.deepEqual(Buffer.concat([header, payload]), expected, `payload of ${length} bytes`);
    }
  });

  it('uses a fresh mask for every frame and refuses a key that is not 4 bytes', () => {
    const first = maskDataFrameInPlace(Opcode.Binary, Buffer.alloc(200_000));
    const second = maskDataFrameInPlace(Opcode.Binary, Buffer.alloc(200_000));
    assert.equal(first.length, 14);
    assert.notDeepEqual(first.subarray(10), second.subarray(10));
    assert.throws(() => maskDataFrameInPlace(Opcode.Text, hello, Uint8Array.of(1, 2, 3)), (error: unknown) => error instanceof WsbitError && error.code === 'WSBIT_WS_BAD_MASK_KEY');
  });
});

describe('control frames', () => {
  it('encodes a close frame with code and reason', () => {
    assert.deepEqual(encodeCloseFrame(1000, 'bye', false), hex('88 05 03 e8 62 79 65'));
    assert.deepEqual(encodeCloseFrame(undefined, '', false), hex('88 00'));
  });

  it('cuts a long close reason to 123 bytes at a character boundary', () => {
    const frame = encodeCloseFrame(CloseCode.InternalError, 'é'.repeat(100), false);
    // 'é' is 2 bytes: 61 of them fit in 123 bytes.
    assert.equal(frame[1], 2 + 122);
    assert.equal(frame.subarray(4).toString('utf8'), 'é'.repeat(61));
  });

  it('refuses close codes that must not be sent, oversized and fragmented control frames', () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      assert.throws(() => encodeCloseFrame(code, '', true), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_WS_BAD_CLOSE_CODE');
    }
    assert.throws(() => encodePing(Buffer.alloc(126), true), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_WS_CONTROL_TOO_LONG');
    assert.throws(() => encodeFrame(Opcode.Ping, hello, { mask: true, fin: false }), (e: unknown) => e instanceof WsbitError && e.code === 'WSBIT_WS_CONTROL_TOO_LONG');
    assert.doesNotThrow(() => encodePing(Buffer.alloc(125), true));
  });

  it('isValidCloseCode follows RFC 6455 §7.4', () => {
    for (const code of Object.values(CloseCode)) assert.ok(isValidCloseCode(code), String(code));
    for (const code of [1012, 1014, 3000, 4999]) assert.ok(isValidCloseCode(code), String(code));
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 1000.5]) assert.ok(!isValidCloseCode(code), String(code));
  });
});
