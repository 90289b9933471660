/**
 * permessage-deflate (RFC 7692) byte by byte: the §7.2.3 examples both ways, the negotiation of §7, and
 * the reader's rules for RSV1 (§6.1) and for inflated sizes.
 */
import assert from 'node:assert/strict';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import { describe, it } from 'node:test';
import {
  MessageDeflater,
  MessageInflater,
  formatDeflateOffer,
  negotiateDeflate,
  parseExtensionsHeader,
  type DeflateAgreement,
  type DeflateOffer,
} from '../../src/websocket/deflate.js';
import { HandshakeError } from '../../src/websocket/handshake.js';
import { Opcode, encodeFrame, maskDataFrameInPlace } from '../../src/websocket/frame.js';
import { FrameReader, WebSocketProtocolError, type ReaderEvent } from '../../src/websocket/reader.js';
import { feedReader } from './reader-support.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const OFFER: DeflateOffer = { level: 1, threshold: 0, clientMaxWindowBits: 15 };
const agreement = (overrides: Partial<DeflateAgreement> = {}): DeflateAgreement => ({
  level: 1,
  threshold: 0,
  clientNoContextTakeover: false,
  serverNoContextTakeover: false,
  clientMaxWindowBits: 15,
  serverMaxWindowBits: 15,
  ...overrides,
});

function clientReader(negotiated: DeflateAgreement | null, maxMessageBytes = 1024): FrameReader {
  return new FrameReader({ role: 'client', maxMessageBytes, ...(negotiated !== null ? { inflater: new MessageInflater(negotiated) } : {}) });
}

function read(reader: FrameReader, ...pieces: Buffer[]): { messages: string[]; events: ReaderEvent[]; error: WebSocketProtocolError | undefined } {
  const { events, error } = feedReader(reader, pieces);
  const messages = events.flatMap((event) => (event.type === 'message' ? [event.data.toString('utf8')] : []));
  return { messages, events, error };
}

describe('RFC 7692 §7.2.3 examples, as we send them', () => {
  it('§7.2.3.1: "Hello" compresses to f2 48 cd c9 c9 07 00, and its unmasked frame is c1 07 … (RSV1 set)', async () => {
    const deflater = new MessageDeflater(agreement());
    const payload = await deflater.compress([Buffer.from('Hello')]);
    deflater.close();
    assert.equal(payload.toString('hex'), 'f248cdc9c90700');
    assert.equal(encodeFrame(Opcode.Text, payload, { mask: false, compressed: true }).toString('hex'), 'c107f248cdc9c90700');
  });

  it('§7.2.3.2: with context takeover the second "Hello" is f2 00 11 00 00; without it, the same bytes again', async () => {
    const taking = new MessageDeflater(agreement());
    const first = await taking.compress([Buffer.from('Hello')]);
    const second = await taking.compress([Buffer.from('Hel'), Buffer.from('lo')]);
    taking.close();
    assert.deepEqual([first.toString('hex'), second.toString('hex')], ['f248cdc9c90700', 'f200110000']);
    const fresh = new MessageDeflater(agreement({ clientNoContextTakeover: true }));
    const again = [await fresh.compress([Buffer.from('Hello')]), await fresh.compress([Buffer.from('Hello')])];
    fresh.close();
    assert.deepEqual(again.map((b) => b.toString('hex')), ['f248cdc9c90700', 'f248cdc9c90700']);
  });

  it('masked in place, the header carries RSV1 and the mask, and unmasking gives the compressed bytes back', () => {
    const payload = hex('f248cdc9c90700');
    const key = hex('37fa213d');
    const header = maskDataFrameInPlace(Opcode.Text, payload, key, true);
    assert.equal(header.toString('hex'), 'c18737fa213d');
    assert.deepEqual(encodeFrame(Opcode.Text, hex('f248cdc9c90700'), { mask: true, maskKey: key, compressed: true }), Buffer.concat([header, payload]));
  });

  it('RSV1 is refused on a control frame and a continuation frame', () => {
    assert.throws(() => encodeFrame(Opcode.Ping, Buffer.alloc(0), { mask: true, compressed: true }), { code: 'WSBIT_WS_BAD_RSV1' });
    assert.throws(() => encodeFrame(Opcode.Continuation, Buffer.alloc(1), { mask: true, compressed: true }), { code: 'WSBIT_WS_BAD_RSV1' });
  });

  it('a closed deflater rejects, and so does a compression under way when it is closed', async () => {
    const deflater = new MessageDeflater(agreement());
    const pending = deflater.compress([Buffer.alloc(100_000, 'a')]);
    deflater.close();
    await assert.rejects(pending, { code: 'WSBIT_DEFLATE_CLOSED' });
    await assert.rejects(deflater.compress([Buffer.from('x')]), { code: 'WSBIT_DEFLATE_CLOSED' });
  });
});

