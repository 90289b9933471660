// The package ships no typings; this is the part of the API its README documents that the tests use.
declare module 'websocket-driver' {
  import type { IncomingMessage } from 'node:http';
  import type { Duplex } from 'node:stream';

  interface DriverOptions {
    /** The largest incoming message, in bytes (default 2^26 - 1). */
    maxLength?: number;
    protocols?: string[];
  }

  interface Driver {
    /** Pipe the socket into it, and it into the socket. */
    readonly io: Duplex;
    /** Emits strings for text messages and Buffers for binary ones. */
    readonly messages: Duplex;
    start(): boolean;
    /** Adds a websocket-extensions plugin (permessage-deflate) before start(). */
    addExtension(extension: unknown): boolean;
    /** Sends a text message (compressed when an extension says so). */
    text(message: string): boolean;
    /** Sends a Close frame with this code and reason; 'close' follows the peer's answer. */
    close(reason?: string, code?: number): boolean;
    on(event: 'open', listener: () => void): this;
    on(event: 'message', listener: (event: { data: string | Buffer }) => void): this;
    on(event: 'close', listener: (event: { code: number; reason: string }) => void): this;
    on(event: 'error', listener: (event: { message: string }) => void): this;
  }

  export function isWebSocket(request: IncomingMessage): boolean;
  export function http(request: IncomingMessage, options?: DriverOptions): Driver;
}

// faye's RFC 7692 plugin for websocket-driver; ships no typings either.
declare module 'permessage-deflate' {
  interface DeflateOptions {
    level?: number;
    noContextTakeover?: boolean;
    requestNoContextTakeover?: boolean;
    maxWindowBits?: number;
    requestMaxWindowBits?: number;
  }
  interface Deflate {
    configure(options: DeflateOptions): Deflate;
  }
  const deflate: Deflate;
  export default deflate;
}
