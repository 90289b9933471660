/**
 * The lines read from a followed file, turned into records: one per line (parsed, or kept whole under
 * `key`), or joined by the multiline parsers.
 */
import type { Clock } from '../../../base/clock.js';
import { eventTimeNow, type EventTime } from '../../../base/record.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { writeEvent, writeEventHeader } from '../../../codec/event.js';
import { mapEntries, rewriteMap } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { InputContext } from '../../../pipeline/contracts.js';
import { DockerMode } from './docker-mode.js';
import { lineDecoder } from './encoding.js';
import { FirstlineMultiline } from './firstline.js';
import { TailMultiline } from './multiline.js';
import type { TailInputOptions } from './options.js';
import type { LineView, TailFile } from './tail-file.js';

export type LineRecordsContext = Pick<InputContext<unknown>, 'telemetry' | 'emit'> & { readonly clock: Clock };

export class LineRecords {
  private readonly writer = new MsgpackWriter(64 * 1024);
  /** Set with multiline.parser (or the older Multiline On, or Docker_Mode): lines are joined there, not sent straight out. */
  readonly multiline: TailMultiline | FirstlineMultiline | DockerMode | null;
  private readonly telemetry: Telemetry;
  /** generic.encoding: lines into UTF-8 first. */
  private readonly decode: ((lines: readonly LineView[]) => LineView[]) | null;

  constructor(
    private readonly options: TailInputOptions,
    private readonly context: LineRecordsContext,
  ) {
    this.telemetry = context.telemetry;
    this.decode = options.encoding === null ? null : lineDecoder(options.encoding);
    const joined = { clock: context.clock, pathKey: options.pathKey, offsetKey: options.offsetKey, telemetry: context.telemetry, emit: (events: Buffer, records: number, tag: string) => void context.emit(events, records, tag) };
    if (options.multilineParsers.length > 0) this.multiline = new TailMultiline(options.multilineParsers, joined);
    else {
      const plain = { ...joined, writePlain: (writer: MsgpackWriter, file: TailFile, line: LineView, now: EventTime) => this.writeLine(writer, file, line, now) };
      if (options.firstline !== null) this.multiline = new FirstlineMultiline(options.firstline, plain);
      else if (options.dockerMode !== null) this.multiline = new DockerMode(options.dockerMode, plain);
      else this.multiline = null;
    }
  }

  /** Emits the records of `lines` of `file` (or hands them to the multiline engine). */
  emit(file: TailFile, read: readonly LineView[]): void {
    const { skipEmptyLines } = this.options;
    const lines = this.decode === null ? read : this.decode(read);
    if (this.multiline !== null) {
      this.multiline.lines(file, skipEmptyLines ? lines.filter((line) => line.bytes.length > 0) : lines);
      return;
    }
    const now = eventTimeNow();
    this.writer.reset();
    let records = 0;
    for (const line of lines) {
      if (line.bytes.length === 0 && skipEmptyLines) continue;
      this.writeLine(this.writer, file, line, now);
      records++;
    }
    if (records > 0) this.context.emit(this.writer.view(), records, file.tag);
  }

  /**
   * Appends one record for a line: path_key, offset_key, then the line; or the parsed fields, then
   * path_key and offset_key (flb_tail_pack_line_map appends them after the parser's keys).
   */
  private writeLine(writer: MsgpackWriter, file: TailFile, line: LineView, now: EventTime): void {
    const { pathKey, offsetKey, parser } = this.options;
    const extra: Array<(w: MsgpackWriter) => void> = [];
    if (pathKey !== null) {
      extra.push((w) => {
        w.str(pathKey);
        w.str(file.name);
      });
    }
    if (offsetKey !== null) {
      extra.push((w) => {
        w.str(offsetKey);
        w.uint(line.offset);
      });
    }
    if (parser !== null) {
      const parsed = parser.parse(line.bytes, (message) => this.telemetry.logger.warn(message));
      if (parsed.ok) {
        // A parsed time of 0 means none was found: in_tail stamps such records now.
        const time = parsed.time !== null && (parsed.time.sec !== 0 || parsed.time.nsec !== 0) ? parsed.time : now;
        if (extra.length === 0) {
          writeEvent(writer, time.sec, time.nsec, null, parsed.body);
        } else {
          writeEventHeader(writer, time.sec, time.nsec, null);
          rewriteMap(writer, parsed.body, mapEntries(parsed.body) ?? [], { suffix: extra });
        }
        return;
      }
      this.telemetry.logger.debug(`parser '${parser.name}' could not parse a line of ${file.name}, keeping it whole: ${parsed.reason}`);
    }
    writeEventHeader(writer, now.sec, now.nsec, null);
    writer.mapHeader(extra.length + 1);
    for (const write of extra) write(writer);
    writer.str(this.options.key);
    writer.strUtf8(line.bytes);
  }
}
