/**
 * Reading and rewriting msgpack maps as bytes: find a key, drop an entry, add or rename entries. Inputs
 * use these to touch one field of a record (a parser's time key, http's `tag_key`, tail's `path_key`)
 * and filters to rewrite a body (modify, record_modifier), while every other value is copied as it is,
 * so 64-bit integers, floats such as 3.0 and key order survive.
 */
import { arrayHeader, mapCount, mapHeaderSize, skipValue } from './event.js';
import { MsgpackWriter } from './msgpack-writer.js';

/** A byte range `[start, end)`. */
export interface ValueRange {
  start: number;
  end: number;
}

/**
 * One key/value pair: the key is `keyBuf[keyStart, keyEnd)` and the value `valueBuf[valueStart, end)`.
 * Entries read from a map have both in the map's own bytes (`keyEnd === valueStart`); an entry a filter
 * makes may pair a new key with an original value (Rename) or hold new strings (Set).
 */
export interface MapEntry {
  readonly keyBuf: Uint8Array;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly valueBuf: Uint8Array;
  readonly valueStart: number;
  readonly end: number;
}

/**
 * The entries of the map at `start` (which must end by `end`), in order, duplicates included, or null
 * when the value there is not a map. Throws `WSBIT_CODEC_MALFORMED` on truncated bytes.
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
    entries.push({ keyBuf: buf, keyStart, keyEnd: valueStart, valueBuf: buf, valueStart, end: pos });
  }
  return entries;
}

/**
 * The text bytes of the msgpack str (fixstr, str8/16/32) at `pos`, or with `allowBin` of a bin too, or
 * null for another type or a value that does not fit before `end`.
 */
export function strRange(buf: Uint8Array, pos: number, end: number = buf.length, allowBin = false): ValueRange | null {
  const b = buf[pos];
  if (b === undefined) return null;
  let start: number;
  let length: number;
  if (b >= 0xa0 && b <= 0xbf) {
    start = pos + 1;
    length = b & 0x1f;
  } else if ((b === 0xd9 || (allowBin && b === 0xc4)) && pos + 2 <= end) {
    start = pos + 2;
    length = buf[pos + 1] ?? 0;
  } else if ((b === 0xda || (allowBin && b === 0xc5)) && pos + 3 <= end) {
    start = pos + 3;
    length = ((buf[pos + 1] ?? 0) << 8) | (buf[pos + 2] ?? 0);
  } else if ((b === 0xdb || (allowBin && b === 0xc6)) && pos + 5 <= end) {
    start = pos + 5;
    length = (buf[pos + 1] ?? 0) * 0x1000000 + (((buf[pos + 2] ?? 0) << 16) | ((buf[pos + 3] ?? 0) << 8) | (buf[pos + 4] ?? 0));
  } else {
    return null;
  }
  return start + length <= end ? { start, end: start + length } : null;
}

/** The integer at `pos` (any msgpack int form) as a bigint, or null for another type. */
export function readInteger(buf: Buffer, pos: number): bigint | null {
  const b = buf[pos];
  if (b === undefined) return null;
  if (b <= 0x7f) return BigInt(b);
  if (b >= 0xe0) return BigInt(b - 0x100);
  switch (b) {
    case 0xcc: return BigInt(buf.readUInt8(pos + 1));
    case 0xcd: return BigInt(buf.readUInt16BE(pos + 1));
    case 0xce: return BigInt(buf.readUInt32BE(pos + 1));
    case 0xcf: return buf.readBigUInt64BE(pos + 1);
    case 0xd0: return BigInt(buf.readInt8(pos + 1));
    case 0xd1: return BigInt(buf.readInt16BE(pos + 1));
    case 0xd2: return BigInt(buf.readInt32BE(pos + 1));
    case 0xd3: return buf.readBigInt64BE(pos + 1);
    default: return null;
  }
}

/** The str at `pos` decoded as UTF-8, or null when it is not a str. */
export function readStr(buf: Uint8Array, pos: number, end: number = buf.length): string | null {
  const range = strRange(buf, pos, end);
  return range === null ? null : Buffer.from(buf.buffer, buf.byteOffset + range.start, range.end - range.start).toString('utf8');
}

