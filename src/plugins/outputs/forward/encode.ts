/**
 * A chunk as one Forward protocol message (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1):
 *
 *   Forward                  [tag, [entry, ...], option?]
 *   PackedForward            [tag, <bin: entry entry ...>, option?]
 *   CompressedPackedForward  [tag, <bin: gzip(entry entry ...)>, {"compressed": "gzip", ...}]
 *
 * An entry is `[EventTime, record]`; `time_as_integer` writes whole seconds instead (Fluentd v0.12),
 * and `retain_metadata_in_forward_mode` keeps Fluent Bit's `[[time, metadata], record]`, which Fluent
 * Bit and wsbit read but Fluentd does not. The options map holds what Fluent Bit 5.1.1 sends
 * (`size`, `chunk`, `compressed`, `fluent_signal: 0`), recorded in test/fixtures/forward-output/.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { forEachEvent, isGroupMarker } from '../../../codec/event.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { ForwardMode } from './schema.js';

const gzip = promisify(zlib.gzip);

export interface ForwardEncodeOptions {
  tag: string;
  mode: ForwardMode;
  gzip: boolean;
  timeAsInteger: boolean;
  retainMetadata: boolean;
  /** Send the options map even when nothing needs it (`send_options`). */
  sendOptions: boolean;
  /** The `chunk` option, for `require_ack_response`; null without acks. */
  chunkId: string | null;
  /** `add_option`: more options, after Fluent Bit's own; any makes the options map go out. */
  extraOptions?: ReadonlyArray<{ name: string; value: string }>;
}

/** The entries of a chunk, in the requested layout, and how many there are. */
export function encodeEntries(chunk: Uint8Array, options: Pick<ForwardEncodeOptions, 'timeAsInteger' | 'retainMetadata'>): { entries: Buffer; count: number } {
  const writer = new MsgpackWriter(chunk.length + 64);
  let count = 0;
  forEachEvent(chunk, (event) => {
    if (isGroupMarker(event)) return;
    count++;
    writer.arrayHeader(2);
    if (options.retainMetadata) writer.arrayHeader(2);
    if (options.timeAsInteger) writer.int(event.sec);
    else writer.eventTime(event.sec, event.nsec);
    if (options.retainMetadata) writer.raw(chunk, event.metaStart, event.metaEnd);
    writer.raw(chunk, event.bodyStart, event.bodyEnd);
  });
  return { entries: writer.bytes(), count };
}

/** The whole message for one chunk. Gzip implies PackedForward (the protocol compresses only packed entries). */
export async function encodeForwardMessage(chunk: Uint8Array, options: ForwardEncodeOptions): Promise<{ message: Buffer; records: number }> {
  const { entries, count } = encodeEntries(chunk, options);
  const packed = options.gzip || options.mode === 'packed_forward';
  const body = options.gzip ? await gzip(entries) : entries;
  const extra = options.extraOptions ?? [];
  const withOptions = options.sendOptions || options.chunkId !== null || options.gzip || extra.length > 0;
  const writer = new MsgpackWriter(body.length + options.tag.length + 96);
  writer.arrayHeader(withOptions ? 3 : 2);
  writer.str(options.tag);
  if (packed) {
    writer.bin(body);
  } else {
    writer.arrayHeader(count);
    writer.raw(body);
  }
  if (withOptions) {
    writer.mapHeader(2 + (options.chunkId !== null ? 1 : 0) + (options.gzip ? 1 : 0) + extra.length);
    // In Fluent Bit's order: chunk, size, compressed, fluent_signal, then add_option's.
    if (options.chunkId !== null) {
      writer.str('chunk');
      writer.str(options.chunkId);
    }
    writer.str('size');
    writer.uint(count);
    if (options.gzip) {
      writer.str('compressed');
      writer.str('gzip');
    }
    // Fluent Bit marks the payload as logs (0); metrics and traces use other values.
    writer.str('fluent_signal');
    writer.uint(0);
    for (const { name, value } of extra) {
      writer.str(name);
      writer.str(value);
    }
  }
  return { message: writer.bytes(), records: count };
}
