/**
 * msgpack chunk → GELF 1.1 lines, following Fluent Bit's `flb_msgpack_to_gelf` (src/flb_pack_gelf.c) as its
 * http output uses it (one GELF object per record, each followed by `\n`). SPEC §2.3 and Part A point 7.
 *
 * Per record: `{"version":"1.1"` then `, "<key>":<value>` for each body entry (note the `", "` separator):
 * - the configured host / short_message / timestamp / level / full_message record keys are renamed to the
 *   GELF field names (only their first occurrence counts); `id` is dropped; every other key becomes
 *   `_<key>` with bytes outside `[A-Za-z0-9_.-]` replaced by `_`;
 * - nested maps are flattened (`{"a":{"b":1}}` → `"_a_b":1`), arrays become one string (`"1, two"`);
 * - nil values are skipped, booleans are quoted, floats print as `%f`, strings are escaped like the JSON
 *   formats with `escape_unicode` on;
 * - a level given as a syslog keyword (`emerg` … `debug`, case-insensitive) or `"0"`…`"7"` becomes an int; a
 *   level of another type (negative, float, map…) makes the record fail;
 * - `timestamp` is added from the event time (`%li.%03lu`, seconds.milliseconds) when the record has none.
 * A record without a short message fails. Fluent Bit then fails the whole payload; wsbit leaves that record
 * out, reports it in `rejected`, and encodes the rest (SPEC Part A, 7); so does a record nested deeper than
 * MAX_NESTING_DEPTH.
 */
import { forEachDeliverableRecord, mapHeaderSize, skipValue, type EventView, type RejectedRecord } from './event.js';
import { ByteSink } from './byte-sink.js';
import { writeQuotedJsonString } from './json-string.js';
import { formatF, int64ToString, readFloat, uint64ToString } from './c-printf.js';

export interface GelfOptions {
  shortMessageKey: string;
  fullMessageKey: string;
  timestampKey: string;
  hostKey: string;
  levelKey: string;
}

export const defaultGelfOptions: Readonly<GelfOptions> = {
  shortMessageKey: 'short_message',
  fullMessageKey: 'full_message',
  timestampKey: 'timestamp',
  hostKey: 'host',
  levelKey: 'level',
};

export interface GelfResult {
  payload: Buffer;
  /** Records left out, by index among the chunk's records, with the reason. */
  rejected: RejectedRecord[];
}

const LEVEL_INVALID = -2;

/** Syslog level names in `flb_msgpack_to_gelf`'s order; the index is the GELF level. */
const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** `valid_char` in flb_pack_gelf.c: `[A-Za-z0-9_.-]`. */
const VALID_KEY_BYTE = new Uint8Array(256).map((_, c) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c === 0x2d ? 1 : 0,
);


/** A byte range [start, end) of some buffer. */
interface Bytes {
  buf: Uint8Array;
  start: number;
  end: number;
}

function bytesOf(text: string): Bytes {
  const buf = Buffer.from(text, 'utf8');
  return { buf, start: 0, end: buf.length };
}

const UNDERSCORE: Bytes = bytesOf('_');
const ID_KEY: Bytes = bytesOf('id');
const TRUE_TEXT: Bytes = bytesOf('true');
const FALSE_TEXT: Bytes = bytesOf('false');

/** The configurable record keys, in the order flb_msgpack_to_gelf tests them, and their GELF names. */
const FIELDS = ['host', 'short', 'timestamp', 'level', 'full'] as const;
type Field = (typeof FIELDS)[number];
const GELF_NAMES: Record<Field, Bytes> = {
  host: bytesOf('host'),
  short: bytesOf('short_message'),
  timestamp: bytesOf('timestamp'),
  level: bytesOf('level'),
  full: bytesOf('full_message'),
};

function sameBytes(a: Bytes, b: Bytes): boolean {
  const n = a.end - a.start;
  if (n !== b.end - b.start) return false;
  for (let i = 0; i < n; i++) if (a.buf[a.start + i] !== b.buf[b.start + i]) return false;
  return true;
}

/** The bytes of a str (or, where allowed, bin) value at `pos`, or null for other types. */
function stringAt(buf: Buffer, pos: number, allowBin: boolean): Bytes | null {
  const b = buf[pos]!;
  if (b >= 0xa0 && b <= 0xbf) return { buf, start: pos + 1, end: pos + 1 + (b & 0x1f) };
  const isStr = b >= 0xd9 && b <= 0xdb;
  if (!isStr && !(allowBin && b >= 0xc4 && b <= 0xc6)) return null;
  const width = 1 << (b - (isStr ? 0xd9 : 0xc4));
  const length = width === 1 ? buf[pos + 1]! : width === 2 ? buf.readUInt16BE(pos + 1) : buf.readUInt32BE(pos + 1);
  return { buf, start: pos + 1 + width, end: pos + 1 + width + length };
}

