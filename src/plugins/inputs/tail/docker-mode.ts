/**
 * tail's `Docker_Mode`, as in_tail's tail_dockermode.c does it: Docker's json-file driver splits a
 * long line into several JSON lines, and only the last one's `log` ends with "\n". The pieces of `log`
 * are joined (as written, escapes and all) into the last piece's line, which then goes on as one line
 * (through `parser`, or kept whole under `key`). A line without a string `log` (not Docker JSON) ends
 * the open line and goes on as it is.
 *
 * With `Docker_Mode_Parser`, whole lines are joined too, into messages: once a line that parser reads
 * has been seen, the lines after it are added until the next such line. A line that waits goes out
 * `Docker_Mode_Flush` seconds after its last piece, when its file is let go, or when tail stops.
 */
import type { Clock } from '../../../base/clock.js';
import { eventTimeNow, type EventTime } from '../../../base/record.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { DEFAULT_BUFFER_LIMIT_BYTES } from '../../../multiline/types.js';
import type { Parser } from '../../../parsers/types.js';
import { OffsetsDb } from './offsets-db.js';
import type { LineView, TailFile } from './tail-file.js';

export interface DockerModeSettings {
  flushMs: number;
  /** Docker_Mode_Parser: reads the first line of a message. */
  firstline: Parser | null;
}

export interface DockerModeOptions {
  clock: Clock;
  telemetry: Telemetry;
  emit(events: Buffer, records: number, tag: string): void;
  /** Sends a line on as tail's ordinary record (parser, or kept whole). */
  writePlain(writer: MsgpackWriter, file: TailFile, line: LineView, now: EventTime): void;
}

/** A file's line being joined. */
interface OpenLine {
  file: TailFile;
  /** The `log` values so far, as written in the JSON (escaped). */
  pieces: Buffer[];
  bytes: number;
  /** The last piece's whole line, and where its `log` value sits. */
  last: Buffer;
  valueStart: number;
  valueEnd: number;
  offset: number;
  /** The last piece's `log` ends with a newline. */
  complete: boolean;
  lastPieceMs: number;
}

export class DockerMode {
  private readonly writer = new MsgpackWriter(64 * 1024);
  private readonly open = new Map<string, OpenLine>();
  /** Files in which a Docker_Mode_Parser line has been seen: from then on, whole lines are joined too. */
  private readonly sawFirstline = new Set<string>();
  readonly tickMs: number;

  constructor(
    private readonly settings: DockerModeSettings,
    private readonly options: DockerModeOptions,
  ) {
    this.tickMs = Math.min(1000, Math.max(50, Math.floor(settings.flushMs / 4)));
  }

  lines(file: TailFile, lines: readonly LineView[]): void {
    const stream = OffsetsDb.key(file.dev, file.ino);
    const now = eventTimeNow();
    this.writer.reset();
    let records = 0;
    for (const line of lines) {
      const { firstline } = this.settings;
      if (firstline !== null) {
        const isFirst = firstline.parse(line.bytes).ok;
        if (isFirst) this.sawFirstline.add(stream);
        const waiting = this.open.get(stream);
        if (waiting !== undefined && waiting.complete && (isFirst || !this.sawFirstline.has(stream))) records += this.writeOpen(stream, now);
      }
      const value = logValue(line.bytes);
      if (value === null) {
        records += this.writeOpen(stream, now);
        this.options.writePlain(this.writer, file, line, now);
        records++;
        continue;
      }
      // The line's bytes are reused by the next read.
      const copy = Buffer.from(line.bytes);
      const piece = copy.subarray(value.start, value.end);
      const joined = this.open.get(stream);
      const pieces = joined === undefined ? [piece] : [...joined.pieces, piece];
      const bytes = (joined?.bytes ?? 0) + piece.length;
      const complete = endsWithNewline(piece);
      this.open.set(stream, { file, pieces, bytes, last: copy, valueStart: value.start, valueEnd: value.end, offset: line.offset, complete, lastPieceMs: this.options.clock.nowMs() });
      if (bytes > DEFAULT_BUFFER_LIMIT_BYTES) {
        this.options.telemetry.event('warn', `docker mode line truncated due to buffer limit (${DEFAULT_BUFFER_LIMIT_BYTES} bytes) in ${file.name}`, 'fluentbit_input_multiline_truncated_total');
        records += this.writeOpen(stream, now);
      } else if (complete && firstline === null) records += this.writeOpen(stream, now);
    }
    if (records > 0) this.options.emit(this.writer.view(), records, file.tag);
  }

