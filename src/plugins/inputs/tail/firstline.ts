/**
 * tail's older multiline (`Multiline On`, `Parser_Firstline`, `Parser_N`, `Multiline_Flush`), as
 * in_tail's tail_multiline.c does it:
 *
 * - a line that Parser_Firstline parses opens a group (and emits the open one): its fields, its time;
 * - a line that one of Parser_1, Parser_2, … parses adds its fields to the group;
 * - any other line is appended, after a '\n', to the last value of the fields before it when that
 *   value is a string (the first line's, so its last field must be a string to take more lines);
 *   otherwise, and with no group open, the line is a record of its own;
 * - a group goes out when the next one opens, Multiline_Flush seconds after it opened, when its file
 *   is let go, or when tail stops. Its record has path_key first, and no offset_key (Fluent Bit's too).
 *
 * One difference on purpose: a line Parser_N parses while no group is open is a record of its own,
 * where Fluent Bit drops it.
 */
import type { Clock } from '../../../base/clock.js';
import { eventTimeNow, type EventTime } from '../../../base/record.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { writeEventHeader } from '../../../codec/event.js';
import { mapEntries, strRange, type MapEntry } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { DEFAULT_BUFFER_LIMIT_BYTES } from '../../../multiline/types.js';
import type { Parser } from '../../../parsers/types.js';
import { OffsetsDb } from './offsets-db.js';
import type { LineView, TailFile } from './tail-file.js';

export interface FirstlineParsers {
  first: Parser;
  /** Parser_1, Parser_2, … in the order written. */
  others: readonly Parser[];
  /** Multiline_Flush. */
  flushMs: number;
  /** ignore_older: a group whose first line is older than this is dropped with its lines (0: never). */
  ignoreOlderMs: number;
}

export interface FirstlineMultilineOptions {
  clock: Clock;
  pathKey: string | null;
  telemetry: Telemetry;
  emit(events: Buffer, records: number, tag: string): void;
  /** Writes a line that belongs to no group as tail's ordinary record. */
  writePlain(writer: MsgpackWriter, file: TailFile, line: LineView, now: EventTime): void;
}

/** The fields of a parsed line, or a line appended as text. */
type Part = { kind: 'fields'; entries: MapEntry[] } | { kind: 'text'; bytes: Buffer };

interface Group {
  tag: string;
  name: string;
  time: EventTime;
  openedMs: number;
  /** Lines after the first may be appended to its last value (it is a string). */
  appendText: boolean;
  parts: Part[];
  fieldCount: number;
  /** Bytes of the lines taken so far, bounded by DEFAULT_BUFFER_LIMIT_BYTES. */
  bytes: number;
}

const NEWLINE = Buffer.from('\n');

export class FirstlineMultiline {
  private readonly writer = new MsgpackWriter(64 * 1024);
  /** The open group of each file, by device and inode; a skipped group (ignore_older) is `skipping`. */
  private readonly groups = new Map<string, Group | 'skipping'>();
  readonly tickMs: number;

  constructor(
    private readonly parsers: FirstlineParsers,
    private readonly options: FirstlineMultilineOptions,
  ) {
    this.tickMs = Math.min(1000, Math.max(50, Math.floor(parsers.flushMs / 4)));
  }