describe('RFC 7692 §7.2.3 examples, as the reader receives them', () => {
  it('§7.2.3.1: one compressed frame, and the same split in two fragments (RSV1 on the first only)', () => {
    assert.deepEqual(read(clientReader(agreement()), hex('c107f248cdc9c90700')).messages, ['Hello']);
    assert.deepEqual(read(clientReader(agreement()), hex('4103f248cd'), hex('8004c9c90700')).messages, ['Hello']);
  });

  it('§7.2.3.2: the second message refers back to the first (context takeover)', () => {
    const result = read(clientReader(agreement()), hex('c107f248cdc9c90700'), hex('c105f200110000'));
    assert.deepEqual(result.messages, ['Hello', 'Hello']);
    // Without the first message's window the back-reference cannot be resolved.
    assert.equal(read(clientReader(agreement()), hex('c105f200110000')).error?.closeCode, 1007);
  });

  it('§7.2.3.3: a stored (uncompressed) deflate block', () => {
    assert.deepEqual(read(clientReader(agreement()), hex('c10b000500faff48656c6c6f00')).messages, ['Hello']);
  });

  it('§7.2.3.4: a block with BFINAL set; §7.2.3.5: two deflate blocks in one message', () => {
    assert.deepEqual(read(clientReader(agreement()), hex('c108f348cdc9c907000000')).messages, ['Hello']);
    assert.deepEqual(read(clientReader(agreement()), hex('c10df24805000000ffffcac9c90700')).messages, ['Hello']);
  });

  it('§7.2.3.6: an empty compressed message (a lone 00) is an empty message', () => {
    assert.deepEqual(read(clientReader(agreement()), hex('c10100')).messages, ['']);
  });

  it('a frame without RSV1 is passed through as it is, compression negotiated or not', () => {
    assert.deepEqual(read(clientReader(agreement()), hex('810548656c6c6f')).messages, ['Hello']);
  });
});

