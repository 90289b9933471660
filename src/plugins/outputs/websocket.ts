import { errorMessage } from '../../base/errors.js';
import { encodeMessages } from '../../codec/messages.js';
import { Opcode } from '../../websocket/frame.js';
import { defineOutput } from '../../pipeline/contracts.js';
import { outputBufferPool } from './buffer-pools.js';
import { reportRejectedRecords } from './rejected.js';
import { WebSocketDelivery } from './websocket/delivery.js';
import { fragmentedPayload } from './websocket/fragments.js';
import { websocketOutputOptions } from './websocket/options.js';
import { websocketOutputManifest } from './websocket/schema.js';

/**
 * The WebSocket client output: Fluent Bit's `websocket` keys and payloads, with the defects listed
 * in SPEC part A fixed. One message per chunk (or per record, `message_mode record`), binary for msgpack
 * and text for the others.
 */
export const websocketOutput = defineOutput({
  ...websocketOutputManifest,
  create(context) {
    const { telemetry } = context;
    const options = websocketOutputOptions(context.config, context);
    const delivery = new WebSocketDelivery(options, context);
    const payloadPool = outputBufferPool(context.config);
    // A chunk that cannot be read is not going to become readable on a retry.
    const cannotEncode = (chunkId: string, error: unknown): 'error' => {
      telemetry.logger.error(`[out_ws] error formatting ${options.payload.format} payload for chunk '${chunkId}': ${errorMessage(error)}`);
      return 'error';
    };
    return {
      // The link's reconnect loop calls notifyReady() the moment a handshake succeeds again.
      signalsReady: true,
      async start() {
        telemetry.logger.info(`target ${delivery.description}, format ${options.payload.format}, message_mode ${options.messages.mode}, confirm_delivery ${options.confirmDelivery ? 'on' : 'off'}`);
      },
      async flush(chunk) {
        let encoded;
        try {
          const fragmenting = options.fragmentBytes > 0 && delivery.sendsFragmentedMessages;
          encoded =
            (fragmenting ? fragmentedPayload(chunk.data, options.payload, options.fragmentBytes, payloadPool) : null) ??
            encodeMessages(chunk.data, options.payload, options.messages, payloadPool);
        } catch (error) {
          return cannotEncode(chunk.id, error);
        }
        const opcode = encoded.isText ? Opcode.Text : Opcode.Binary;
        if ('message' in encoded) {
          const fragmented = encoded;
          try {
            const result = await delivery.deliver(opcode, [fragmented.message], chunk.records, chunk.id);
            // A piece that could not be made abandoned the message (and its connection): retrying cannot help.
            if (fragmented.failure() !== null) return cannotEncode(chunk.id, fragmented.failure());
            if (result === 'ok') reportRejectedRecords(telemetry, chunk, fragmented.rejected);
            return result;
          } finally {
            fragmented.release();
          }
        }
        const whole = encoded;
        try {
          // JSON is a copy made for this flush, so it may be masked where it lies; msgpack is the chunk itself.
          const ownsPayload = whole.payload.buffer !== chunk.data.buffer;
          const records = chunk.records - whole.rejected.length;
          const result = whole.messages.length === 0 ? 'ok' : await delivery.deliver(opcode, whole.messages, records, chunk.id, ownsPayload);
          // Reported once the rest is delivered: a retried chunk would otherwise count them on every attempt.
          if (result === 'ok') reportRejectedRecords(telemetry, chunk, whole.rejected);
          return result;
        } finally {
          // The socket is done with the text (or a masked copy of it), so it can serve the next chunk.
          payloadPool.give(whole.payload);
        }
      },
      failureReason: () => delivery.failureReason(),
      stop: (graceful) => delivery.stop(graceful),
    };
  },
});
