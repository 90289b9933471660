/**
 * Fluent Bit's text formats of `out_file` (plugins/out_file/file.c in 5.1.1), for outputs that send
 * lines: `plain` (the record as JSON), `csv`, `ltsv` and `template`. Byte for byte as Fluent Bit writes
 * them, with two defects fixed: csv quotes as RFC 4180 (every string quoted with its quotes doubled, any
 * other field quoted when it holds the delimiter, a quote or a line break), and maps, arrays, bin and
 * ext values print as JSON, not msgpack-c's Ruby-like `{"k"=>[1, 2]}`. And: a template's `{t}` or `{}`
 * stays as written (Fluent Bit prints the time for any prefix of `time`), and an empty record still
 * gives its line (Fluent Bit's csv and ltsv skip it silently).
 */
import type { BufferPool } from '../base/buffer-pool.js';
import { ByteSink } from './byte-sink.js';
import { formatF, int64ToString, readFloat, uint64ToString } from './c-printf.js';
import { forEachDeliverableRecord, mapHeaderSize, skipValue, type EventView, type RejectedRecord } from './event.js';
import { chunkToJson, writeMsgpackValueAsJson } from './json.js';

export const textFormats = ['plain', 'csv', 'ltsv', 'template'] as const;
export type TextFormat = (typeof textFormats)[number];

export interface TextOptions {
  /** `{key}` is the record's `key`, `{time}` the event time; anything else is copied. */
  template: string;
  /** Between fields: `,` for csv and tab for ltsv unless set. */
  delimiter: string | null;
  /** Between an ltsv label and its value. */
  labelDelimiter: string;
  /** csv: a header line of the first record's keys at the start of each chunk. */
  csvColumnNames: boolean;
  escapeUnicode: boolean;
  convertNanToNull: boolean;
}

export const defaultTextOptions: TextOptions = {
  template: '{time} {message}',
  delimiter: null,
  labelDelimiter: ':',
  csvColumnNames: false,
  escapeUnicode: true,
  convertNanToNull: false,
};

/**
 * Fluent Bit's names for delimiters (`\t` or `tab`, `space`, `comma`, any case); other values are used
 * as they are (Fluent Bit ignores them and keeps its default).
 */
export function parseDelimiter(value: string): string {
  const lower = value.toLowerCase();
  if (lower === '\\t' || lower === 'tab') return '\t';
  if (lower === 'space') return ' ';
  if (lower === 'comma') return ',';
  return value;
}

export interface EncodedText {
  payload: Buffer;
  /** Where each line ends (after its newline), in order: a line may hold a newline of a raw string. */
  lineEnds: number[];
  rejected: RejectedRecord[];
}

/** Encodes every record of a chunk as one line of `format`. */
export function chunkToText(chunk: Buffer, format: TextFormat, options: TextOptions, pool?: BufferPool): EncodedText {
  const rejected: RejectedRecord[] = [];
  if (format === 'plain') {
    // out_file's plain is flb_msgpack_to_json_str of the record: the json_lines encoder without a date.
    const json = { format: 'json_lines' as const, dateKey: null, dateFormat: 'double' as const, escapeUnicode: options.escapeUnicode, convertNanToNull: options.convertNanToNull };
    const payload = chunkToJson(chunk, json, pool, rejected);
    const lineEnds: number[] = [];
    for (let at = payload.indexOf(0x0a); at >= 0; at = payload.indexOf(0x0a, at + 1)) lineEnds.push(at + 1);
    return { payload, lineEnds, rejected };
  }
  const writer = new TextWriter(new ByteSink(chunk.length * 2 + 64, pool), chunk, options);
  const lineEnds: number[] = [];
  let first = true;
  forEachDeliverableRecord(chunk, rejected, (ev) => {
    if (format === 'csv') {
      if (first && options.csvColumnNames) {
        writer.csvHeader(ev);
        lineEnds.push(writer.out.pos);
      }
      writer.csvLine(ev);
    } else if (format === 'ltsv') {
      writer.ltsvLine(ev);
    } else {
      writer.templateLine(ev);
    }
    first = false;
    lineEnds.push(writer.out.pos);
    return null;
  });
  return { payload: writer.out.bytes(), lineEnds, rejected };
}