/** Count and first-entry offset of the map or array at `pos`, or null for other types. */
function containerAt(buf: Buffer, pos: number): { count: number; first: number; isMap: boolean } | null {
  const b = buf[pos]!;
  if (b >= 0x80 && b <= 0x9f) return { count: b & 0x0f, first: pos + 1, isMap: b <= 0x8f };
  if (b === 0xdc || b === 0xde) return { count: buf.readUInt16BE(pos + 1), first: pos + 3, isMap: b === 0xde };
  if (b === 0xdd || b === 0xdf) return { count: buf.readUInt32BE(pos + 1), first: pos + 5, isMap: b === 0xdf };
  return null;
}

class GelfEncoder {
  readonly out = new ByteSink(4096);
  private readonly keys: Record<Field, Bytes>;

  constructor(options: GelfOptions) {
    this.keys = {
      host: bytesOf(options.hostKey),
      short: bytesOf(options.shortMessageKey),
      timestamp: bytesOf(options.timestampKey),
      level: bytesOf(options.levelKey),
      full: bytesOf(options.fullMessageKey),
    };
  }

  /** Writes `s`'s bytes with every byte outside `[A-Za-z0-9_.-]` replaced by `_`. */
  private sanitized(s: Bytes): void {
    this.out.ensure(s.end - s.start);
    for (let i = s.start; i < s.end; i++) this.out.byte(VALID_KEY_BYTE[s.buf[i]!] === 1 ? s.buf[i]! : 0x5f);
  }

  /** `flb_msgpack_gelf_key`: `, "<prefix>[_]<key>":` outside arrays, `<prefix>[_]<key>=` inside them. */
  private key(inArray: boolean, prefix: Bytes[], concat: boolean, key: Bytes): void {
    if (!inArray) this.out.ascii(', "');
    for (const part of prefix) this.sanitized(part);
    if (concat) this.out.byte(0x5f);
    this.sanitized(key);
    this.out.ascii(inArray ? '=' : '":');
  }

  /** `flb_msgpack_gelf_value`: quoted values are escaped; unquoted ones (inside arrays) are copied raw. */
  private text(quote: boolean, s: Bytes): void {
    if (!quote) return this.out.raw(s.buf, s.start, s.end);
    writeQuotedJsonString(this.out, s.buf, s.start, s.end, true);
  }

  /** Scalars shared by the top level and `flb_msgpack_gelf_flatten`; false when `pos` holds a container. */
  private scalar(buf: Buffer, pos: number, quote: boolean): boolean {
    const b = buf[pos]!;
    const s = stringAt(buf, pos, true);
    if (s !== null) this.text(quote, s);
    else if (b === 0xc2 || b === 0xc3) this.text(quote, b === 0xc3 ? TRUE_TEXT : FALSE_TEXT);
    else if (b === 0xc0) this.out.ascii('null');
    else if (b <= 0x7f) this.out.uint(b);
    else if (b >= 0xe0) this.out.ascii(String(b - 0x100));
    else if (b === 0xcc || b === 0xcd || b === 0xce) this.out.uint(b === 0xcc ? buf[pos + 1]! : b === 0xcd ? buf.readUInt16BE(pos + 1) : buf.readUInt32BE(pos + 1));
    else if (b === 0xcf) this.out.ascii(uint64ToString(buf.readUInt32BE(pos + 1), buf.readUInt32BE(pos + 5)));
    else if (b === 0xd0 || b === 0xd1 || b === 0xd2) this.out.ascii(String(b === 0xd0 ? buf.readInt8(pos + 1) : b === 0xd1 ? buf.readInt16BE(pos + 1) : buf.readInt32BE(pos + 1)));
    else if (b === 0xd3) this.out.ascii(int64ToString(buf.readInt32BE(pos + 1), buf.readUInt32BE(pos + 5)));
    else if (b === 0xca || b === 0xcb) {
      const f = readFloat(buf, pos);
      this.out.ascii(Number.isNaN(f.value) && f.negative ? '-nan' : formatF(f.value));
    } else if (containerAt(buf, pos) !== null) return false;
    else {
      // ext (`flb_msgpack_gelf_value_ext`): each byte as `\xNN`
      const end = skipValue(buf, pos);
      const start = b >= 0xd4 ? pos + 2 : pos + 2 + (1 << (b - 0xc7));
      if (quote) this.out.byte(0x22);
      for (let i = start; i < end; i++) this.out.ascii(`\\x${buf[i]!.toString(16).padStart(2, '0')}`);
      if (quote) this.out.byte(0x22);
    }
    return true;
  }

