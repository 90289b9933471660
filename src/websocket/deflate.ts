/**
 * permessage-deflate (RFC 7692), client side: the offer, the check of the server's answer (§7), and the
 * compression contexts of one connection.
 *
 * Sending keeps one zlib deflate stream per connection, created on the first compressed message and closed
 * with the connection: with context takeover (the default) each message may refer back to the ones before,
 * which is where short, repetitive log lines gain most. Node has no synchronous API for a deflate context
 * that outlives one call, so compression is asynchronous; the sender keeps frames in order around it.
 *
 * Receiving is synchronous, inside the frame reader: a whole message is inflated at once with a bound on its
 * inflated size (a decompression bomb fails with 1009 after at most that many bytes). The server's context
 * is carried over as the last 32 KiB of inflated output, given to the next message's inflater as its preset
 * dictionary: the same window bytes zlib would have kept, without a zlib context held between messages.
 */
import { constants as zlibConstants, createDeflateRaw, inflateRawSync, type DeflateRaw } from 'node:zlib';
import { WsbitError } from '../base/errors.js';
import { HandshakeError } from './handshake.js';

export const EXTENSION_NAME = 'permessage-deflate';
/** §7.1.2: window bits are 8 to 15; zlib cannot compress with a 256-byte raw window, so we offer 9 to 15. */
export const MIN_CLIENT_WINDOW_BITS = 9;
export const MAX_WINDOW_BITS = 15;
/** §7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff, which the sender strips and the receiver adds back. */
const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MAX_WINDOW_BYTES = 1 << MAX_WINDOW_BITS;

/** What we offer (the websocket output's `compress.*` keys). */
export interface DeflateOffer {
  /** zlib level, 1 (fastest) to 9. */
  level: number;
  /** Messages shorter than this are sent uncompressed (RSV1 clear). */
  threshold: number;
  /** Our `client_max_window_bits` offer, 9 to 15. */
  clientMaxWindowBits: number;
}

/** What the server's answer settled (§7.1). */
export interface DeflateAgreement {
  level: number;
  threshold: number;
  /** We must start every message with an empty context (§7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** The server will (§7.1.1.1); nothing for us to do but not keep its window. */
  serverNoContextTakeover: boolean;
  /** Our LZ77 window: the answer's value, or our offer's. */
  clientMaxWindowBits: number;
  /** The server's window, 15 when it did not say. */
  serverMaxWindowBits: number;
}

/** The `Sec-WebSocket-Extensions` value we send: one offer, our window limit with it (§7.1.2.2). */
export function formatDeflateOffer(offer: DeflateOffer): string {
  return `${EXTENSION_NAME}; client_max_window_bits=${offer.clientMaxWindowBits}`;
}

