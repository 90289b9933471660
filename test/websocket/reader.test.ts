import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Opcode, encodeCloseFrame, encodeFrame, encodePing, encodePong } from '../../src/websocket/frame.js';
import { FrameReader, WebSocketProtocolError, type ProtocolViolation, type ReaderEvent } from '../../src/websocket/reader.js';
import { feedReader } from './reader-support.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Events in a comparable shape (Buffers as hex). */
function plain(events: ReaderEvent[]): unknown[] {
  return events.map((event) => {
    switch (event.type) {
      case 'message':
        return { type: event.type, opcode: event.opcode, data: event.data.toString('hex') };
      case 'ping':
      case 'pong':
        return { type: event.type, data: event.data.toString('hex') };
      case 'close':
        return event;
    }
  });
}


const binary300 = Buffer.alloc(300);
for (let i = 0; i < binary300.length; i++) binary300[i] = i & 0xff;

/** Unmasked, as a server sends: every kind of frame, a fragmented message with a ping inside it (§5.4). */
function serverStream(): Buffer {
  return Buffer.concat([
    encodeFrame(Opcode.Text, Buffer.from('Hello'), { mask: false }),
    encodeFrame(Opcode.Text, Buffer.from('Hel'), { mask: false, fin: false }),
    encodePing(Buffer.from('in-between'), false),
    encodeFrame(Opcode.Continuation, Buffer.from(''), { mask: false, fin: false }),
    encodeFrame(Opcode.Continuation, Buffer.from('lo'), { mask: false }),
    encodeFrame(Opcode.Binary, binary300, { mask: false }),
    encodePong(Buffer.alloc(0), false),
    encodeFrame(Opcode.Binary, Buffer.alloc(0), { mask: false }),
    encodeFrame(Opcode.Text, Buffer.from('€uro'), { mask: false }),
    encodeCloseFrame(1001, 'going', false),
  ]);
}

const expectedEvents = [
  { type: 'message', opcode: Opcode.Text, data: Buffer.from('Hello').toString('hex') },
  { type: 'ping', data: Buffer.from('in-between').toString('hex') },
  { type: 'message', opcode: Opcode.Text, data: Buffer.from('Hello').toString('hex') },
  { type: 'message', opcode: Opcode.Binary, data: binary300.toString('hex') },
  { type: 'pong', data: '' },
  { type: 'message', opcode: Opcode.Binary, data: '' },
  { type: 'message', opcode: Opcode.Text, data: Buffer.from('€uro').toString('hex') },
  { type: 'close', code: 1001, reason: 'going' },
];

