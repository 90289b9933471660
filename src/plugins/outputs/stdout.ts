import { printChunkBytes } from '../../codec/print.js';
import { encodePayload } from '../../codec/payload.js';
import { defineOutput } from '../types.js';
import { formatKeys, payloadOptions } from './format-keys.js';

/** Fluent Bit's `stdout` output: prints each chunk, in its msgpack print style or a JSON format. */
export const stdoutOutput = defineOutput({
  kind: 'output',
  name: 'stdout',
  description: 'Prints events to STDOUT',
  schema: formatKeys('msgpack'),
  create(context) {
    const options = payloadOptions(context.config, context.service);
    const write = (text: string | Buffer): Promise<void> =>
      new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
    return {
      async flush(chunk) {
        if (options.format === 'msgpack') {
          // Bytes, not a string: invalid UTF-8 in a record is printed as it is, as Fluent Bit does.
          await write(printChunkBytes(chunk.data, chunk.tag));
          return 'ok';
        }
        const { payload, rejected } = encodePayload(chunk.data, options);
        for (const { index, reason } of rejected) {
          context.telemetry.event('warn', `record ${index} of chunk '${chunk.id}' not printed: ${reason}`, 'wsbit_output_rejected_records_total');
        }
        // Fluent Bit prints json and json_stream payloads followed by a newline; json_lines already ends with one.
        await write(options.format === 'json_lines' ? payload : Buffer.concat([payload, Buffer.from('\n')]));
        return 'ok';
      },
    };
  },
});
