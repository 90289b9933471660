import { ConfigError } from '../../base/errors.js';
import { eventTimeNow, type EventTime } from '../../base/record.js';
import type { TimerHandle } from '../../base/clock.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { writeEvent } from '../../codec/event.js';
import { jsonTextToMsgpack, scanJsonValue, skipJsonWhitespace } from '../../codec/json-scan.js';
import { defineInput } from '../../pipeline/contracts.js';
import { dummyManifest } from './dummy/schema.js';

function parseJsonObject(text: string, key: string, instance: string): Buffer {
  const parsed = jsonTextToMsgpack(text);
  // A msgpack map starts with fixmap (0x80-0x8f), map16 (0xde) or map32 (0xdf).
  const first = parsed[0] ?? 0;
  if (!((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf)) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value for '${key}': expected a JSON object, got ${text}`);
  }
  return parsed;
}

/**
 * The `dummy` key's objects: Fluent Bit takes several written one after another (`{"a":1}{"b":2}`,
 * spaces between allowed) and makes a record of each. Where Fluent Bit drops what is not an object
 * (an array, trailing text) without a word, that is a configuration error here.
 */
function parseJsonObjects(text: string, instance: string): Buffer[] {
  const buf = Buffer.from(text, 'utf8');
  const fail = (reason: string): ConfigError => new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value for 'dummy': ${reason}, in ${text}`);
  const objects: Buffer[] = [];
  let offset = skipJsonWhitespace(buf, 0);
  while (offset < buf.length) {
    const writer = new MsgpackWriter(Math.max(64, buf.length - offset));
    const result = scanJsonValue(buf, offset, writer, { eof: true });
    if (result.status === 'incomplete') throw fail(`invalid JSON: unexpected end of input after ${objects.length} object(s)`);
    if (result.status === 'error') throw fail(`invalid JSON: ${result.message}`);
    if (result.kind !== 'object') throw fail(`expected a JSON object (or several, one after another), got a JSON ${result.kind} at byte ${offset}`);
    objects.push(writer.bytes());
    offset = skipJsonWhitespace(buf, result.end);
  }
  if (objects.length === 0) throw fail('expected a JSON object');
  return objects;
}

/** Fluent Bit's `dummy` input: generates a fixed record at a fixed rate, for tests and demos. */
export const dummyInput = defineInput({
  ...dummyManifest,
  create(context) {
    const { config, instance } = context;
    let bodies: Buffer[];
    let metadata: Buffer;
    try {
      bodies = parseJsonObjects(config.dummy, instance);
      metadata = parseJsonObject(config.metadata, 'metadata', instance);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid JSON in 'dummy' or 'metadata': ${(error as Error).message}`);
    }
    if (config.rate <= 0 && config.interval_sec <= 0 && config.interval_nsec <= 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value '${config.rate}' for 'rate': expected a positive number`);
    }
    const intervalMs =
      config.interval_sec > 0 || config.interval_nsec > 0
        ? config.interval_sec * 1000 + config.interval_nsec / 1e6
        : 1000 / config.rate;
    const fixedStart: EventTime | null =
      config.start_time_sec >= 0 || config.start_time_nsec >= 0
        ? { sec: Math.max(0, config.start_time_sec), nsec: Math.max(0, config.start_time_nsec) }
        : null;
    const writer = new MsgpackWriter();
    let generated = 0;
    let timer: TimerHandle | null = null;
    let paused = false;
    let startOffsetMs = 0;

    const timestamp = (): EventTime => {
      if (fixedStart === null) return eventTimeNow();
      if (config.fixed_timestamp) return fixedStart;
      // Without fixed_timestamp the start time advances with the generated events.
      const totalNs = BigInt(fixedStart.sec) * 1_000_000_000n + BigInt(fixedStart.nsec) + BigInt(Math.round(startOffsetMs * 1e6));
      return { sec: Number(totalNs / 1_000_000_000n), nsec: Number(totalNs % 1_000_000_000n) };
    };

    const generate = (): void => {
      if (paused) return;
      if (config.samples > 0 && generated >= config.samples) {
        timer?.cancel();
        timer = null;
        return;
      }
      const time = timestamp();
      writer.reset();
      // Each copy is the whole list of objects, in order, as Fluent Bit repeats it.
      for (let copy = 0; copy < config.copies; copy++) for (const body of bodies) writeEvent(writer, time.sec, time.nsec, metadata, body);
      context.emit(writer.view(), config.copies * bodies.length);
      generated++;
      startOffsetMs += intervalMs;
    };

    return {
      async start() {
        if (config.flush_on_startup) generate();
        timer = context.clock.setInterval(generate, intervalMs);
      },
      pause() {
        paused = true;
      },
      resume() {
        paused = false;
      },
      async stop() {
        timer?.cancel();
        timer = null;
      },
    };
  },
});
