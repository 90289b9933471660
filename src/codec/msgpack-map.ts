/**
 * Reading and rewriting msgpack maps as bytes: find a key, drop an entry, add entries in front. Inputs
 * use these to touch one field of a record (a parser's time key, http's `tag_key`, tail's `path_key`)
 * while every other value is copied as it is, so 64-bit integers, floats and key order survive.
 */
import { mapCount, mapHeaderSize, skipValue } from './event.js';
import type { MsgpackWriter } from './msgpack-writer.js';

/** Byte offsets of one map entry. */
export interface MapEntry {
  keyStart: number;
  valueStart: number;
  end: number;
}

/**
 * The entries of the map at `start` (which must end by `end`), or null when the value there is not a
 * map. Throws `WSBIT_CODEC_MALFORMED` on truncated bytes.
 */
export function mapEntries(buf: Uint8Array, start = 0, end: number = buf.length): MapEntry[] | null {
  if (start >= end) return null;
  const count = mapCount(buf, start, end);
  if (count < 0) return null;
  const entries: MapEntry[] = [];
  let pos = start + mapHeaderSize(buf, start);
  for (let i = 0; i < count; i++) {
    const keyStart = pos;
    const valueStart = skipValue(buf, pos, end);
    pos = skipValue(buf, valueStart, end);
    entries.push({ keyStart, valueStart, end: pos });
  }
  return entries;
}

/** The byte range of the msgpack str (fixstr, str8/16/32) at `pos`, or null when it is not a str. */
export function strRange(buf: Uint8Array, pos: number, end: number = buf.length): { start: number; end: number } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  let start: number;
  let length: number;
  if (b >= 0xa0 && b <= 0xbf) {
    start = pos + 1;
    length = b & 0x1f;
  } else if (b === 0xd9 && pos + 2 <= end) {
    start = pos + 2;
    length = buf[pos + 1] ?? 0;
  } else if (b === 0xda && pos + 3 <= end) {
    start = pos + 3;
    length = ((buf[pos + 1] ?? 0) << 8) | (buf[pos + 2] ?? 0);
  } else if (b === 0xdb && pos + 5 <= end) {
    start = pos + 5;
    length = (buf[pos + 1] ?? 0) * 0x1000000 + (((buf[pos + 2] ?? 0) << 16) | ((buf[pos + 3] ?? 0) << 8) | (buf[pos + 4] ?? 0));
  } else {
    return null;
  }
  return start + length <= end ? { start, end: start + length } : null;
}

/** The str at `pos` decoded as UTF-8, or null when it is not a str. */
export function readStr(buf: Uint8Array, pos: number, end: number = buf.length): string | null {
  const range = strRange(buf, pos, end);
  return range === null ? null : Buffer.from(buf.buffer, buf.byteOffset + range.start, range.end - range.start).toString('utf8');
}

/** True when the key of `entry` is the str `name` (compared as bytes). */
export function keyEquals(buf: Uint8Array, entry: MapEntry, name: Uint8Array): boolean {
  const range = strRange(buf, entry.keyStart, entry.valueStart);
  if (range === null || range.end - range.start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (buf[range.start + i] !== name[i]) return false;
  return true;
}

/** The first entry whose key is the str `name`. */
export function findEntry(buf: Uint8Array, entries: readonly MapEntry[], name: Uint8Array): MapEntry | undefined {
  return entries.find((entry) => keyEquals(buf, entry, name));
}

/**
 * Writes the map at `buf[start..]` again with `prefix` entries first (each written by its callback) and
 * without the entry `skip`. Fluent Bit puts added keys first too (tail's `path_key`).
 */
export function rewriteMap(
  writer: MsgpackWriter,
  buf: Uint8Array,
  entries: readonly MapEntry[],
  options: { skip?: MapEntry; prefix?: ReadonlyArray<(writer: MsgpackWriter) => void>; suffix?: ReadonlyArray<(writer: MsgpackWriter) => void> },
): void {
  const prefix = options.prefix ?? [];
  const suffix = options.suffix ?? [];
  const kept = entries.filter((entry) => entry !== options.skip);
  writer.mapHeader(prefix.length + kept.length + suffix.length);
  for (const write of prefix) write(writer);
  for (const entry of kept) writer.raw(buf, entry.keyStart, entry.end);
  for (const write of suffix) write(writer);
}
