import { errorMessage } from '../../base/errors.js';
import { encodeMessages } from '../../codec/messages.js';
import { Opcode } from '../../websocket/frame.js';
import { defineOutput } from '../../pipeline/contracts.js';
import { outputBufferPool } from './buffer-pools.js';
import { reportRejectedRecords } from './rejected.js';
import { WebSocketDelivery } from './websocket/delivery.js';
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
    return {
      // The link's reconnect loop calls notifyReady() the moment a handshake succeeds again.
      signalsReady: true,
      async start() {
        telemetry.logger.info(`target ${delivery.description}, format ${options.payload.format}, message_mode ${options.messages.mode}, confirm_delivery ${options.confirmDelivery ? 'on' : 'off'}`);
      },
      async flush(chunk) {
        let encoded;
        try {
          encoded = encodeMessages(chunk.data, options.payload, options.messages, payloadPool);
        } catch (error) {
          // A chunk that cannot be read is not going to become readable on a retry.
          telemetry.logger.error(`[out_ws] error formatting ${options.payload.format} payload for chunk '${chunk.id}': ${errorMessage(error)}`);
          return 'error';
        }
        try {
          const opcode = encoded.isText ? Opcode.Text : Opcode.Binary;
          // JSON is a copy made for this flush, so it may be masked where it lies; msgpack is the chunk itself.
          const ownsPayload = encoded.payload.buffer !== chunk.data.buffer;
          const records = chunk.records - encoded.rejected.length;
          const result = encoded.messages.length === 0 ? 'ok' : await delivery.deliver(opcode, encoded.messages, records, chunk.id, ownsPayload);
          // Reported once the rest is delivered: a retried chunk would otherwise count them on every attempt.
          if (result === 'ok') reportRejectedRecords(telemetry, chunk, encoded.rejected);
          return result;
        } finally {
          // The socket is done with the text (or a masked copy of it), so it can serve the next chunk.
          payloadPool.give(encoded.payload);
        }
      },
      failureReason: () => delivery.failureReason(),
      stop: (graceful) => delivery.stop(graceful),
    };
  },
});