/** True when the value at `buf[pos, end)` is a str (with `allowBin`, or a bin) whose bytes are `name`. */
export function strEquals(buf: Uint8Array, pos: number, end: number, name: Uint8Array, allowBin: boolean): boolean {
  const range = strRange(buf, pos, end, allowBin);
  if (range === null || range.end - range.start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (buf[range.start + i] !== name[i]) return false;
  return true;
}

/**
 * True when the key of `entry` is the str `name` (compared as bytes). `allowBin` also accepts a bin key,
 * as Fluent Bit's modify filter does.
 */
export function keyEquals(entry: MapEntry, name: Uint8Array, allowBin = false): boolean {
  return strEquals(entry.keyBuf, entry.keyStart, entry.keyEnd, name, allowBin);
}

/** The first entry whose key is the str `name`. (`buf`, the map's bytes, is kept for callers: entries carry their own.) */
export function findEntry(buf: Uint8Array, entries: readonly MapEntry[], name: Uint8Array): MapEntry | undefined {
  return entries.find((entry) => keyEquals(entry, name));
}

/**
 * The value of the last entry whose key is the str `name` in the map at `buf[start, end)`, as Fluent Bit's
 * record accessor looks keys up (from the end; bin keys do not count), or null. Reads without allocating
 * the entries, since filters call it for every record.
 */
export function findLastValue(buf: Uint8Array, start: number, end: number, name: Uint8Array): ValueRange | null {
  const count = mapCount(buf, start, end);
  if (count < 0) return null;
  let found: ValueRange | null = null;
  let pos = start + mapHeaderSize(buf, start);
  for (let i = 0; i < count; i++) {
    const valueStart = skipValue(buf, pos, end);
    const valueEnd = skipValue(buf, valueStart, end);
    if (strEquals(buf, pos, valueStart, name, false)) found = { start: valueStart, end: valueEnd };
    pos = valueEnd;
  }
  return found;
}

/** The map or array header at `pos`, or null for any other value. */
export function containerAt(buf: Uint8Array, pos: number, end: number): { kind: 'map' | 'array'; count: number; headerSize: number } | null {
  const count = mapCount(buf, pos, end);
  if (count >= 0) return { kind: 'map', count, headerSize: mapHeaderSize(buf, pos) };
  const array = arrayHeader(buf, pos, end);
  return array === null ? null : { kind: 'array', count: array.count, headerSize: array.size };
}

const scratch = new MsgpackWriter(256);

/** `text` as msgpack str bytes. */
export function encodeStr(text: string): Buffer {
  scratch.reset();
  scratch.str(text);
  return scratch.bytes();
}

/** A new entry of two strings, as Fluent Bit's rule filters add them. */
export function stringEntry(key: string, value: string): MapEntry {
  scratch.reset();
  scratch.str(key);
  const keyEnd = scratch.length;
  scratch.str(value);
  const bytes = scratch.bytes();
  return { keyBuf: bytes, keyStart: 0, keyEnd, valueBuf: bytes, valueStart: keyEnd, end: bytes.length };
}

/** `entry` with another key (`encodedKey` is msgpack str bytes), its value untouched. */
export function withKey(entry: MapEntry, encodedKey: Uint8Array): MapEntry {
  return { keyBuf: encodedKey, keyStart: 0, keyEnd: encodedKey.length, valueBuf: entry.valueBuf, valueStart: entry.valueStart, end: entry.end };
}

function writeEntry(writer: MsgpackWriter, entry: MapEntry): void {
  if (entry.keyBuf === entry.valueBuf && entry.keyEnd === entry.valueStart) {
    writer.raw(entry.keyBuf, entry.keyStart, entry.end);
  } else {
    writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
    writer.raw(entry.valueBuf, entry.valueStart, entry.end);
  }
}

/** Appends the map made of `entries`, each key and value copied as bytes. */
export function writeMap(writer: MsgpackWriter, entries: readonly MapEntry[]): void {
  writer.mapHeader(entries.length);
  for (const entry of entries) writeEntry(writer, entry);
}

/**
 * Writes the map of `entries` again with `prefix` entries first (each written by its callback), `suffix`
 * entries last, and without the entry `skip`. Fluent Bit puts added keys first too (tail's `path_key`).
 * (`buf`, the map's bytes, is kept for callers: entries carry their own.)
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
  for (const entry of kept) writeEntry(writer, entry);
  for (const write of suffix) write(writer);
}