  /** Sends the lines whose last piece came Docker_Mode_Flush or longer ago. */
  flushIdle(): void {
    const nowMs = this.options.clock.nowMs();
    for (const [stream, line] of this.open) {
      if (nowMs - line.lastPieceMs >= this.settings.flushMs) this.flushStream(stream);
    }
  }

  flushAll(): void {
    for (const stream of [...this.open.keys()]) this.flushStream(stream);
  }

  close(file: TailFile): void {
    const stream = OffsetsDb.key(file.dev, file.ino);
    this.flushStream(stream);
    this.sawFirstline.delete(stream);
  }

  private flushStream(stream: string): void {
    const line = this.open.get(stream);
    if (line === undefined) return;
    this.writer.reset();
    if (this.writeOpen(stream, eventTimeNow()) > 0) this.options.emit(this.writer.view(), 1, line.file.tag);
  }

  /** Writes the open line of `stream` (the last piece's line with the joined `log`); returns 1, or 0 when none is open. */
  private writeOpen(stream: string, now: EventTime): number {
    const line = this.open.get(stream);
    if (line === undefined) return 0;
    this.open.delete(stream);
    const bytes = Buffer.concat([line.last.subarray(0, line.valueStart), ...line.pieces, line.last.subarray(line.valueEnd)]);
    this.options.writePlain(this.writer, line.file, { bytes, offset: line.offset }, now);
    return 1;
  }
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const LOG = Buffer.from('log');

function skipSpace(bytes: Buffer, at: number): number {
  while (at < bytes.length && SPACE.has(bytes[at] as number)) at++;
  return at;
}

/** The index after the closing quote of the string opening at `at`, or -1. */
function stringEnd(bytes: Buffer, at: number): number {
  for (let i = at + 1; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x5c) i++;
    else if (byte === 0x22) return i + 1;
  }
  return -1;
}

/** The index after the JSON value at `at`, or -1. */
function valueEnd(bytes: Buffer, at: number): number {
  const first = bytes[at];
  if (first === 0x22) return stringEnd(bytes, at);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    for (let i = at; i < bytes.length; i++) {
      const byte = bytes[i];
      if (byte === 0x22) {
        i = stringEnd(bytes, i) - 1;
        if (i < 0) return -1;
      } else if (byte === 0x7b || byte === 0x5b) depth++;
      else if (byte === 0x7d || byte === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  let i = at;
  while (i < bytes.length && !SPACE.has(bytes[i] as number) && bytes[i] !== 0x2c && bytes[i] !== 0x7d) i++;
  return i === at ? -1 : i;
}

/** Where the (escaped) text of the top-level `log` string of a JSON object line sits, or null. */
export function logValue(bytes: Buffer): { start: number; end: number } | null {
  let at = skipSpace(bytes, 0);
  if (bytes[at] !== 0x7b) return null;
  at = skipSpace(bytes, at + 1);
  while (bytes[at] === 0x22) {
    const keyEnd = stringEnd(bytes, at);
    if (keyEnd < 0) return null;
    const isLog = keyEnd - at === 5 && bytes.subarray(at + 1, keyEnd - 1).equals(LOG);
    at = skipSpace(bytes, keyEnd);
    if (bytes[at] !== 0x3a) return null;
    at = skipSpace(bytes, at + 1);
    if (isLog) {
      if (bytes[at] !== 0x22) return null;
      const end = stringEnd(bytes, at);
      return end < 0 ? null : { start: at + 1, end: end - 1 };
    }
    at = valueEnd(bytes, at);
    if (at < 0) return null;
    at = skipSpace(bytes, at);
    if (bytes[at] !== 0x2c) return null;
    at = skipSpace(bytes, at + 1);
  }
  return null;
}

/** Whether escaped JSON text ends with a newline once unescaped (`\n`, `\u000a`). */
function endsWithNewline(escaped: Buffer): boolean {
  try {
    return (JSON.parse(`"${escaped.toString('utf8')}"`) as string).endsWith('\n');
  } catch {
    return false;
  }
}