describe('the reader refuses what RFC 7692 forbids', () => {
  it('RSV1 on a ping closes with 1002', () => {
    const { error, events } = read(clientReader(agreement()), hex('c900'));
    assert.equal(events.length, 0);
    assert.equal(error?.closeCode, 1002);
    assert.equal(error?.violation, 'compressed-control-frame');
  });

  it('RSV1 on a continuation frame closes with 1002', () => {
    const { error } = read(clientReader(agreement()), hex('4103f248cd'), hex('c004c9c90700'));
    assert.equal(error?.closeCode, 1002);
    assert.equal(error?.violation, 'compressed-continuation');
  });

  it('RSV1 without a negotiated extension closes with 1002, and RSV2 even with one', () => {
    assert.equal(read(clientReader(null), hex('c107f248cdc9c90700')).error?.violation, 'reserved-bits');
    assert.equal(read(clientReader(agreement()), hex('a100')).error?.violation, 'reserved-bits');
  });

  it('a decompression bomb closes with 1009 once it inflates past the message limit', () => {
    const bomb = deflateRawSync(Buffer.alloc(10 * 1024 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(bomb.length < 64 * 1024, `the bomb is small (${bomb.length} bytes)`);
    const frame = encodeFrame(Opcode.Binary, bomb, { mask: false, compressed: true });
    const { error, messages } = read(clientReader(agreement(), 1024 * 1024), frame);
    assert.equal(messages.length, 0);
    assert.equal(error?.closeCode, 1009);
    assert.equal(error?.code, 'WSBIT_WS_MESSAGE_TOO_BIG');
    // Just under the limit it is a message.
    const fits = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.equal(read(clientReader(agreement(), 1024 * 1024), encodeFrame(Opcode.Binary, fits, { mask: false, compressed: true })).events.length, 1);
  });

  it('bytes that are not deflate data close with 1007', () => {
    const { error } = read(clientReader(agreement()), hex('c104ffffffff'));
    assert.equal(error?.closeCode, 1007);
    assert.equal(error?.code, 'WSBIT_WS_BAD_COMPRESSED_DATA');
  });

  it('text that inflates to invalid UTF-8 closes with 1007', () => {
    const bad = deflateRawSync(hex('c328'), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.equal(read(clientReader(agreement()), encodeFrame(Opcode.Text, bad, { mask: false, compressed: true })).error?.code, 'WSBIT_WS_INVALID_UTF8');
  });

  it('with server_no_context_takeover the server\'s window is not kept', () => {
    const reader = clientReader(agreement({ serverNoContextTakeover: true }));
    const { messages, error } = read(reader, hex('c107f248cdc9c90700'), hex('c105f200110000'));
    assert.deepEqual(messages, ['Hello']);
    assert.equal(error?.closeCode, 1007);
  });
});

describe('the offer and the server\'s answer (§7)', () => {
  const fails = (values: string[], pattern: RegExp, offer: DeflateOffer | null = OFFER): void => {
    assert.throws(
      () => negotiateDeflate(values, offer ?? undefined),
      (error: unknown) => error instanceof HandshakeError && error.code === 'WSBIT_HANDSHAKE_BAD_EXTENSION' && pattern.test(error.message),
      `${JSON.stringify(values)} should fail with ${pattern}`,
    );
  };

  it('offers client_max_window_bits with our value', () => {
    assert.equal(formatDeflateOffer({ ...OFFER, clientMaxWindowBits: 12 }), 'permessage-deflate; client_max_window_bits=12');
  });

  it('no answer is a declined offer; a bare accept keeps our window and both contexts', () => {
    assert.equal(negotiateDeflate([], OFFER), null);
    assert.deepEqual(negotiateDeflate(['permessage-deflate'], { ...OFFER, clientMaxWindowBits: 11 }), agreement({ clientMaxWindowBits: 11 }));
  });

  it('reads every parameter, in any case and spacing, quoted values included', () => {
    const got = negotiateDeflate(['Permessage-Deflate ; server_no_context_takeover;CLIENT_NO_CONTEXT_TAKEOVER; server_max_window_bits="10" ;client_max_window_bits=9'], OFFER);
    assert.deepEqual(got, agreement({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 }));
  });

  it('an answer when we offered nothing, or another extension, fails', () => {
    fails(['permessage-deflate'], /not requested/, null);
    fails(['x-webkit-deflate-frame'], /only permessage-deflate was offered/);
    fails(['permessage-deflate, permessage-deflate'], /only permessage-deflate was offered, once/);
  });

  it('duplicate, unknown, valued flags and out-of-range window bits fail', () => {
    fails(['permessage-deflate; server_no_context_takeover; server_no_context_takeover'], /repeats server_no_context_takeover/);
    fails(['permessage-deflate; client_max_window_bits=10', 'permessage-deflate'], /once/);
    fails(['permessage-deflate; mux=1'], /unknown parameter "mux"/);
    fails(['permessage-deflate; client_no_context_takeover=1'], /takes none/);
    fails(['permessage-deflate; server_max_window_bits=7'], /server_max_window_bits is "7"; it must be a number from 8 to 15/);
    fails(['permessage-deflate; server_max_window_bits=16'], /from 8 to 15/);
    fails(['permessage-deflate; server_max_window_bits'], /no value/);
    fails(['permessage-deflate; server_max_window_bits=010'], /"010"/);
    // More than we offered, and 8 (legal, but zlib cannot deflate with a 256-byte window).
    fails(['permessage-deflate; client_max_window_bits=13'], /from 9 to 12/, { ...OFFER, clientMaxWindowBits: 12 });
    fails(['permessage-deflate; client_max_window_bits=8'], /from 9 to 15/);
  });

  it('malformed header syntax fails', () => {
    for (const value of ['permessage-deflate;', 'permessage-deflate; a="b', 'permessage-deflate x', '; x', 'permessage-deflate; a="b c"']) {
      fails([value], /malformed Sec-WebSocket-Extensions/);
    }
    assert.deepEqual(parseExtensionsHeader(['a; b=1, c']), [
      { name: 'a', params: [{ name: 'b', value: '1' }] },
      { name: 'c', params: [] },
    ]);
  });
});
