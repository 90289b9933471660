/**
 * Golden outputs of the real Fluent Bit (`test/fixtures/filters/<filter>/<case>.json`, made by
 * `test/fixtures/filters/generate.mjs` from `cases.json`) and what a test needs to compare wsbit's
 * events with them. Fluent Bit's event encoder writes every map header as map32 (`df`), which
 * wsbit does not, so headers are rewritten to their smallest form before bytes are compared; every
 * other byte (ints, floats such as 3.0, strings, key order, timestamps) is compared as it is.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { arrayHeader, mapCount, mapHeaderSize, readEvents, readTimestampedRecord, skipValue, writeEvent } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { repoRoot } from '../helpers/paths.js';

export const goldenDir = path.join(repoRoot, 'test', 'fixtures', 'filters');

export interface GoldenCase {
  filter: string;
  name: string;
  params: Array<[string, string]>;
  input: string[];
  tag?: string;
}

export interface Golden {
  command: string;
  /** Events that reached `-o file`, per output file (the file is named after the tag), as hex. */
  outputs: Record<string, string>;
}

export function goldenCases(filter: string): GoldenCase[] {
  const cases = JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as GoldenCase[];
  return cases.filter((c) => c.filter === filter);
}

export function golden(c: GoldenCase): Golden {
  return JSON.parse(readFileSync(path.join(goldenDir, c.filter, `${c.name}.json`), 'utf8')) as Golden;
}

/** The case's stdin lines (`[sec, {body}]`) as the events wsbit's stdin input would emit: metadata `{}`. */
export function caseEvents(c: GoldenCase): Buffer {
  const writer = new MsgpackWriter();
  for (const line of c.input) {
    const record = readTimestampedRecord(jsonTextToMsgpack(line));
    if (record === null) throw new Error(`not a [time, {body}] line: ${line}`);
    writeEvent(writer, record.sec, record.nsec, null, record.body);
  }
  return writer.bytes();
}

/** The case's params as `Key value` lines for makeFilter. */
export function caseConfig(c: GoldenCase): string[] {
  return c.params.map(([key, value]) => `${key} ${value}`);
}

/** The value at `pos` with every map and array header in its smallest form. */
function canonicalValue(buf: Buffer, pos: number, out: MsgpackWriter): number {
  const count = mapCount(buf, pos);
  if (count >= 0) {
    out.mapHeader(count);
    let p = pos + mapHeaderSize(buf, pos);
    for (let i = 0; i < count * 2; i++) p = canonicalValue(buf, p, out);
    return p;
  }
  const array = arrayHeader(buf, pos);
  if (array !== null) {
    out.arrayHeader(array.count);
    let p = pos + array.size;
    for (let i = 0; i < array.count; i++) p = canonicalValue(buf, p, out);
    return p;
  }
  const end = skipValue(buf, pos);
  out.raw(buf, pos, end);
  return end;
}

/** Each event as `sec.nsec hex(meta) hex(body)`, headers made minimal, for a readable deepEqual. */
export function describeEvents(events: Buffer): string[] {
  return readEvents(events).map((event) => {
    const meta = new MsgpackWriter();
    if (event.metaStart < event.metaEnd) canonicalValue(events, event.metaStart, meta);
    const body = new MsgpackWriter();
    canonicalValue(events, event.bodyStart, body);
    return `${event.sec}.${event.nsec} ${meta.bytes().toString('hex')} ${body.bytes().toString('hex')}`;
  });
}
