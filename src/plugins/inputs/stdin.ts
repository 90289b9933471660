import { eventTimeNow } from '../../base/record.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineInput } from '../../pipeline/contracts.js';
import { appendJsonStreamEvents, type SkippedBytes } from './json-stream.js';
import { quoteUntrusted } from '../../base/logger.js';
import { writeParsedLine } from './parsed-line.js';
import { stdinManifest } from './stdin/schema.js';

/**
 * Fluent Bit's `stdin` input: a stream of JSON values. An object becomes a record stamped now; an
 * array `[time, {record}]` (Fluent's event format) keeps its own time; anything else is rejected.
 */
export const stdinInput = defineInput({
  ...stdinManifest,
  create(context) {
    const { telemetry } = context;
    // An unknown parser fails start-up, naming the known ones.
    const parser = context.config.parser === null ? null : context.parsers.require(context.config.parser, context.instance);
    const stream = process.stdin;
    const writer = new MsgpackWriter(64 * 1024);
    const scratch = new MsgpackWriter(1024);
    let pending: Buffer = Buffer.alloc(0);

    const reject = (reason: string): void =>
      telemetry.event('warn', `invalid record found, it's not a JSON map or array: ${reason}`, 'wsbit_input_rejected_records_total');

    const skip = (skipped: SkippedBytes): void =>
      telemetry.event(
        'warn',
        `invalid JSON (${skipped.reason}), skipped ${skipped.bytes.length} bytes up to the next newline: ${quoteUntrusted(skipped.bytes)}`,
        'wsbit_input_rejected_records_total',
      );

    /** With a parser, each line (a final CR dropped) goes through it; the time is now unless it gives one. */
    const consumeLines = (atEnd: boolean): void => {
      if (parser === null) return;
      const time = eventTimeNow();
      writer.reset();
      let records = 0;
      let offset = 0;
      for (;;) {
        let end = pending.indexOf(0x0a, offset);
        const last = end < 0;
        if (last && !(atEnd && offset < pending.length)) break;
        if (last) end = pending.length;
        const lineEnd = end > offset && pending[end - 1] === 0x0d ? end - 1 : end;
        if (lineEnd > offset && writeParsedLine(writer, parser, pending.subarray(offset, lineEnd), time, telemetry)) records++;
        offset = end + 1;
      }
      pending = offset >= pending.length ? Buffer.alloc(0) : pending.subarray(offset);
      if (records > 0) context.emit(writer.view(), records);
    };

    const consume = (): void => {
      if (parser !== null) {
        consumeLines(false);
        return;
      }
      writer.reset();
      const { consumed, records } = appendJsonStreamEvents(pending, writer, scratch, eventTimeNow(), 'time-and-record', reject, skip);
      pending = consumed >= pending.length ? Buffer.alloc(0) : pending.subarray(consumed);
      if (records > 0) context.emit(writer.view(), records);
    };

    const onData = (data: Buffer): void => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      consume();
      if (pending.length > context.config.buffer_size) {
        telemetry.event('warn', `message exceeds buffer_size (${context.config.buffer_size} bytes), discarded`, 'wsbit_input_rejected_records_total');
        pending = Buffer.alloc(0);
      }
    };
    const onEnd = (): void => {
      if (parser !== null) consumeLines(true);
      if (parser === null && pending.length > 0 && pending.toString().trim() !== '') reject('input ended in the middle of a JSON message');
      pending = Buffer.alloc(0);
      telemetry.logger.debug('end of standard input');
    };

    return {
      async start() {
        stream.on('data', onData);
        stream.on('end', onEnd);
      },
      pause() {
        stream.pause();
      },
      resume() {
        stream.resume();
      },
      async stop() {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.pause();
      },
    };
  },
});
