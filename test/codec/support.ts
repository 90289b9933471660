/** Shared helpers for the codec tests: the Fluent Bit golden files and small chunk builders. */
import fs from 'node:fs';
import path from 'node:path';
import { writeEvent } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { fluentBitFixtures } from '../helpers/paths.js';

export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fluentBitFixtures, name));
}

export function fixtureNames(): string[] {
  return fs.readdirSync(fluentBitFixtures).sort();
}

export const SEC = 1700000000;
export const NSEC = 123456789;

export interface TestEvent {
  sec?: number;
  nsec?: number;
  /** JSON text or msgpack map bytes. */
  body: string | Uint8Array;
  metadata?: string | Uint8Array | null;
}

function toMsgpack(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? jsonTextToMsgpack(value) : value;
}

/** A V2 chunk of the given events (default time 1700000000.123456789, empty fixmap metadata). */
export function chunkOf(...events: TestEvent[]): Buffer {
  const writer = new MsgpackWriter();
  for (const ev of events) {
    const metadata = ev.metadata === undefined || ev.metadata === null ? null : toMsgpack(ev.metadata);
    writeEvent(writer, ev.sec ?? SEC, ev.nsec ?? NSEC, metadata, toMsgpack(ev.body));
  }
  return writer.bytes();
}

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** msgpack of `{"d":{"d":…{"d":1}}}`, `depth` maps deep: a record for the nesting limit. */
export function nestedMaps(depth: number): Buffer {
  const w = new MsgpackWriter(depth * 3 + 8);
  for (let i = 0; i < depth; i++) {
    w.mapHeader(1);
    w.str('d');
  }
  w.uint(1);
  return w.bytes();
}