describe('FrameReader: any split of the input', () => {
  const stream = serverStream();

  it('decodes the stream in one piece', () => {
    const result = feedReader(new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 }), [stream]);
    assert.equal(result.error, undefined);
    assert.deepEqual(plain(result.events), expectedEvents);
  });

  it('decodes the stream split in two at every point', () => {
    for (let at = 0; at <= stream.length; at++) {
      const result = feedReader(new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 }), [stream.subarray(0, at), stream.subarray(at)]);
      assert.equal(result.error, undefined, `split at ${at}`);
      assert.deepEqual(plain(result.events), expectedEvents, `split at ${at}`);
    }
  });

  it('decodes the stream one byte at a time', () => {
    const pieces = [...stream].map((byte) => Buffer.from([byte]));
    const result = feedReader(new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 }), pieces);
    assert.deepEqual(plain(result.events), expectedEvents);
  });

  it('decodes masked client frames (server role) in every split, without touching the input', () => {
    const key = hex('01020304');
    const masked = Buffer.concat([
      encodeFrame(Opcode.Text, Buffer.from('Hel'), { mask: true, maskKey: key, fin: false }),
      encodePing(Buffer.from('p'), true, hex('a0b0c0d0')),
      encodeFrame(Opcode.Continuation, Buffer.from('lo'), { mask: true, maskKey: key }),
      encodeFrame(Opcode.Binary, binary300, { mask: true }),
    ]);
    const pristine = Buffer.from(masked);
    const expected = [
      { type: 'ping', data: Buffer.from('p').toString('hex') },
      { type: 'message', opcode: Opcode.Text, data: Buffer.from('Hello').toString('hex') },
      { type: 'message', opcode: Opcode.Binary, data: binary300.toString('hex') },
    ];
    for (let at = 0; at <= masked.length; at++) {
      const result = feedReader(new FrameReader({ role: 'server', maxMessageBytes: 1 << 20 }), [masked.subarray(0, at), masked.subarray(at)]);
      assert.deepEqual(plain(result.events), expected, `split at ${at}`);
    }
    assert.deepEqual(masked, pristine);
  });

  it('decodes a 64-bit-length frame fed one byte at a time', () => {
    const payload = Buffer.alloc(70_000, 0x5a);
    const frame = encodeFrame(Opcode.Binary, payload, { mask: false });
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 });
    const events: ReaderEvent[] = [];
    for (let i = 0; i < frame.length; i++) events.push(...reader.push(frame.subarray(i, i + 1)).events);
    assert.equal(events.length, 1);
    const event = events[0];
    assert.ok(event?.type === 'message');
    assert.deepEqual(event.data, payload);
  });

  it('hands out a frame inside one read as a view, without copying', () => {
    const frame = encodeFrame(Opcode.Binary, Buffer.alloc(1000, 1), { mask: false });
    const event = new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 }).push(frame).events[0];
    assert.ok(event?.type === 'message');
    assert.equal(event.data.buffer, frame.buffer);

    // Header in one read, whole payload in the next: still a view of the second read.
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 });
    assert.deepEqual(reader.push(frame.subarray(0, 4)).events, []);
    const payload = Buffer.from(frame.subarray(4));
    const second = reader.push(payload).events[0];
    assert.ok(second?.type === 'message');
    assert.equal(second.data.buffer, payload.buffer);
    assert.equal(second.data.byteOffset, payload.byteOffset);
  });

  it('ignores bytes after a close frame', () => {
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1024 });
    const result = reader.push(Buffer.concat([encodeCloseFrame(1000, '', false), hex('ff ff ff')]));
    assert.deepEqual(plain(result.events), [{ type: 'close', code: 1000, reason: '' }]);
    assert.equal(result.error, undefined);
    assert.ok(reader.closed);
    assert.deepEqual(reader.push(encodeFrame(Opcode.Text, Buffer.from('x'), { mask: false })).events, []);
  });

  it('reports a close frame without a body as code undefined', () => {
    const result = new FrameReader({ role: 'client', maxMessageBytes: 1024 }).push(hex('88 00'));
    assert.deepEqual(plain(result.events), [{ type: 'close', code: undefined, reason: '' }]);
  });
});

