import type { ResolvedConfig } from '../../../config/schema.js';
import type { Parser } from '../../../parsers/types.js';
import type { ParserRegistry } from '../../../pipeline/parser-registry.js';
import type { tcpInputSchema } from './schema.js';
import { unescapeSeparator } from '../separator.js';

/** What the tcp input runs with, derived from its configuration. */
export interface TcpInputOptions {
  listen: string;
  port: number;
  format: 'json' | 'none';
  /** Turns each line into a record (format none). */
  parser: Parser | null;
  /** Ends a record with format none. */
  separator: Buffer;
  /** Most bytes of an unfinished message a connection may hold before it is closed. */
  bufferLimitBytes: number;
  /** source_address_key: the key under which JSON records get `tcp://ADDRESS:PORT` (Fluent Bit adds none to lines). */
  sourceAddressKey: string | null;
}

export function tcpInputOptions(config: ResolvedConfig<typeof tcpInputSchema>, instance: string, parsers: ParserRegistry): TcpInputOptions {
  // Fluent Bit: a Parser forces format none, and an unknown parser fails start-up.
  const parser = config.parser === null ? null : parsers.require(config.parser, instance);
  return {
    listen: config.listen,
    port: config.port,
    format: parser === null ? config.format : 'none',
    parser,
    separator: Buffer.from(unescapeSeparator(config.separator)),
    bufferLimitBytes: (config.buffer_size ?? config.chunk_size) * 1024,
    sourceAddressKey: config.source_address_key,
  };
}