interface ExtensionElement {
  name: string;
  params: { name: string; value: string | true }[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function badExtension(message: string): HandshakeError {
  return new HandshakeError('WSBIT_HANDSHAKE_BAD_EXTENSION', message, 101);
}

/**
 * RFC 6455 §9.1: `extension *( ";" param )` separated by commas, a param `token [ "=" (token | quoted-string) ]`.
 * Every value of the header (it may be repeated) is one list.
 */
export function parseExtensionsHeader(values: readonly string[]): ExtensionElement[] {
  const text = values.join(',');
  const elements: ExtensionElement[] = [];
  let at = 0;
  const skipSpace = (): void => {
    while (text[at] === ' ' || text[at] === '\t') at++;
  };
  const token = (): string => {
    const start = at;
    while (at < text.length && TOKEN.test(text[at] as string)) at++;
    return text.slice(start, at);
  };
  const fail = (): HandshakeError => badExtension(`malformed Sec-WebSocket-Extensions header ${JSON.stringify(text.slice(0, 120))}`);
  while (at < text.length) {
    skipSpace();
    if (text[at] === ',') {
      at++;
      continue;
    }
    const name = token();
    if (name === '') throw fail();
    const element: ExtensionElement = { name: name.toLowerCase(), params: [] };
    elements.push(element);
    skipSpace();
    while (text[at] === ';') {
      at++;
      skipSpace();
      const param = token();
      if (param === '') throw fail();
      skipSpace();
      let value: string | true = true;
      if (text[at] === '=') {
        at++;
        skipSpace();
        if (text[at] === '"') {
          const close = text.indexOf('"', at + 1);
          if (close === -1) throw fail();
          value = text.slice(at + 1, close);
          at = close + 1;
        } else {
          value = token();
        }
        // §9.1: a quoted value must still be a token once unquoted.
        if (!TOKEN.test(value)) throw fail();
        skipSpace();
      }
      element.params.push({ name: param.toLowerCase(), value });
    }
    if (at < text.length && text[at] !== ',') throw fail();
  }
  return elements;
}

/** §7.1.2: a window-bits value is 1*DIGIT within 8..15 (no leading zero, no sign). */
function windowBits(name: string, value: string | true, min: number, max: number): number {
  if (value === true || !/^[1-9][0-9]?$/.test(value) || Number(value) < min || Number(value) > max) {
    const shown = value === true ? 'no value' : JSON.stringify(value);
    throw badExtension(`server's permessage-deflate ${name} is ${shown}; it must be a number from ${min} to ${max}`);
  }
  return Number(value);
}

/**
 * The server's answer (§7): null when it declined (no extension), our agreement when it accepted; anything
 * else (an extension we did not offer, a duplicate, unknown or out-of-range parameter) fails the handshake.
 */
export function negotiateDeflate(headerValues: readonly string[], offer: DeflateOffer | undefined): DeflateAgreement | null {
  const elements = parseExtensionsHeader(headerValues);
  if (elements.length === 0) return null;
  if (offer === undefined) {
    throw badExtension(`server chose extensions ${JSON.stringify(elements.map((e) => e.name).join(', '))} that were not requested`);
  }
  const [first] = elements;
  if (elements.length > 1 || first === undefined || first.name !== EXTENSION_NAME) {
    throw badExtension(`server chose extensions ${JSON.stringify(elements.map((e) => e.name).join(', '))}; only ${EXTENSION_NAME} was offered, once`);
  }
  const agreement: DeflateAgreement = {
    level: offer.level,
    threshold: offer.threshold,
    clientNoContextTakeover: false,
    serverNoContextTakeover: false,
    clientMaxWindowBits: offer.clientMaxWindowBits,
    serverMaxWindowBits: MAX_WINDOW_BITS,
  };
  const seen = new Set<string>();
  for (const { name, value } of first.params) {
    // §7.1: "MUST NOT include more than one instance of each extension parameter".
    if (seen.has(name)) throw badExtension(`server's permessage-deflate answer repeats ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw badExtension(`server's permessage-deflate ${name} has a value (${JSON.stringify(value)}); it takes none`);
        if (name === 'server_no_context_takeover') agreement.serverNoContextTakeover = true;
        else agreement.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        agreement.serverMaxWindowBits = windowBits(name, value, 8, MAX_WINDOW_BITS);
        break;
      case 'client_max_window_bits':
        // §7.1.2.2: at most what we offered. 8 is legal on the wire, but zlib cannot deflate with it.
        agreement.clientMaxWindowBits = windowBits(name, value, MIN_CLIENT_WINDOW_BITS, offer.clientMaxWindowBits);
        break;
      default:
        throw badExtension(`server's permessage-deflate answer has unknown parameter ${JSON.stringify(name)}`);
    }
  }
  return agreement;
}

/** A compression the connection ended under. */
export class DeflateClosedError extends WsbitError {
  constructor() {
    super('WSBIT_DEFLATE_CLOSED', 'the compression context was closed with its connection');
  }
}

/** The sending side's context: compresses one message at a time (the sender never overlaps calls). */
export class MessageDeflater {
  readonly #agreement: DeflateAgreement;
  #stream: DeflateRaw | null = null;
  #output: Buffer[] = [];
  #outputBytes = 0;
  #pending: { reject: (error: WsbitError) => void } | null = null;
  #closed = false;

  constructor(agreement: DeflateAgreement) {
    this.#agreement = agreement;
  }

  /** The compressed payload of one message (final tail stripped, §7.2.1), to be sent with RSV1 set. */
  compress(parts: readonly Uint8Array[]): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new DeflateClosedError());
    const stream = (this.#stream ??= this.#create());
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending = { reject };
      for (const part of parts) stream.write(part);
      // zlib pushes a flush's output ('data') before it calls the flush back, as `ws` relies on too.
      stream.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        if (this.#stream !== stream || this.#pending === null) return;
        this.#pending = null;
        const output = Buffer.concat(this.#output, this.#outputBytes);
        this.#output = [];
        this.#outputBytes = 0;
        // §7.1.1.2: without context takeover each message starts from an empty window.
        if (this.#agreement.clientNoContextTakeover) stream.reset();
        resolve(output.subarray(0, Math.max(0, output.length - SYNC_FLUSH_TAIL.length)));
      });
    });
  }