describe('FrameReader: protocol errors', () => {
  const cases: Array<{ name: string; bytes: Buffer; violation: ProtocolViolation; closeCode: number; code: string; role?: 'client' | 'server'; max?: number; validateUtf8?: boolean }> = [
    { name: 'RSV1 set', bytes: hex('c1 00'), violation: 'reserved-bits', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'RSV3 set', bytes: hex('91 00'), violation: 'reserved-bits', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'reserved data opcode 3', bytes: hex('83 00'), violation: 'unknown-opcode', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'reserved control opcode 0xB', bytes: hex('8b 00'), violation: 'unknown-opcode', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'ping of 126 bytes', bytes: Buffer.concat([hex('89 7e 00 7e'), Buffer.alloc(126)]), violation: 'control-too-long', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'fragmented ping', bytes: hex('09 00'), violation: 'control-fragmented', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'masked frame from a server', bytes: encodeFrame(Opcode.Text, Buffer.from('x'), { mask: true }), violation: 'masked-frame-from-server', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'unmasked frame from a client', bytes: hex('81 01 78'), violation: 'unmasked-frame-from-client', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL', role: 'server' },
    { name: 'continuation without a start', bytes: hex('80 01 78'), violation: 'continuation-without-start', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'new data frame inside a fragmented message', bytes: hex('01 01 78 81 01 78'), violation: 'data-frame-inside-fragmented-message', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: '64-bit length with the top bit set', bytes: hex('82 7f 80 00 00 00 00 00 00 01'), violation: 'length-top-bit-set', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'message over maxMessageBytes (announced)', bytes: hex('82 7e 01 00'), violation: 'message-too-big', closeCode: 1009, code: 'WSBIT_WS_MESSAGE_TOO_BIG', max: 255 },
    { name: 'fragmented message over maxMessageBytes', bytes: hex('02 03 61 62 63 80 03 64 65 66'), violation: 'message-too-big', closeCode: 1009, code: 'WSBIT_WS_MESSAGE_TOO_BIG', max: 5 },
    { name: 'huge 64-bit length', bytes: hex('82 7f 7f ff ff ff ff ff ff ff'), violation: 'message-too-big', closeCode: 1009, code: 'WSBIT_WS_MESSAGE_TOO_BIG' },
    { name: 'invalid UTF-8 text', bytes: hex('81 02 c3 28'), violation: 'invalid-utf8', closeCode: 1007, code: 'WSBIT_WS_INVALID_UTF8' },
    { name: 'invalid UTF-8 across fragments', bytes: hex('01 01 e2 00 01 82 80 01 ff'), violation: 'invalid-utf8', closeCode: 1007, code: 'WSBIT_WS_INVALID_UTF8' },
    { name: 'close body of 1 byte', bytes: hex('88 01 03'), violation: 'bad-close-payload', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'close code 1005 on the wire', bytes: hex('88 02 03 ed'), violation: 'bad-close-payload', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'close code 999', bytes: hex('88 02 03 e7'), violation: 'bad-close-payload', closeCode: 1002, code: 'WSBIT_WS_PROTOCOL' },
    { name: 'close reason not UTF-8', bytes: hex('88 04 03 e8 c3 28'), violation: 'invalid-utf8', closeCode: 1007, code: 'WSBIT_WS_INVALID_UTF8' },
    { name: 'close reason not UTF-8 even without text validation', bytes: hex('88 04 03 e8 ff fe'), violation: 'invalid-utf8', closeCode: 1007, code: 'WSBIT_WS_INVALID_UTF8', validateUtf8: false },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.closeCode}`, () => {
      // Also fed one byte at a time: the error must not depend on how bytes arrive.
      for (const pieces of [[c.bytes], [...c.bytes].map((b) => Buffer.from([b]))]) {
        const reader = new FrameReader({ role: c.role ?? 'client', maxMessageBytes: c.max ?? 1 << 20, ...(c.validateUtf8 !== undefined ? { validateUtf8: c.validateUtf8 } : {}) });
        const { error } = feedReader(reader, pieces);
        assert.ok(error instanceof WebSocketProtocolError, 'expected a protocol error');
        assert.equal(error.violation, c.violation);
        assert.equal(error.closeCode, c.closeCode);
        assert.equal(error.code, c.code);
        assert.equal(reader.error, error);
      }
    });
  }

  it('accepts invalid UTF-8 text when validation is off', () => {
    const result = new FrameReader({ role: 'client', maxMessageBytes: 1024, validateUtf8: false }).push(hex('81 02 c3 28'));
    assert.equal(result.error, undefined);
    assert.equal(result.events.length, 1);
  });

  it('returns events decoded before the error, then stays failed', () => {
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1024 });
    const result = reader.push(Buffer.concat([encodePing(Buffer.from('a'), false), hex('c1 00'), encodePing(Buffer.from('b'), false)]));
    assert.deepEqual(plain(result.events), [{ type: 'ping', data: '61' }]);
    assert.equal(result.error?.violation, 'reserved-bits');
    const after = reader.push(encodeFrame(Opcode.Text, Buffer.from('ok'), { mask: false }));
    assert.deepEqual(after, { events: [], error: undefined });
    assert.equal(reader.error, result.error);
  });

  it('a message exactly at maxMessageBytes is accepted', () => {
    const result = new FrameReader({ role: 'client', maxMessageBytes: 6 }).push(hex('02 03 61 62 63 80 03 64 65 66'));
    assert.equal(result.error, undefined);
    assert.deepEqual(plain(result.events), [{ type: 'message', opcode: Opcode.Binary, data: '616263646566' }]);
  });
});