const QUOTE = 0x22;

class TextWriter {
  private readonly delimiter: Buffer;
  private readonly csvDelimiter: Buffer;
  private readonly labelDelimiter: Buffer;
  private readonly template: Buffer;

  constructor(
    readonly out: ByteSink,
    private readonly src: Buffer,
    private readonly options: TextOptions,
  ) {
    this.csvDelimiter = Buffer.from(options.delimiter ?? ',', 'utf8');
    this.delimiter = Buffer.from(options.delimiter ?? '\t', 'utf8');
    this.labelDelimiter = Buffer.from(options.labelDelimiter, 'utf8');
    this.template = Buffer.from(options.template, 'utf8');
  }

  /** `timestamp`, then the keys, as csv fields. */
  csvHeader(ev: EventView): void {
    this.out.ascii('timestamp');
    this.forEachEntry(ev, (key) => {
      this.out.raw(this.csvDelimiter);
      this.csvField(key);
    });
    this.out.byte(0x0a);
  }

  /** `%lld.%.09ld` seconds, then each value. */
  csvLine(ev: EventView): void {
    this.out.ascii(`${ev.sec}.${String(ev.nsec).padStart(9, '0')}`);
    this.forEachEntry(ev, (_key, value) => {
      this.out.raw(this.csvDelimiter);
      this.csvField(value);
    });
    this.out.byte(0x0a);
  }

  /** `"time":%f`, then `"key":value` pairs. */
  ltsvLine(ev: EventView): void {
    const out = this.out;
    out.ascii('"time"');
    out.raw(this.labelDelimiter);
    out.ascii(formatF(ev.sec + ev.nsec / 1e9));
    this.forEachEntry(ev, (key, value) => {
      out.raw(this.delimiter);
      this.value(key, true);
      out.raw(this.labelDelimiter);
      this.value(value, true);
    });
    out.byte(0x0a);
  }

  /** out_file's template_output: `{name}` replaced when the record has it, a brace left open copied. */
  templateLine(ev: EventView): void {
    const out = this.out;
    const t = this.template;
    let open = -1;
    for (let i = 0; i < t.length; i++) {
      const c = t[i]!;
      if (c === 0x7b) {
        // A second `{` before a `}`: the first one was text ("{a{b}").
        if (open >= 0) out.raw(t, open, i);
        open = i;
      } else if (c === 0x7d && open >= 0) {
        if (!this.placeholder(ev, t, open + 1, i)) out.raw(t, open, i + 1);
        open = -1;
      } else if (open < 0) {
        out.byte(c);
      }
    }
    if (open >= 0) out.raw(t, open, t.length);
    out.byte(0x0a);
  }

  /** Writes `{name}`'s value: the event time for `time`, else the record's first `name` (strings raw). */
  private placeholder(ev: EventView, t: Buffer, start: number, end: number): boolean {
    if (end - start === 4 && t.toString('latin1', start, end) === 'time') {
      this.out.ascii(formatF(ev.sec + ev.nsec / 1e9));
      return true;
    }
    let found = -1;
    this.forEachEntry(ev, (key, value) => {
      if (found >= 0) return;
      const s = stringAt(this.src, key);
      if (s !== null && s.end - s.start === end - start && this.src.compare(t, start, end, s.start, s.end) === 0) found = value;
    });
    if (found < 0) return false;
    const s = stringAt(this.src, found);
    if (s !== null) this.out.raw(this.src, s.start, s.end);
    else this.value(found, true);
    return true;
  }

  private forEachEntry(ev: EventView, cb: (key: number, value: number) => void): void {
    let pos = ev.bodyStart + mapHeaderSize(this.src, ev.bodyStart);
    for (let i = 0; i < ev.bodyCount; i++) {
      const key = pos;
      const value = skipValue(this.src, key, ev.bodyEnd);
      pos = skipValue(this.src, value, ev.bodyEnd);
      cb(key, value);
    }
  }

