import type { BufferPool } from '../core/buffer-pool.js';
import { chunkToGelf, type GelfOptions } from './gelf.js';
import { chunkToJson, type DateFormat } from './json.js';

export const outputFormats = ['msgpack', 'json', 'json_lines', 'json_stream', 'gelf'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export interface PayloadOptions {
  format: OutputFormat;
  /** `null` leaves the date key out (`json_date_key false`). */
  dateKey: string | null;
  dateFormat: DateFormat;
  escapeUnicode: boolean;
  convertNanToNull: boolean;
  gelf: GelfOptions;
}

export interface EncodedPayload {
  payload: Buffer;
  /** Records left out because they cannot be encoded in this format (GELF without a short message). */
  rejected: Array<{ index: number; reason: string }>;
  /** Whether the payload is UTF-8 text (a text frame) or binary (msgpack, a binary frame). */
  isText: boolean;
}

/**
 * Turns a chunk into the bytes an output sends, in one of Fluent Bit's output formats. With a `pool`,
 * JSON text is written into its buffers: give the payload back to it once it has been sent.
 */
export function encodePayload(chunk: Buffer, options: PayloadOptions, pool?: BufferPool): EncodedPayload {
  switch (options.format) {
    case 'msgpack':
      // The chunk already is the msgpack payload; outputs must not modify it.
      return { payload: chunk, rejected: [], isText: false };
    case 'gelf': {
      const { payload, rejected } = chunkToGelf(chunk, options.gelf);
      return { payload, rejected, isText: true };
    }
    default:
      return {
        payload: chunkToJson(chunk, {
          format: options.format,
          dateKey: options.dateKey,
          dateFormat: options.dateFormat,
          escapeUnicode: options.escapeUnicode,
          convertNanToNull: options.convertNanToNull,
        }, pool),
        rejected: [],
        isText: true,
      };
  }
}
