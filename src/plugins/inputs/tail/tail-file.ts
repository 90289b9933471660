/**
 * One followed file: an open handle (so a renamed or deleted file can still be read to its end), the
 * read position, and the partial last line. Lines end at '\n'; a '\r' before it is dropped, as in
 * in_tail's `process_content`.
 */
import fs from 'node:fs';

export interface LineView {
  /** The line without its '\n' (and '\r'); valid only until the next read. */
  bytes: Buffer;
  /** File offset of the line's first byte. */
  offset: number;
}

/** A line longer than buffer_max_size: skipped, the file given up, or cut (truncate_long_lines). */
export type LongLinePolicy = 'skip' | 'abandon' | 'truncate';

export interface ReadResult {
  lines: LineView[];
  /** Lines longer than buffer_max_size that were dropped (skip_long_lines on). */
  skippedLongLines: number;
  /** A line longer than buffer_max_size with skip_long_lines off: Fluent Bit stops following the file. */
  abandon: boolean;
  /** Lines cut to buffer_max_size - 1 bytes (truncate_long_lines on). */
  truncatedLongLines: number;
}

export class TailFile {
  /** Bytes read from the file so far. */
  readOffset: number;
  /** Set when the name no longer points at this file (renamed or deleted); the time it was noticed. */
  rotatedAtMs: number | null = null;
  watcher: fs.FSWatcher | null = null;
  /** Serializes checks of this file: each one waits for the previous. */
  queue: Promise<void> = Promise.resolve();
  private pending: Buffer = Buffer.alloc(0);
  /** Inside a long line being skipped: everything up to the next '\n' is dropped. */
  private skipping = false;
  private readonly buffer: Buffer;

  constructor(
    readonly name: string,
    readonly dev: bigint,
    readonly ino: bigint,
    readonly tag: string,
    readonly handle: fs.promises.FileHandle,
    startOffset: number,
    chunkSizeBytes: number,
    private readonly maxLineBytes: number,
    private readonly longLines: LongLinePolicy,
  ) {
    this.readOffset = startOffset;
    this.buffer = Buffer.allocUnsafe(chunkSizeBytes);
  }

  /** Where a restart should resume: after the last complete (or skipped) line. */
  get committedOffset(): number {
    return this.skipping ? this.readOffset : this.readOffset - this.pending.length;
  }

  /** Starts over at `offset` (after a truncation). */
  rewind(offset: number): void {
    this.readOffset = offset;
    this.pending = Buffer.alloc(0);
    this.skipping = false;
  }

  /** Reads the next chunk; null at the end of the file. */
  async read(): Promise<ReadResult | null> {
    const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.readOffset);
    if (bytesRead === 0) return null;
    const base = this.readOffset - this.pending.length;
    this.readOffset += bytesRead;
    const data = this.pending.length === 0 ? this.buffer.subarray(0, bytesRead) : Buffer.concat([this.pending, this.buffer.subarray(0, bytesRead)]);
    return this.split(data, base);
  }

  /** What is left unterminated when the file is closed for good (after rotation): one last line. */
  takeRest(): LineView | null {
    if (this.pending.length === 0 || this.skipping) return null;
    const line = { bytes: this.pending, offset: this.readOffset - this.pending.length };
    this.pending = Buffer.alloc(0);
    return line;
  }

  private split(data: Buffer, base: number): ReadResult {
    const result: ReadResult = { lines: [], skippedLongLines: 0, abandon: false, truncatedLongLines: 0 };
    // in_tail keeps a byte for the newline: with truncate_long_lines, a line of buffer_max_size bytes is cut too.
    const truncateAt = this.longLines === 'truncate' ? utf8Cut(this.maxLineBytes - 1) : null;
    let start = 0;
    if (this.skipping) {
      const newline = data.indexOf(0x0a);
      if (newline < 0) {
        this.pending = Buffer.alloc(0);
        return result;
      }
      this.skipping = false;
      start = newline + 1;
    }
    for (;;) {
      const newline = data.indexOf(0x0a, start);
      if (newline < 0) break;
      let end = newline;
      if (end > start && data[end - 1] === 0x0d) end--;
      if (truncateAt !== null && end - start > this.maxLineBytes - 1) {
        result.lines.push({ bytes: data.subarray(start, start + truncateAt(data, start)), offset: base + start });
        result.truncatedLongLines++;
      } else if (end - start > this.maxLineBytes) {
        if (this.longLines === 'abandon') {
          result.abandon = true;
          return result;
        }
        result.skippedLongLines++;
      } else {
        result.lines.push({ bytes: data.subarray(start, end), offset: base + start });
      }
      start = newline + 1;
    }
    const rest = data.length - start;
    if (rest > this.maxLineBytes) {
      // The line already outgrows the buffer: in_tail cannot hold it either.
      if (truncateAt !== null) {
        result.lines.push({ bytes: Buffer.from(data.subarray(start, start + truncateAt(data, start))), offset: base + start });
        result.truncatedLongLines++;
        this.skipping = true;
        this.pending = Buffer.alloc(0);
        return result;
      }
      if (this.longLines === 'abandon') {
        result.abandon = true;
        return result;
      }
      result.skippedLongLines++;
      this.skipping = true;
      this.pending = Buffer.alloc(0);
      return result;
    }
    // A copy: `data` may be the reused read buffer.
    this.pending = rest === 0 ? Buffer.alloc(0) : Buffer.from(data.subarray(start));
    return result;
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    await this.handle.close().catch(() => undefined);
  }
}

/** How many bytes of the line at `start` fit in `limit` without cutting a UTF-8 character. */
function utf8Cut(limit: number): (data: Buffer, start: number) => number {
  return (data, start) => {
    let cut = Math.max(0, limit);
    // A continuation byte (10xxxxxx) at the cut belongs to the character before it.
    while (cut > 0 && ((data[start + cut] ?? 0) & 0xc0) === 0x80) cut--;
    return cut;
  };
}
