/**
 * Fluent Bit's `stdout` output in its default (msgpack) format.
 *
 * stdout prints each event as `[%zd] %s: [[%d.%09lu, <metadata>], <body>]` (`plugins/out_stdout/stdout.c`),
 * numbering events from 0 within the chunk, with msgpack-c's `msgpack_object_print` for the maps: `{"k"=>v,
 * "k2"=>v2}`, arrays `[1, 2]`, strings quoted with their raw bytes, bin/ext bytes as `\xNN`, floats `%f`.
 */
import { WsbitError } from '../base/errors.js';
import { formatF, int64ToString, readFloat, uint64ToString } from './c-printf.js';
import { CODEC_MALFORMED, forEachDeliverableRecord, skipValue, type RejectedRecord } from './event.js';
import { MAX_PRINT_DEPTH } from './limits.js';
import { MsgpackWriter } from './msgpack-writer.js';

// msgpack_object_print

function ascii(out: MsgpackWriter, text: string): void {
  out.ensure(text.length);
  for (let i = 0; i < text.length; i++) out.byte(text.charCodeAt(i));
}

/** Writes `text` and returns `next`, to keep the type switch below one line per type. */
function emit(out: MsgpackWriter, text: string, next: number): number {
  ascii(out, text);
  return next;
}

const HEX = '0123456789abcdef';

/** msgpack-c's `msgpack_object_bin_print`: `"` → `\"`, printable ASCII as is, other bytes `\xNN`. */
function binPrint(out: MsgpackWriter, buf: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x22) ascii(out, '\\"');
    else if (c >= 0x20 && c < 0x7f) out.byte(c);
    else ascii(out, `\\x${HEX[c >> 4]}${HEX[c & 15]}`);
  }
}

function lengthAt(buf: Buffer, pos: number, width: number): number {
  return width === 1 ? buf[pos]! : width === 2 ? buf.readUInt16BE(pos) : buf.readUInt32BE(pos);
}

/** Prints the msgpack value at `pos` like `msgpack_object_print`; returns the offset after it. */
function printValue(out: MsgpackWriter, buf: Buffer, pos: number, depth: number): number {
  if (depth > MAX_PRINT_DEPTH) throw new WsbitError(CODEC_MALFORMED, `msgpack nesting deeper than ${MAX_PRINT_DEPTH}`);
  const b = buf[pos]!;
  if (b <= 0x7f) return emit(out, String(b), pos + 1);
  if (b >= 0xe0) return emit(out, String(b - 0x100), pos + 1);
  if (b <= 0x9f) {
    const isMap = b <= 0x8f;
    return printContainer(out, buf, pos + 1, b & 0x0f, isMap, depth);
  }
  if (b <= 0xbf) return printStr(out, buf, pos + 1, b & 0x1f);
  switch (b) {
    case 0xc0: return emit(out, 'nil', pos + 1);
    case 0xc2: return emit(out, 'false', pos + 1);
    case 0xc3: return emit(out, 'true', pos + 1);
    case 0xca: case 0xcb: {
      const f = readFloat(buf, pos);
      return emit(out, Number.isNaN(f.value) && f.negative ? '-nan' : formatF(f.value), pos + (b === 0xca ? 5 : 9));
    }
    case 0xcc: return emit(out, String(buf[pos + 1]), pos + 2);
    case 0xcd: return emit(out, String(buf.readUInt16BE(pos + 1)), pos + 3);
    case 0xce: return emit(out, String(buf.readUInt32BE(pos + 1)), pos + 5);
    case 0xcf: return emit(out, uint64ToString(buf.readUInt32BE(pos + 1), buf.readUInt32BE(pos + 5)), pos + 9);
    case 0xd0: return emit(out, String(buf.readInt8(pos + 1)), pos + 2);
    case 0xd1: return emit(out, String(buf.readInt16BE(pos + 1)), pos + 3);
    case 0xd2: return emit(out, String(buf.readInt32BE(pos + 1)), pos + 5);
    case 0xd3: return emit(out, int64ToString(buf.readInt32BE(pos + 1), buf.readUInt32BE(pos + 5)), pos + 9);
    case 0xd9: case 0xda: case 0xdb: {
      const width = 1 << (b - 0xd9);
      return printStr(out, buf, pos + 1 + width, lengthAt(buf, pos + 1, width));
    }
    case 0xc4: case 0xc5: case 0xc6: {
      const width = 1 << (b - 0xc4);
      const start = pos + 1 + width;
      const end = start + lengthAt(buf, pos + 1, width);
      out.byte(0x22);
      binPrint(out, buf, start, end);
      out.byte(0x22);
      return end;
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      const width = b === 0xdc || b === 0xde ? 2 : 4;
      return printContainer(out, buf, pos + 1 + width, lengthAt(buf, pos + 1, width), b >= 0xde, depth);
    }
    default: {
      // ext: fixext d4..d8 or ext 8/16/32 (c7..c9)
      const end = skipValue(buf, pos);
      const dataStart = b >= 0xd4 ? pos + 2 : pos + 2 + (1 << (b - 0xc7));
      ascii(out, `(ext: ${buf.readInt8(dataStart - 1)})"`);
      binPrint(out, buf, dataStart, end);
      out.byte(0x22);
      return end;
    }
  }
}

function printStr(out: MsgpackWriter, buf: Buffer, start: number, length: number): number {
  out.byte(0x22);
  out.raw(buf, start, start + length);
  out.byte(0x22);
  return start + length;
}

function printContainer(out: MsgpackWriter, buf: Buffer, pos: number, count: number, isMap: boolean, depth: number): number {
  out.byte(isMap ? 0x7b : 0x5b);
  let p = pos;
  for (let i = 0; i < count; i++) {
    if (i > 0) ascii(out, ', ');
    p = printValue(out, buf, p, depth + 1);
    if (isMap) {
      ascii(out, '=>');
      p = printValue(out, buf, p, depth + 1);
    }
  }
  out.byte(isMap ? 0x7d : 0x5d);
  return p;
}

/**
 * The exact bytes Fluent Bit's stdout output prints for a chunk in its default format, one line per event.
 * Strings are printed raw (msgpack-c does not escape them), so this is bytes, not necessarily UTF-8.
 * A record nested deeper than MAX_NESTING_DEPTH is left out and listed in `rejected`.
 */
export function printChunkBytes(chunk: Buffer, tag: string, rejected: RejectedRecord[] = []): Buffer {
  const out = new MsgpackWriter(chunk.length * 2 + 64);
  const tagBytes = Buffer.from(tag, 'utf8');
  let printed = 0;
  forEachDeliverableRecord(chunk, rejected, (ev) => {
    ascii(out, `[${printed++}] `);
    out.raw(tagBytes);
    // `%d.%09lu` with the seconds cast to int32_t, as stdout.c does.
    ascii(out, `: [[${ev.sec | 0}.${String(ev.nsec).padStart(9, '0')}, `);
    if (ev.metaStart === ev.metaEnd) ascii(out, '{}');
    else printValue(out, chunk, ev.metaStart, 0);
    ascii(out, '], ');
    printValue(out, chunk, ev.bodyStart, 0);
    ascii(out, ']\n');
    return null;
  });
  return out.bytes();
}

/** `printChunkBytes` decoded as UTF-8 (invalid byte sequences become U+FFFD). */
export function printChunk(chunk: Buffer, tag: string): string {
  return printChunkBytes(chunk, tag).toString('utf8');
}
