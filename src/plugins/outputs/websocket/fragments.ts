/**
 * A chunk's message made while it is sent (`fragment_size`): the JSON text a piece at a time, or the msgpack
 * chunk masked a piece at a time, in frames of about `fragmentBytes` (RFC 6455 §5.4 fragments). The whole
 * message is the bytes one frame would carry: a server reads the same message either way. For a 2 MB chunk
 * of 100 B records that is a 256 KB buffer instead of 3.4 MB of JSON text (or of masked msgpack) for the
 * life of the agent, megabytes of its peak memory (issue 23).
 */
import type { BufferPool } from '../../../base/buffer-pool.js';
import type { RejectedRecord } from '../../../codec/event.js';
import type { EncodedMessages } from '../../../codec/messages.js';
import { JsonPieces } from '../../../codec/json.js';
import { jsonOptionsOf, withoutTooDeep, type PayloadOptions } from '../../../codec/payload.js';
import type { FragmentedMessage } from '../../../websocket/sender.js';

export interface FragmentedPayload {
  message: FragmentedMessage;
  isText: boolean;
  /** Records left out so far; complete once the last piece has been made. */
  rejected: RejectedRecord[];
  /** Why a piece could not be made (the message was then abandoned), or null. */
  failure(): unknown;
  /** Gives the piece buffer back to the pool; call once the message is sent or abandoned. */
  release(): void;
}

/**
 * The chunk as a FragmentedMessage; or, when it fits in one fragment, encoded whole (one frame, exactly
 * as without fragments); or null for a format other than json, json_lines, json_stream and msgpack.
 * Makes the first piece at once, so that a chunk that cannot be encoded throws here, before anything is sent.
 */
export function fragmentedPayload(chunk: Buffer, options: PayloadOptions, fragmentBytes: number, pool: BufferPool): FragmentedPayload | EncodedMessages | null {
  switch (options.format) {
    case 'json':
    case 'json_lines':
    case 'json_stream': {
      const rejected: RejectedRecord[] = [];
      // Room for a piece and the record that takes it past the size (or for the whole text of a smaller
      // chunk, as chunkToJson sizes it), so that the buffer rarely grows.
      const sizeHint = Math.min(fragmentBytes + (fragmentBytes >> 2), chunk.length + (chunk.length >> 1) + 64);
      const pieces = new JsonPieces(chunk, jsonOptionsOf({ ...options, format: options.format }), sizeHint, pool, rejected);
      const first = pieces.next(fragmentBytes);
      if (pieces.done) return { payload: first, rejected, isText: true, messages: first.length === 0 ? [] : [first] };
      let pending: Buffer | null = first;
      let failure: unknown = null;
      return {
        isText: true,
        rejected,
        failure: () => failure,
        release: () => pool.give(pieces.buffer),
        message: {
          owned: true,
          next() {
            if (pending !== null) {
              const bytes = pending;
              pending = null;
              return { bytes, last: false };
            }
            try {
              const bytes = pieces.next(fragmentBytes);
              return { bytes, last: pieces.done };
            } catch (error) {
              failure = error;
              throw error;
            }
          },
        },
      };
    }
    case 'msgpack': {
      const { payload, rejected } = withoutTooDeep(chunk);
      if (payload.length <= fragmentBytes) return { payload, rejected, isText: false, messages: [payload] };
      let offset = 0;
      return {
        isText: false,
        rejected,
        failure: () => null,
        release: () => undefined,
        // Slices of the chunk, which outputs must not modify: the sender masks each into a frame of its own.
        message: {
          owned: false,
          next() {
            const bytes = payload.subarray(offset, offset + fragmentBytes);
            offset += bytes.length;
            return { bytes, last: offset >= payload.length };
          },
        },
      };
    }
    default:
      return null;
  }
}
