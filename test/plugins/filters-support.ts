import { writeEvent, readEvents } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { pluginSchema } from '../../src/pipeline/plugin-schema.js';
import { resolveConfig, type ConfigEntry } from '../../src/config/schema.js';
import { systemClock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import type { FilterContext, FilterInstance, FilterPluginDefinition } from '../../src/pipeline/contracts.js';

export interface TestFilter {
  filter: FilterInstance;
  metrics: MetricsRegistry;
  logs: string[];
  instance: string;
}

/** `Key value` lines as a config section would give them, e.g. `['Regex log ^err', 'Logical_Op OR']`. */
export function entries(lines: readonly string[]): ConfigEntry[] {
  return lines.map((line) => {
    const space = line.indexOf(' ');
    return space < 0 ? { key: line, value: '' } : { key: line.slice(0, space), value: line.slice(space + 1) };
  });
}

/** Resolves a section against the plugin's schema (as the pipeline does) and creates the filter. */
export function makeFilter(definition: FilterPluginDefinition, lines: readonly string[], extra: Partial<FilterContext<unknown>> = {}): TestFilter {
  const instance = `${definition.name}.0`;
  const { config } = resolveConfig(pluginSchema(definition), entries(lines), { instance, kind: 'filter' });
  const logs: string[] = [];
  const logger = new LogRoot({ level: 'debug', sink: { write: (text) => logs.push(text) } }).scoped(`filter:${definition.name}:${instance}`);
  const metrics = new MetricsRegistry();
  const context = {
    instance,
    config,
    logger,
    telemetry: new Telemetry(instance, logger, metrics),
    clock: systemClock,
    service: { flushSeconds: 1, graceSeconds: 5, escapeUnicode: true, convertNanToNull: false },
    ...extra,
  };
  // The context type grows as other plugin kinds need more (parsers…); filters read only these fields.
  return { filter: definition.create(context as never), metrics, logs, instance };
}

/** V2 events, one per JSON body text, each with the given metadata (default `{}` as fixmap 80). */
export function eventsOf(bodies: readonly string[], metadata: string | null = null): Buffer {
  const writer = new MsgpackWriter();
  bodies.forEach((body, i) => writeEvent(writer, 1700000000 + i, 123456789, metadata === null ? null : jsonTextToMsgpack(metadata), jsonTextToMsgpack(body)));
  return writer.bytes();
}

/** The body map bytes of each event. */
export function bodiesOf(events: Buffer): Buffer[] {
  return readEvents(events).map((ev) => events.subarray(ev.bodyStart, ev.bodyEnd));
}

/** Runs one emit of `bodies` through the filter and returns the output's body bytes. */
export function run(filter: TestFilter, bodies: readonly string[]): Buffer[] {
  const input = eventsOf(bodies);
  const out = filter.filter.filter(input, bodies.length, 'test');
  const result = bodiesOf(out.events);
  if (result.length !== out.records) throw new Error(`filter said ${out.records} records but returned ${result.length}`);
  return result;
}

/** JSON text as the msgpack bytes wsbit would hold for it (key order, float64 for 3.0, 64-bit ints). */
export const msgpackOf = (json: string): Buffer => jsonTextToMsgpack(json);
