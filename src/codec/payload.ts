/**
 * The bytes an output sends for a chunk in one of Fluent Bit's payload formats (`format msgpack`, `json`,
 * `json_lines`, `json_stream`, `gelf`; and out_file's `plain`, `csv`, `ltsv`, `template` for the
 * websocket output), with the records it had to leave out.
 */
import type { BufferPool } from '../base/buffer-pool.js';
import { forEachDeliverableRecord, forEachEvent, isGroupMarker, type RejectedRecord } from './event.js';
import { chunkToGelf, type GelfOptions } from './gelf.js';
import { chunkToJson, type JsonFormat, type JsonOptions } from './json.js';
import type { DateFormat } from './json-numbers.js';
import { chunkToText, defaultTextOptions, textFormats, type TextFormat, type TextOptions } from './text.js';

export const outputFormats = ['msgpack', 'json', 'json_lines', 'json_stream', 'gelf'] as const;
export type OutputFormat = (typeof outputFormats)[number];
/** Every format, Fluent Bit's file output's text formats included (the websocket output takes them all). */
export const payloadFormats = [...outputFormats, ...textFormats] as const;
export type PayloadFormat = OutputFormat | TextFormat;

export interface PayloadOptions<Format extends PayloadFormat = PayloadFormat> {
  format: Format;
  /** `null` leaves the date key out (`json_date_key false`). */
  dateKey: string | null;
  dateFormat: DateFormat;
  escapeUnicode: boolean;
  convertNanToNull: boolean;
  gelf: GelfOptions;
  /** The text formats' keys (template, delimiters, csv header); Fluent Bit's defaults when absent. */
  text?: TextOptions;
}

export interface EncodedPayload {
  payload: Buffer;
  /**
   * Records left out because they cannot be encoded (nested deeper than MAX_NESTING_DEPTH; in GELF,
   * without a short message): the rest of the chunk is sent, so a poison record costs only itself.
   */
  rejected: RejectedRecord[];
  /** Whether the payload is UTF-8 text (a text frame) or binary (msgpack, a binary frame). */
  isText: boolean;
  /** Text formats: where each record's line ends (after its newline), for one message per record. */
  lineEnds?: number[];
}

/**
 * Turns a chunk into the bytes an output sends, in one of Fluent Bit's output formats. With a `pool`,
 * JSON text is written into its buffers: give the payload back to it once it has been sent.
 */
export function encodePayload(chunk: Buffer, options: PayloadOptions, pool?: BufferPool): EncodedPayload {
  switch (options.format) {
    case 'msgpack':
      return { ...withoutTooDeep(chunk), isText: false };
    case 'plain':
    case 'csv':
    case 'ltsv':
    case 'template': {
      const text = { ...defaultTextOptions, ...options.text, escapeUnicode: options.escapeUnicode, convertNanToNull: options.convertNanToNull };
      return { ...chunkToText(chunk, options.format, text, pool), isText: true };
    }
    case 'gelf': {
      const { payload, rejected } = chunkToGelf(chunk, options.gelf);
      return { payload, rejected, isText: true };
    }
    default: {
      const rejected: RejectedRecord[] = [];
      const payload = chunkToJson(chunk, jsonOptionsOf({ ...options, format: options.format }), pool, rejected);
      return { payload, rejected, isText: true };
    }
  }
}

/** The JSON encoder's options for a payload in one of the JSON formats. */
export function jsonOptionsOf(options: PayloadOptions<JsonFormat>): JsonOptions {
  return {
    format: options.format,
    dateKey: options.dateKey,
    dateFormat: options.dateFormat,
    escapeUnicode: options.escapeUnicode,
    convertNanToNull: options.convertNanToNull,
  };
}

/**
 * The chunk is already the msgpack payload, and is sent as it is (outputs must not modify it) unless a
 * record in it nests past the limit: a receiver that checks the limit (wsbit's websocket input) would
 * refuse the whole message, so that record is left out of a copy.
 */
export function withoutTooDeep(chunk: Buffer): { payload: Buffer; rejected: RejectedRecord[] } {
  const rejected: RejectedRecord[] = [];
  forEachDeliverableRecord(chunk, rejected, keepAsItIs);
  if (rejected.length === 0) return { payload: chunk, rejected };
  return { payload: withoutRecords(chunk, rejected), rejected };
}

const keepAsItIs = (): null => null;

/** A copy of the chunk without the `rejected` records (in index order); group markers stay. */
function withoutRecords(chunk: Buffer, rejected: readonly RejectedRecord[]): Buffer {
  const kept: Buffer[] = [];
  let next = 0;
  let recordIndex = 0;
  forEachEvent(chunk, (ev) => {
    const isRecord = !isGroupMarker(ev);
    if (isRecord && rejected[next]?.index === recordIndex) next++;
    else kept.push(chunk.subarray(ev.start, ev.end));
    if (isRecord) recordIndex++;
  });
  return Buffer.concat(kept);
}
