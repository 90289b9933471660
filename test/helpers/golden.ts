import fs from 'node:fs';
import { decode } from '@msgpack/msgpack';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { readEvents } from '../../src/codec/event.js';

export interface GoldenRecord {
  /** Fluent Bit's `date`: the record time in seconds, as printed. */
  date: number;
  /** The body as msgpack bytes, keys in Fluent Bit's order. */
  body: Buffer;
}

/** Reads Fluent Bit's `-o stdout -p format=json_lines` output: `{"date":T,...body keys...}` per line. */
export function readJsonLinesGolden(file: string): GoldenRecord[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^\{"date":([0-9.]+),(.*)$/.exec(line);
      if (match === null) throw new Error(`unexpected golden line ${line}`);
      return { date: Number(match[1]), body: jsonTextToMsgpack(`{${match[2] as string}`) };
    });
}

/** What the capture output received, with each event's raw body and metadata bytes and its chunk's tag. */
export interface SeenEvent {
  tag: string;
  sec: number;
  nsec: number;
  body: Buffer;
  metadata: Buffer;
}

export function seen(running: { chunks: ReadonlyArray<{ tag: string; data: Buffer }> }): SeenEvent[] {
  return running.chunks.flatMap((chunk) =>
    readEvents(chunk.data).map((event) => ({
      tag: chunk.tag,
      sec: event.sec,
      nsec: event.nsec,
      body: Buffer.from(chunk.data.subarray(event.bodyStart, event.bodyEnd)),
      metadata: Buffer.from(chunk.data.subarray(event.metaStart, event.metaEnd)),
    })),
  );
}

/**
 * A record as Fluent Bit's json_lines prints it, normalized by JSON.parse (so `1.0` and `1` agree and
 * a repeated key shows its last value): `date` first, left out when `stamped` (a time taken when the
 * line was read, which a recording cannot match).
 */
export function asFluentBitJsonLine(sec: number, nsec: number, body: Buffer, stamped: boolean): string {
  const fields = decode(body) as Record<string, unknown>;
  return JSON.stringify(stamped ? fields : { date: sec + nsec / 1e9, ...fields });
}

/** Fluent Bit's json_lines recording, each line normalized as asFluentBitJsonLine does. */
export function readFluentBitJsonLines(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.stringify(JSON.parse(line)));
}
