/**
 * The WebSocket messages an output sends for a chunk: the whole payload as one message (`message_mode
 * chunk`, as Fluent Bit does), or one message per record (`message_mode record`, as fluent-plugin-websocket
 * and Vector do, for endpoints that expect one event per message).
 */
import type { BufferPool } from '../base/buffer-pool.js';
import { forEachEvent, isGroupMarker } from './event.js';
import { encodePayload, type EncodedPayload, type PayloadOptions } from './payload.js';

export const messageModes = ['chunk', 'record'] as const;
export type MessageMode = (typeof messageModes)[number];

export interface MessageOptions {
  mode: MessageMode;
  /** In record mode, keep the newline that ends each line of a line format (`message_newline on`). */
  newline: boolean;
}

export interface EncodedMessages extends EncodedPayload {
  /** The messages, views of `payload` in order: give `payload` back to the pool once all are sent. */
  messages: Buffer[];
}

/**
 * Encodes a chunk and cuts it into messages. In record mode each record is encoded as the chunk mode's
 * line formats write it, and the lines are cut apart: `json`, `json_lines` and `json_stream` all send one
 * JSON object per message (JSON escapes every newline inside a string, so a 0x0a byte only ends a
 * record), `gelf` one GELF object, `msgpack` one event exactly as the chunk holds it (group markers are
 * not records and are not sent); the text formats one line (a csv header is a message of its own).
 */
export function encodeMessages(chunk: Buffer, payload: PayloadOptions, options: MessageOptions, pool?: BufferPool): EncodedMessages {
  if (options.mode === 'chunk') {
    const encoded = encodePayload(chunk, payload, pool);
    return { ...encoded, messages: encoded.payload.length === 0 ? [] : [encoded.payload] };
  }
  switch (payload.format) {
    case 'msgpack': {
      const encoded = encodePayload(chunk, payload, pool);
      const messages: Buffer[] = [];
      const bytes = encoded.payload;
      forEachEvent(bytes, (ev) => {
        if (!isGroupMarker(ev)) messages.push(bytes.subarray(ev.start, ev.end));
      });
      return { ...encoded, messages };
    }
    case 'plain':
    case 'csv':
    case 'ltsv':
    case 'template': {
      // A csv field or a raw string may hold a newline: the encoder says where each line ends.
      const encoded = encodePayload(chunk, payload, pool);
      const messages: Buffer[] = [];
      let start = 0;
      for (const end of encoded.lineEnds ?? []) {
        messages.push(encoded.payload.subarray(start, options.newline ? end : end - 1));
        start = end;
      }
      return { ...encoded, messages };
    }
    case 'gelf': {
      const encoded = encodePayload(chunk, payload, pool);
      return { ...encoded, messages: cutLines(encoded.payload, options.newline) };
    }
    default: {
      const encoded = encodePayload(chunk, { ...payload, format: 'json_lines' }, pool);
      return { ...encoded, messages: cutLines(encoded.payload, options.newline) };
    }
  }
}

/** The newline-ended lines of `payload`, as views, with or without their newline. */
function cutLines(payload: Buffer, keepNewline: boolean): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const newline = payload.indexOf(0x0a, start);
    if (newline < 0) break;
    lines.push(payload.subarray(start, keepNewline ? newline + 1 : newline));
    start = newline + 1;
  }
  return lines;
}
