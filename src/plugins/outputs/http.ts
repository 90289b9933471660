import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { encodePayload } from '../../codec/payload.js';
import { errorMessage } from '../../base/errors.js';
import { defineOutput } from '../../pipeline/contracts.js';
import { outputBufferPool } from './buffer-pools.js';
import { HttpDelivery } from './http/delivery.js';
import { httpOutputOptions } from './http/options.js';
import { RecordRequestSender } from './http/record-requests.js';
import { httpOutputManifest } from './http/schema.js';

const gzip = promisify(zlib.gzip);

/**
 * Fluent Bit's `http` output on undici: one POST per chunk, in the output's format, to one host or
 * balanced over the nodes of an `upstream` file. Payloads are the websocket output's bytes for the
 * same format. Keep-alive connections are pooled per node (undici `Pool`, bounded).
 */
export const httpOutput = defineOutput({
  ...httpOutputManifest,
  create(context) {
    const { telemetry } = context;
    const options = httpOutputOptions(context.config, context);
    const delivery = new HttpDelivery(options, context);
    const { format } = options.payload;
    const payloadPool = outputBufferPool(context.config);
    const compress = async (body: Buffer): Promise<Buffer> => (options.gzip ? gzip(body) : body);
    const recordRequests = options.recordRequests === null ? null : new RecordRequestSender(options.recordRequests, delivery, context, compress);
    return {
      async start() {
        const connections = options.connectionsPerNode;
        const what = recordRequests === null ? `format ${format}` : 'a request per record (body_key)';
        telemetry.logger.info(`target ${delivery.description}, ${options.method} ${what}${options.gzip ? ', gzip' : ''}, up to ${connections} connection${connections === 1 ? '' : 's'} per node`);
      },
      async flush(chunk) {
        if (recordRequests !== null) return recordRequests.flush(chunk);
        let encoded;
        try {
          encoded = encodePayload(chunk.data, options.payload, payloadPool);
        } catch (error) {
          telemetry.logger.error(`error formatting ${format} payload for chunk '${chunk.id}': ${errorMessage(error)}`);
          return 'error';
        }
        for (const { index, reason } of encoded.rejected) {
          telemetry.event('warn', `record ${index} of chunk '${chunk.id}' left out: ${reason}`, 'wsbit_output_rejected_records_total');
        }
        try {
          if (encoded.payload.length === 0) return 'ok';
          return await delivery.deliver(await compress(encoded.payload), chunk.records - encoded.rejected.length, chunk.id, chunk.tag);
        } finally {
          payloadPool.give(encoded.payload);
        }
      },
      stop: (graceful) => delivery.stop(graceful),
    };
  },
});