  /** `flb_msgpack_gelf_flatten` */
  private flatten(buf: Buffer, pos: number, prefix: Bytes[], inArray: boolean): void {
    if (this.scalar(buf, pos, !inArray)) return;
    const c = containerAt(buf, pos)!;
    let p = c.first;
    if (!c.isMap) {
      if (!inArray) this.out.byte(0x22);
      for (let i = 0; i < c.count; i++) {
        if (i > 0) this.out.ascii(', ');
        this.flatten(buf, p, prefix, true);
        p = skipValue(buf, p);
      }
      if (!inArray) this.out.byte(0x22);
      return;
    }
    for (let i = 0; i < c.count; i++) {
      const key = stringAt(buf, p, false);
      const valuePos = skipValue(buf, p);
      p = skipValue(buf, valuePos);
      if (key === null) continue;
      const b = buf[valuePos]!;
      if ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf) {
        this.flatten(buf, valuePos, prefix.length > 0 ? [...prefix, UNDERSCORE, key] : [key], inArray);
        continue;
      }
      if (inArray && i > 0) this.out.byte(0x20);
      if (inArray && prefix.length === 0) this.key(inArray, [], false, key);
      else this.key(inArray, prefix, true, key);
      this.flatten(buf, valuePos, [], inArray);
    }
  }

  /** Encodes one record; returns why it cannot be encoded (the caller then rolls the output back), or null. */
  record(chunk: Buffer, ev: EventView): string | null {
    const out = this.out;
    const found: Record<Field, boolean> = { host: false, short: false, timestamp: false, level: false, full: false };
    out.ascii('{"version":"1.1"');
    let p = ev.bodyStart + mapHeaderSize(chunk, ev.bodyStart);
    for (let i = 0; i < ev.bodyCount; i++) {
      const rawKey = stringAt(chunk, p, true);
      const valuePos = skipValue(chunk, p);
      p = skipValue(chunk, valuePos);
      if (rawKey === null) continue;
      let key = rawKey;
      let custom = false;
      let level = -1;
      const field = FIELDS.find((name) => sameBytes(rawKey, this.keys[name]));
      if (field !== undefined) {
        if (found[field]) continue;
        found[field] = true;
        key = GELF_NAMES[field];
        if (field === 'level') {
          level = this.levelValue(chunk, valuePos);
          if (level === LEVEL_INVALID) return 'level must be a non-negative integer or a string';
        }
      } else if (sameBytes(rawKey, ID_KEY)) {
        continue; // GELF forbids `_id`
      } else {
        custom = true;
      }
      const container = containerAt(chunk, valuePos);
      if (container?.isMap === true) {
        this.flatten(chunk, valuePos, [UNDERSCORE, key], false);
        continue;
      }
      if (chunk[valuePos] === 0xc0) continue; // nil values are left out
      this.key(false, custom ? [UNDERSCORE] : [], false, key);
      if (level >= 0) out.uint(level);
      else if (container !== null) this.flatten(chunk, valuePos, [], false);
      else this.scalar(chunk, valuePos, true);
    }
    if (!found.timestamp) {
      // "gelf supports milliseconds": %li.%03lu
      out.ascii(`, "timestamp":${ev.sec}.${String(Math.floor(ev.nsec / 1e6)).padStart(3, '0')}`);
    }
    if (!found.short) return 'missing short_message key';
    out.byte(0x7d);
    return null;
  }

  /** The int a level value maps to, -1 to print it as it is, or LEVEL_INVALID for a type GELF cannot take. */
  private levelValue(buf: Buffer, pos: number): number {
    const b = buf[pos]!;
    if (b <= 0x7f || b === 0xcc || b === 0xcd || b === 0xce || b === 0xcf) return -1; // printed as is (> 7 only warns)
    const s = stringAt(buf, pos, false);
    if (s === null) return LEVEL_INVALID;
    const text = Buffer.from(s.buf.subarray(s.start, s.end)).toString('latin1');
    if (/^[0-7]$/.test(text)) return Number(text);
    return LEVEL_NAMES.indexOf(text.toLowerCase()); // -1: unknown names stay strings (Fluent Bit warns)
  }
}


/** Encodes every record of a chunk as a GELF line; records that cannot be encoded are reported, not sent. */
export function chunkToGelf(chunk: Buffer, options: Partial<GelfOptions> = {}): GelfResult {
  const encoder = new GelfEncoder({ ...defaultGelfOptions, ...options });
  const out = encoder.out;
  const rejected: GelfResult['rejected'] = [];
  forEachDeliverableRecord(chunk, rejected, (ev) => {
    const mark = out.pos;
    const reason = encoder.record(chunk, ev);
    if (reason === null) out.byte(0x0a);
    else out.pos = mark;
    return reason;
  });
  return { payload: Buffer.from(out.bytes()), rejected };
}
