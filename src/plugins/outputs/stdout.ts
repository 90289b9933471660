import { printChunkBytes } from '../../codec/print.js';
import { encodePayload } from '../../codec/payload.js';
import type { RejectedRecord } from '../../codec/event.js';
import { reportRejectedRecords } from './rejected.js';
import { defineOutput } from '../../pipeline/contracts.js';
import { payloadOptions } from './format-keys.js';
import { stdoutManifest } from './stdout/schema.js';

/** Fluent Bit's `stdout` output: prints each chunk, in its msgpack print style or a JSON format. */
export const stdoutOutput = defineOutput({
  ...stdoutManifest,
  create(context) {
    const options = payloadOptions(context.config, context.service);
    const write = (text: string | Buffer): Promise<void> =>
      new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
    return {
      async flush(chunk) {
        if (options.format === 'msgpack') {
          const rejected: RejectedRecord[] = [];
          // Bytes, not a string: invalid UTF-8 in a record is printed as it is, as Fluent Bit does.
          await write(printChunkBytes(chunk.data, chunk.tag, rejected));
          reportRejectedRecords(context.telemetry, chunk, rejected);
          return 'ok';
        }
        const { payload, rejected } = encodePayload(chunk.data, options);
        // Fluent Bit prints json and json_stream payloads followed by a newline; json_lines already ends with one.
        await write(options.format === 'json_lines' ? payload : Buffer.concat([payload, Buffer.from('\n')]));
        reportRejectedRecords(context.telemetry, chunk, rejected);
        return 'ok';
      },
    };
  },
});
