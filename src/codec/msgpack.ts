/**
 * JS-value helpers on top of `@msgpack/msgpack`, for places that want objects rather than bytes (tests, the
 * forward input). Hot paths work on bytes instead (event.ts, json-scan.ts, json.ts).
 */
import { ExtensionCodec, decode } from '@msgpack/msgpack';
import { WsbitError } from '../base/errors.js';
import { forEachEvent } from './event.js';
import { MAX_NESTING_DEPTH } from './limits.js';
import { MsgpackWriter } from './msgpack-writer.js';

/** Fluent Bit's EventTime (msgpack ext type 0) as a JS value. */
export class EventTime {
  constructor(
    readonly sec: number,
    readonly nsec: number,
  ) {}
}

export const EVENT_TIME_EXT_TYPE = 0;

/** Decodes ext type 0 (8 bytes: sec u32 BE, nsec u32 BE) to EventTime and encodes EventTime back. */
export const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: EVENT_TIME_EXT_TYPE,
  encode: (value: unknown): Uint8Array | null => {
    if (!(value instanceof EventTime)) return null;
    const data = new Uint8Array(8);
    const view = new DataView(data.buffer);
    view.setUint32(0, value.sec >>> 0);
    view.setUint32(4, value.nsec >>> 0);
    return data;
  },
  decode: (data: Uint8Array): EventTime => {
    if (data.length !== 8) throw new WsbitError('WSBIT_CODEC_MALFORMED', `EventTime ext must hold 8 bytes, got ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new EventTime(view.getUint32(0), view.getUint32(4));
  },
});

const decodeOptions = { useBigInt64: true, extensionCodec } as const;

export interface DecodedEvent {
  sec: number;
  nsec: number;
  metadata: Record<string, unknown>;
  body: unknown;
}

/**
 * Decodes every event of a chunk (V1 or V2 layout) into JS values. 64-bit integers (cf/d3) become bigints;
 * duplicate keys collapse (last wins), which is why outputs never go through this.
 */
export function decodeEvents(chunk: Uint8Array): DecodedEvent[] {
  const events: DecodedEvent[] = [];
  forEachEvent(chunk, (ev) => {
    const metadata = ev.metaStart === ev.metaEnd ? {} : decode(chunk.subarray(ev.metaStart, ev.metaEnd), decodeOptions);
    events.push({
      sec: ev.sec,
      nsec: ev.nsec,
      metadata: metadata as Record<string, unknown>,
      body: decode(chunk.subarray(ev.bodyStart, ev.bodyEnd), decodeOptions),
    });
  });
  return events;
}

/**
 * Encodes a JS value the way the JSON scanner would encode its JSON text: integral numbers as ints, other
 * numbers as float64, bigints as ints, Uint8Array as bin, EventTime as ext 0, arrays, Maps and plain objects
 * (in insertion order). So `encodeBody({ a: 1, b: 0.5 })` equals `jsonTextToMsgpack('{"a":1,"b":0.5}')`.
 */
export function encodeBody(value: unknown, writer: MsgpackWriter = new MsgpackWriter(256)): Buffer {
  const start = writer.length;
  writeValue(writer, value, 0);
  return Buffer.from(writer.view().subarray(start));
}

function writeValue(writer: MsgpackWriter, value: unknown, depth: number): void {
  // A container at level L is written at depth L - 1: deeper values than a record may hold are refused.
  if (depth > MAX_NESTING_DEPTH) throw new WsbitError('WSBIT_CODEC_UNSUPPORTED', `value nested deeper than ${MAX_NESTING_DEPTH} levels`);
  if (value === null || value === undefined) return writer.nil();
  switch (typeof value) {
    case 'boolean':
      return writer.bool(value);
    case 'number':
      return Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 64 ? writer.int(value) : writer.float64(value);
    case 'bigint':
      return writer.int(value);
    case 'string':
      return writer.str(value);
    default:
      break;
  }
  if (value instanceof EventTime) return writer.eventTime(value.sec, value.nsec);
  if (value instanceof Uint8Array) return writer.bin(value);
  if (Array.isArray(value)) {
    writer.arrayHeader(value.length);
    for (const item of value) writeValue(writer, item, depth + 1);
    return;
  }
  const entries = value instanceof Map ? [...(value as Map<unknown, unknown>).entries()] : typeof value === 'object' ? Object.entries(value) : null;
  if (entries === null) throw new WsbitError('WSBIT_CODEC_UNSUPPORTED', `cannot encode a ${typeof value} as msgpack`);
  writer.mapHeader(entries.length);
  for (const [key, item] of entries) {
    writeValue(writer, key, depth + 1);
    writeValue(writer, item, depth + 1);
  }
}