  /** A csv field: a string always quoted, its quotes doubled; another value quoted only if it must be. */
  private csvField(pos: number): void {
    const out = this.out;
    const s = stringAt(this.src, pos);
    if (s !== null) {
      this.quoted(this.src, s.start, s.end);
      return;
    }
    const mark = out.pos;
    this.value(pos, false);
    if (!this.needsQuotes(out.buf, mark, out.pos)) return;
    const text = Buffer.from(out.buf.subarray(mark, out.pos));
    out.pos = mark;
    this.quoted(text, 0, text.length);
  }

  private quoted(buf: Buffer, start: number, end: number): void {
    const out = this.out;
    out.byte(QUOTE);
    // Bounded loops, not indexOf: that would search the rest of the chunk for every field.
    let from = start;
    for (let at = start; at < end; at++) {
      if (buf[at] !== QUOTE) continue;
      out.raw(buf, from, at + 1);
      out.byte(QUOTE);
      from = at + 1;
    }
    out.raw(buf, from, end);
    out.byte(QUOTE);
  }

  private needsQuotes(buf: Buffer, start: number, end: number): boolean {
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c === QUOTE || c === 0x0a || c === 0x0d) return true;
    }
    return buf.subarray(start, end).includes(this.csvDelimiter);
  }

  /**
   * A value as msgpack_object_print prints a scalar (strings in quotes with their raw bytes when
   * `quoteStrings`, floats `%f`, `nil`), containers, bin and ext as JSON.
   */
  private value(pos: number, quoteStrings: boolean): void {
    const out = this.out;
    const buf = this.src;
    const b = buf[pos]!;
    const s = stringAt(buf, pos);
    if (s !== null) {
      if (quoteStrings) out.byte(QUOTE);
      out.raw(buf, s.start, s.end);
      if (quoteStrings) out.byte(QUOTE);
      return;
    }
    if (b <= 0x7f) return out.uint(b);
    if (b >= 0xe0) return out.ascii(String(b - 0x100));
    switch (b) {
      case 0xc0: return out.ascii('nil');
      case 0xc2: return out.ascii('false');
      case 0xc3: return out.ascii('true');
      case 0xca: case 0xcb: {
        const f = readFloat(buf, pos);
        return out.ascii(Number.isNaN(f.value) && f.negative ? '-nan' : formatF(f.value));
      }
      case 0xcc: return out.uint(buf[pos + 1]!);
      case 0xcd: return out.uint(buf.readUInt16BE(pos + 1));
      case 0xce: return out.uint(buf.readUInt32BE(pos + 1));
      case 0xcf: return out.ascii(uint64ToString(buf.readUInt32BE(pos + 1), buf.readUInt32BE(pos + 5)));
      case 0xd0: return out.ascii(String(buf.readInt8(pos + 1)));
      case 0xd1: return out.ascii(String(buf.readInt16BE(pos + 1)));
      case 0xd2: return out.ascii(String(buf.readInt32BE(pos + 1)));
      case 0xd3: return out.ascii(int64ToString(buf.readInt32BE(pos + 1), buf.readUInt32BE(pos + 5)));
      default:
        writeMsgpackValueAsJson(out, buf, pos, { escapeUnicode: this.options.escapeUnicode, convertNanToNull: this.options.convertNanToNull });
    }
  }
}

function stringAt(buf: Buffer, pos: number): { start: number; end: number } | null {
  const b = buf[pos]!;
  if (b >= 0xa0 && b <= 0xbf) return { start: pos + 1, end: pos + 1 + (b & 0x1f) };
  if (b < 0xd9 || b > 0xdb) return null;
  const width = 1 << (b - 0xd9);
  const length = width === 1 ? buf[pos + 1]! : width === 2 ? buf.readUInt16BE(pos + 1) : buf.readUInt32BE(pos + 1);
  return { start: pos + 1 + width, end: pos + 1 + width + length };
}