  /** Frees the zlib context; a compression under way is rejected. */
  close(): void {
    this.#closed = true;
    const stream = this.#stream;
    this.#stream = null;
    this.#output = [];
    this.#outputBytes = 0;
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(new DeflateClosedError());
    stream?.close();
  }

  #create(): DeflateRaw {
    const stream = createDeflateRaw({ level: this.#agreement.level, windowBits: this.#agreement.clientMaxWindowBits, memLevel: 8 });
    stream.on('data', (chunk: Buffer) => {
      this.#output.push(chunk);
      this.#outputBytes += chunk.length;
    });
    // A zlib error here would be a bug in our use of it: the compression fails, and with it the connection.
    stream.on('error', (error: Error) => {
      const pending = this.#pending;
      this.#pending = null;
      pending?.reject(new WsbitError('WSBIT_DEFLATE_FAILED', `compression failed: ${error.message}`, { cause: error }));
    });
    return stream;
  }
}

/** Why a compressed message from the server could not be inflated. */
export class InflateError extends WsbitError {
  readonly tooBig: boolean;

  constructor(tooBig: boolean, message: string, cause: unknown) {
    super(tooBig ? 'WSBIT_WS_MESSAGE_TOO_BIG' : 'WSBIT_WS_BAD_COMPRESSED_DATA', message, { cause });
    this.tooBig = tooBig;
  }
}

/** The receiving side's context: the server's window carried from message to message. */
export class MessageInflater {
  readonly #agreement: DeflateAgreement;
  /** The last inflated bytes, up to the server's window; none until a message arrives or when the server resets. */
  #window: Buffer | null = null;

  constructor(agreement: DeflateAgreement) {
    this.#agreement = agreement;
  }

  /** One whole message's payload (all fragments, joined); throws InflateError past `maxBytes` or on bad data. */
  inflate(compressed: Buffer, maxBytes: number): Buffer {
    let output: Buffer;
    try {
      output = inflateRawSync(Buffer.concat([compressed, SYNC_FLUSH_TAIL]), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        windowBits: MAX_WINDOW_BITS,
        maxOutputLength: Math.max(1, maxBytes),
        ...(this.#window !== null ? { dictionary: this.#window } : {}),
      });
    } catch (error) {
      const tooBig = (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new InflateError(
        tooBig,
        tooBig ? `compressed message inflates past the ${maxBytes}-byte limit` : `compressed message is not valid deflate data: ${(error as Error).message}`,
        error,
      );
    }
    if (!this.#agreement.serverNoContextTakeover) this.#keepWindow(output);
    return output;
  }

  #keepWindow(output: Buffer): void {
    const size = Math.min(MAX_WINDOW_BYTES, 1 << this.#agreement.serverMaxWindowBits);
    if (output.length >= size) {
      this.#window = Buffer.from(output.subarray(output.length - size));
      return;
    }
    const previous = this.#window ?? Buffer.alloc(0);
    const joined = Buffer.concat([previous, output]);
    this.#window = joined.length > size ? Buffer.from(joined.subarray(joined.length - size)) : joined;
  }
}