  lines(file: TailFile, lines: readonly LineView[]): void {
    const stream = OffsetsDb.key(file.dev, file.ino);
    const { writer } = this;
    const warn = (message: string): void => this.options.telemetry.logger.warn(message);
    const now = eventTimeNow();
    writer.reset();
    let records = 0;
    for (const line of lines) {
      const first = this.parsers.first.parse(line.bytes, warn);
      if (first.ok) {
        const open = this.groups.get(stream);
        if (open !== undefined && open !== 'skipping') records += this.writeGroup(open);
        const time = first.time !== null && (first.time.sec !== 0 || first.time.nsec !== 0) ? first.time : now;
        const { ignoreOlderMs } = this.parsers;
        if (ignoreOlderMs > 0 && now.sec - ignoreOlderMs / 1000 > time.sec) {
          this.groups.set(stream, 'skipping');
          continue;
        }
        const entries = mapEntries(first.body) ?? [];
        const last = entries[entries.length - 1];
        this.groups.set(stream, {
          tag: file.tag,
          name: file.name,
          time,
          openedMs: this.options.clock.nowMs(),
          appendText: last !== undefined && strRange(last.valueBuf, last.valueStart, last.end) !== null,
          parts: [{ kind: 'fields', entries }],
          fieldCount: entries.length,
          bytes: line.bytes.length,
        });
        continue;
      }
      const group = this.groups.get(stream);
      if (group === 'skipping') continue;
      const fields = group === undefined ? null : this.otherFields(line, warn);
      if (group !== undefined && (fields !== null || group.appendText)) {
        if (fields !== null) {
          group.parts.push({ kind: 'fields', entries: fields });
          group.fieldCount += fields.length;
        } else {
          // The line's bytes are reused by the next read.
          group.parts.push({ kind: 'text', bytes: Buffer.from(line.bytes) });
        }
        group.bytes += line.bytes.length + 1;
        if (group.bytes > DEFAULT_BUFFER_LIMIT_BYTES) {
          // A group is bounded: it goes out now, and the lines that follow start no group of their own.
          this.options.telemetry.event('warn', `multiline message truncated due to buffer limit (${DEFAULT_BUFFER_LIMIT_BYTES} bytes) in ${file.name}`, 'fluentbit_input_multiline_truncated_total');
          records += this.writeGroup(group);
          this.groups.delete(stream);
        }
      } else {
        this.options.writePlain(writer, file, line, now);
        records++;
      }
    }
    if (records > 0) this.options.emit(writer.view(), records, file.tag);
  }

  /** Emits the groups open for Multiline_Flush or longer. */
  flushIdle(): void {
    const nowMs = this.options.clock.nowMs();
    for (const [stream, group] of this.groups) {
      if (group !== 'skipping' && nowMs - group.openedMs >= this.parsers.flushMs) this.flushStream(stream);
    }
  }

  flushAll(): void {
    for (const stream of [...this.groups.keys()]) this.flushStream(stream);
  }

  close(file: TailFile): void {
    this.flushStream(OffsetsDb.key(file.dev, file.ino));
  }

  private flushStream(stream: string): void {
    const group = this.groups.get(stream);
    this.groups.delete(stream);
    if (group === undefined || group === 'skipping') return;
    this.writer.reset();
    if (this.writeGroup(group) > 0) this.options.emit(this.writer.view(), 1, group.tag);
  }

  private otherFields(line: LineView, warn: (message: string) => void): MapEntry[] | null {
    for (const parser of this.parsers.others) {
      const parsed = parser.parse(line.bytes, warn);
      if (parsed.ok) return mapEntries(parsed.body) ?? [];
    }
    return null;
  }

  /** Writes the group's record; returns 0 (and writes nothing) for a group without fields, as Fluent Bit. */
  private writeGroup(group: Group): number {
    if (group.fieldCount === 0) {
      this.options.telemetry.logger.debug(`a multiline group of ${group.name} has no fields (Parser_Firstline captured none) and is dropped`);
      return 0;
    }
    const { writer } = this;
    const { pathKey } = this.options;
    writeEventHeader(writer, group.time.sec, group.time.nsec, null);
    writer.mapHeader(group.fieldCount + (pathKey === null ? 0 : 1));
    if (pathKey !== null) {
      writer.str(pathKey);
      writer.str(group.name);
    }
    const { parts } = group;
    parts.forEach((part, index) => {
      if (part.kind === 'text') return;
      part.entries.forEach((entry, entryIndex) => {
        writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
        const text = entryIndex === part.entries.length - 1 ? strRange(entry.valueBuf, entry.valueStart, entry.end) : null;
        const appended = text === null ? [] : textsAfter(parts, index);
        if (text === null || appended.length === 0) {
          writer.raw(entry.valueBuf, entry.valueStart, entry.end);
          return;
        }
        const pieces = [entry.valueBuf.subarray(text.start, text.end), ...appended.flatMap((bytes) => [NEWLINE, bytes])];
        writer.strUtf8(Buffer.concat(pieces));
      });
    });
    return 1;
  }
}

/** The text lines right after parts[index], up to the next fields. */
function textsAfter(parts: readonly Part[], index: number): Buffer[] {
  const texts: Buffer[] = [];
  for (let i = index + 1; i < parts.length; i++) {
    const part = parts[i] as Part;
    if (part.kind !== 'text') break;
    texts.push(part.bytes);
  }
  return texts;
}
