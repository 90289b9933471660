/**
 * The files tail follows: found by scanning the path patterns, read on change notifications and on a
 * poll, through rotation by rename and by truncation, with offsets kept in `db`.
 */
import fs from 'node:fs';
import type { Clock, TimerHandle } from '../../../base/clock.js';
import { errorMessage } from '../../../base/errors.js';
import type { Telemetry } from '../../../base/telemetry.js';
import type { InputContext, InputInstance } from '../../../pipeline/contracts.js';
import { OffsetsDb } from './offsets-db.js';
import type { TailInputOptions } from './options.js';
import { composeTag, composeTagWithRegex, globFiles } from './paths.js';
import { LineRecords } from './records.js';
import { TailFile } from './tail-file.js';

/** How often every followed file is checked even without a change notification. */
/** Offsets are written at most this often while lines flow, and at stop. */
const DB_SAVE_DELAY_MS = 200;

type WatcherContext = Pick<InputContext<unknown>, 'tag' | 'telemetry' | 'clock' | 'emit' | 'requestExit'>;

export class TailWatcher implements InputInstance {
  private readonly files = new Map<string, TailFile>();
  /** Files given up on (a line too long), until they are rotated or truncated. */
  private readonly abandoned = new Set<string>();
  /** exit_on_eof: the files found at start not yet read to their end; wsbit stops once none is left. */
  private readonly toFinish = new Set<string>();
  private readonly timers: TimerHandle[] = [];
  private readonly records: LineRecords;
  private readonly db: OffsetsDb | null;
  private readonly telemetry: Telemetry;
  private readonly clock: Clock;
  private dbTimer: TimerHandle | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private firstScanDone = false;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly options: TailInputOptions,
    private readonly context: WatcherContext,
  ) {
    this.db = options.db;
    this.telemetry = context.telemetry;
    this.clock = context.clock;
    this.records = new LineRecords(options, context);
  }

  async start(): Promise<void> {
    const { patterns, refreshIntervalSeconds } = this.options;
    await this.requestScan();
    this.telemetry.logger.info(
      this.files.size === 0
        ? `no files match ${patterns.join(', ')} yet; checking every ${refreshIntervalSeconds}s`
        : `following ${this.files.size} file${this.files.size === 1 ? '' : 's'} matching ${patterns.join(', ')}`,
    );
    this.saveDb();
    this.timers.push(this.clock.setInterval(() => void this.requestScan(), refreshIntervalSeconds * 1000));
    this.timers.push(
      this.clock.setInterval(() => {
        if (!this.paused) for (const file of this.files.values()) this.enqueue(file);
      }, this.options.pollIntervalMs),
    );
    const multiline = this.records.multiline;
    if (multiline !== null) this.timers.push(this.clock.setInterval(() => multiline.flushIdle(), multiline.tickMs));
  }

  pause(): void {
    // Reads stop after the chunk in hand; change notifications are only queued.
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const file of this.files.values()) this.enqueue(file);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) timer.cancel();
    this.dbTimer?.cancel();
    this.dbTimer = null;
    await this.scanning;
    const open = [...this.files.values()];
    await Promise.all(open.map((file) => file.queue));
    for (const file of open) this.db?.set(file.name, file.dev, file.ino, file.committedOffset);
    this.saveDb();
    // Groups still open are emitted, not lost: the engine takes records until inputs have stopped.
    this.records.multiline?.flushAll();
    await Promise.all(open.map((file) => file.close()));
    this.files.clear();
  }

  private tagFor(file: string): string {
    const { tagRegex } = this.options;
    if (tagRegex !== null) {
      const tag = composeTagWithRegex(this.context.tag, tagRegex.regex, tagRegex.names, file);
      if (tag !== null) return tag;
      this.telemetry.logger.error(`invalid tag_regex pattern for file ${file}`);
      return this.context.tag;
    }
    return composeTag(this.context.tag, file);
  }

  private scheduleDbSave(): void {
    const db = this.db;
    if (db === null || this.dbTimer !== null || !db.pending) return;
    this.dbTimer = this.clock.setTimeout(() => {
      this.dbTimer = null;
      this.saveDb();
    }, DB_SAVE_DELAY_MS);
  }

  private saveDb(): void {
    try {
      this.db?.save();
    } catch (error) {
      this.telemetry.logger.error(`cannot write db '${this.options.dbPath ?? ''}': ${errorMessage(error)}`);
    }
  }

  private async forget(file: TailFile, key: string, reason: string): Promise<void> {
    // What the file's open multiline groups hold goes out before the file is let go.
    this.records.multiline?.close(file);
    this.files.delete(key);
    await file.close();
    this.db?.delete(file.dev, file.ino);
    this.scheduleDbSave();
    this.telemetry.logger.debug(`inode=${file.ino} ${reason}, remove monitor ${file.name}`);
  }

  /** Notices a rename or deletion of the file's name: it is read for rotate_wait more, and the new file is picked up. */
  private async checkRotation(file: TailFile, nowMs: number): Promise<void> {
    const current = await fs.promises.stat(file.name, { bigint: true }).catch(() => null);
    if (current !== null && current.ino === file.ino && current.dev === file.dev) return;
    file.rotatedAtMs = nowMs;
    const newName = await fs.promises.readlink(`/proc/self/fd/${file.handle.fd}`).catch(() => '(unknown)');
    this.telemetry.logger.info(`inode=${file.ino} handle rotation(): ${file.name} => ${newName}`);
    // The new file at the old name is picked up at once, not at the next refresh_interval.
    void this.requestScan();
  }

  /** Reads what is new in the file, handling truncation, rotation and long lines. */
  private async check(file: TailFile): Promise<void> {
    const key = OffsetsDb.key(file.dev, file.ino);
    if (this.stopped || this.files.get(key) !== file) return;
    const now = this.clock.nowMs();
    if (file.rotatedAtMs === null) await this.checkRotation(file, now);
    const size = (await file.handle.stat({ bigint: true })).size;
    if (size < BigInt(file.readOffset)) {
      this.telemetry.logger.info(`inode=${file.ino} file truncated ${file.name} (diff: ${BigInt(file.readOffset) - size} bytes)`);
      file.rewind(0);
    }
    let atEnd = false;
    while (!this.paused && !this.stopped) {
      const result = await file.read();
      if (result === null) {
        atEnd = true;
        break;
      }
      if (result.abandon) {
        this.telemetry.event('error', `file=${file.name} requires a larger buffer size, lines are too long. Skipping file.`, 'wsbit_input_rejected_records_total');
        this.abandoned.add(key);
        await this.forget(file, key, 'abandoned');
        return;
      }
      if (result.truncatedLongLines > 0) {
        this.telemetry.event('warn', `file=${file.name} have long lines. Truncating long lines.`, 'fluentbit_input_long_line_truncated_total', result.truncatedLongLines);
      }
      if (result.skippedLongLines > 0) {
        this.telemetry.event('warn', `file=${file.name} have long lines. Skipping long lines.`, 'wsbit_input_rejected_records_total', result.skippedLongLines);
      }
      this.records.emit(file, result.lines);
      this.db?.set(file.name, file.dev, file.ino, file.committedOffset);
      this.scheduleDbSave();
    }
    if (atEnd && this.toFinish.delete(key)) {
      // As in_tail: each file found at start says so at its end, and the last one stops wsbit.
      this.telemetry.logger.info(`inode=${file.ino} file=${file.name} ended, stop`);
      if (this.toFinish.size === 0) this.context.requestExit('exit_on_eof: every file found at start was read to its end');
    }
    if (file.rotatedAtMs !== null && !this.paused && !this.stopped && now - file.rotatedAtMs >= this.options.rotateWaitMs) {
      const rest = file.takeRest();
      if (rest !== null) this.records.emit(file, [rest]);
      await this.forget(file, key, 'rotated file done');
    }
  }

  private enqueue(file: TailFile): void {
    file.queue = file.queue.then(() => this.check(file)).catch((error: unknown) => this.telemetry.logger.error(`cannot read ${file.name}: ${errorMessage(error)}`));
  }

  /**
   * Starts following `name`: at the db's offset, else at 0 or at the end, as read_from_head (first scan)
   * or read_newly_discovered_files_from_head (later) says.
   */
  private async follow(name: string, stat: fs.BigIntStats): Promise<void> {
    const { options, db } = this;
    const key = OffsetsDb.key(stat.dev, stat.ino);
    const handle = await fs.promises.open(name, 'r');
    let offset = 0;
    let saved = db?.get(stat.dev, stat.ino);
    // db.compare_filename: an inode reused by another file does not take the old file's offset.
    if (saved !== undefined && options.dbCompareFilename && saved.name !== name) saved = undefined;
    const fromHead = this.firstScanDone ? options.readNewFilesFromHead : options.readFromHead;
    if (saved !== undefined) offset = BigInt(saved.offset) <= stat.size ? saved.offset : 0;
    else if (!fromHead) offset = Number(stat.size);
    const file = new TailFile(name, stat.dev, stat.ino, this.tagFor(name), handle, offset, options.readChunkBytes, options.maxLineBytes, options.longLines);
    this.files.set(key, file);
    if (options.exitOnEof && !this.firstScanDone) this.toFinish.add(key);
    db?.set(name, stat.dev, stat.ino, offset);
    this.telemetry.logger.debug(`inode=${stat.ino} with offset=${offset} appended as ${name}`);
    if (options.inotifyWatcher) {
      try {
        file.watcher = fs.watch(name, { persistent: false }, () => this.enqueue(file));
        file.watcher.on('error', () => undefined);
      } catch {
        // Polling still covers this file.
      }
    }
    this.enqueue(file);
  }

  private async scan(): Promise<void> {
    const { patterns, excludes, ignoreOlderMs } = this.options;
    const seen = new Set<string>();
    const cutoffMs = ignoreOlderMs > 0 ? this.clock.nowMs() - ignoreOlderMs : null;
    for (const pattern of patterns) {
      for (const name of globFiles(pattern)) {
        if (excludes.some((exclude) => exclude.test(name))) continue;
        const stat = await fs.promises.stat(name, { bigint: true }).catch(() => null);
        if (stat === null) continue;
        const key = OffsetsDb.key(stat.dev, stat.ino);
        seen.add(key);
        const followed = this.files.get(key);
        const older = cutoffMs !== null && Number(stat.mtimeMs) < cutoffMs;
        if (followed !== undefined && older && this.options.ignoreActiveOlderFiles && !this.stopped) {
          // What was written before it went quiet is read first.
          await followed.queue;
          if (this.files.get(key) === followed) await this.forget(followed, key, `not modified for ignore_older, stop following ${name}`);
          continue;
        }
        if (followed !== undefined || this.stopped) continue;
        if (this.abandoned.has(key)) continue;
        if (older) continue;
        await this.follow(name, stat).catch((error: unknown) => this.telemetry.logger.error(`cannot open ${name}: ${errorMessage(error)}`));
      }
    }
    // A file given up on is followed again once it has been rotated or truncated away.
    for (const key of this.abandoned) if (!seen.has(key)) this.abandoned.delete(key);
    this.firstScanDone = true;
  }

  private requestScan(): Promise<void> {
    this.scanning = this.scanning.then(() => this.scan()).catch((error: unknown) => this.telemetry.logger.error(`scan failed: ${errorMessage(error)}`));
    return this.scanning;
  }
}
