import fs from 'node:fs';
import { ConfigError, errorMessage } from '../../base/errors.js';
import type { TimerHandle } from '../../base/clock.js';
import { eventTimeNow, type EventTime } from '../../base/record.js';
import { writeEvent, writeEventHeader } from '../../codec/event.js';
import { mapEntries, rewriteMap } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { RegexTranslationError, translateOnigmo } from '../../regex/onigmo.js';
import { defineInput } from '../../pipeline/contracts.js';
import { OffsetsDb } from './tail/offsets-db.js';
import { composeTag, composeTagWithRegex, globFiles, patternRegExp } from './tail/paths.js';
import { TailFile, type LineView } from './tail/tail-file.js';
import { TailMultiline } from './tail/multiline.js';
import { multilineParserKey } from '../../multiline/builtins.js';

const schema = [
  { key: 'path', type: 'list', default: null, description: 'Files to follow: one or more glob patterns, comma-separated (e.g. /var/log/*.log).' },
  { key: 'exclude_path', type: 'list', default: null, description: 'Shell patterns of files to leave out, comma-separated, matched against the whole path (e.g. *.gz,*.zip).' },
  { key: 'key', type: 'string', default: 'log', description: 'Key under which each line is stored when no parser is used (or the parser fails).' },
  { key: 'path_key', type: 'string', default: null, description: "Add the file's path to each record under this key." },
  { key: 'offset_key', type: 'string', default: null, description: "Add the line's offset in the file to each record under this key." },
  { key: 'tag_regex', type: 'string', default: null, description: 'Regex with named groups run on the file path; <name> in the Tag is replaced by that group.' },
  { key: 'refresh_interval', type: 'double', default: 60, description: 'Seconds between scans of the path patterns for new files.' },
  { key: 'read_from_head', type: 'bool', default: false, description: 'Read files found at start-up from the beginning rather than from their end (files found later are always read from the beginning).' },
  { key: 'rotate_wait', type: 'int', default: 5, description: 'Seconds to keep reading a file after it was rotated (renamed or deleted), for data still being written to it.' },
  { key: 'ignore_older', type: 'time', default: 0, description: 'Ignore files last modified longer ago than this (e.g. 1d); 0 follows all files.' },
  { key: 'buffer_chunk_size', type: 'size', default: '32k', description: 'Bytes read from a file at a time.' },
  { key: 'buffer_max_size', type: 'size', default: '32k', description: 'Longest line; see skip_long_lines for what happens to longer ones.' },
  { key: 'skip_long_lines', type: 'bool', default: false, description: 'Skip lines longer than buffer_max_size and go on; when off, such a line stops the following of its file.' },
  { key: 'skip_empty_lines', type: 'bool', default: false, description: 'Skip empty lines instead of making records of them.' },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) for each line; a line it cannot parse is kept whole under key.' },
  multilineParserKey,
  { key: 'db', type: 'string', default: null, description: 'File that keeps each followed file\'s offset across restarts (a small JSON file, replaced atomically).' },
  { key: 'db.sync', type: 'enum', values: ['extra', 'full', 'normal', 'off'], default: 'full', description: 'off skips the fsync after each db write; the other values fsync the file and its directory.' },
  { key: 'db.locking', type: 'bool', default: false, description: 'Accepted for compatibility (SQLite locking); wsbit db files belong to one process anyway.' },
  { key: 'db.journal_mode', type: 'string', default: 'WAL', description: 'Accepted for compatibility (SQLite journal mode); no effect.' },
  { key: 'inotify_watcher', type: 'bool', default: true, description: 'Use file change notifications; when off, files are only checked every second.' },
] as const;

/** How often every followed file is checked even without a change notification. */
const POLL_INTERVAL_MS = 1000;
/** Offsets are written at most this often while lines flow, and at stop. */
const DB_SAVE_DELAY_MS = 200;

/**
 * Fluent Bit's `tail` input: follows files matching glob patterns, line by line, through rotation by
 * rename and by truncation, with offsets kept in `db` across restarts.
 */
export const tailInput = defineInput({
  kind: 'input',
  name: 'tail',
  description: 'Tail files',
  schema,
  create(context) {
    const { config, telemetry, instance, clock } = context;
    const patterns = config.path ?? [];
    if (patterns.length === 0) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: 'path' is required (e.g. path /var/log/*.log)`);
    if (config.refresh_interval <= 0) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: refresh_interval must be greater than 0`);
    const multilineNames = config['multiline.parser'].flat();
    const parser = config.parser === null || multilineNames.length > 0 ? null : context.parsers.require(config.parser, instance);
    if (config.parser !== null && multilineNames.length > 0) telemetry.logger.warn(`'parser ${config.parser}' is ignored: multiline.parser is set`);
    if (config.offset_key !== null && multilineNames.length > 0) telemetry.logger.warn(`'offset_key' is ignored with multiline.parser (a joined record has no single offset); path_key is added`);
    const excludes = (config.exclude_path ?? []).map((pattern) => patternRegExp(pattern, true));
    let tagRegex: ReturnType<typeof translateOnigmo> | null = null;
    if (config.tag_regex !== null) {
      try {
        tagRegex = translateOnigmo(config.tag_regex);
      } catch (error) {
        if (error instanceof RegexTranslationError) throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: tag_regex: ${error.message}`);
        throw error;
      }
    }
    const db = config.db === null ? null : OffsetsDb.open(config.db, config['db.sync'], instance);
    const keyName = config.key;
    const writer = new MsgpackWriter(64 * 1024);
    const multiline =
      multilineNames.length === 0
        ? null
        : new TailMultiline(
            multilineNames.map((name) => context.parsers.requireMultiline(name, instance)),
            { clock, pathKey: config.path_key, emit: (events, records, tag) => context.emit(events, records, tag), telemetry },
          );
    const files = new Map<string, TailFile>();
    /** Files given up on (a line too long), until they are rotated or truncated. */
    const abandoned = new Set<string>();
    const timers: TimerHandle[] = [];
    let dbTimer: TimerHandle | null = null;
    let scanning: Promise<void> = Promise.resolve();
    let firstScanDone = false;
    let paused = false;
    let stopped = false;

    const tagFor = (file: string): string => {
      if (tagRegex !== null) {
        const tag = composeTagWithRegex(context.tag, tagRegex.regex, tagRegex.names, file);
        if (tag !== null) return tag;
        telemetry.logger.error(`invalid tag_regex pattern for file ${file}`);
        return context.tag;
      }
      return composeTag(context.tag, file);
    };

    const scheduleDbSave = (): void => {
      if (db === null || dbTimer !== null || !db.pending) return;
      dbTimer = clock.setTimeout(() => {
        dbTimer = null;
        saveDb();
      }, DB_SAVE_DELAY_MS);
    };
    const saveDb = (): void => {
      try {
        db?.save();
      } catch (error) {
        telemetry.logger.error(`cannot write db '${config.db ?? ''}': ${errorMessage(error)}`);
      }
    };

    /** Appends one record for a line: path_key, offset_key, then the line or the parsed fields. */
    const writeLine = (file: TailFile, line: LineView, now: EventTime): void => {
      const extra: Array<(w: MsgpackWriter) => void> = [];
      if (config.path_key !== null) {
        const key = config.path_key;
        extra.push((w) => {
          w.str(key);
          w.str(file.name);
        });
      }
      if (config.offset_key !== null) {
        const key = config.offset_key;
        extra.push((w) => {
          w.str(key);
          w.uint(line.offset);
        });
      }
      if (parser !== null) {
        const parsed = parser.parse(line.bytes, (message) => telemetry.logger.warn(message));
        if (parsed.ok) {
          // A parsed time of 0 means none was found: in_tail stamps such records now.
          const time = parsed.time !== null && (parsed.time.sec !== 0 || parsed.time.nsec !== 0) ? parsed.time : now;
          if (extra.length === 0) {
            writeEvent(writer, time.sec, time.nsec, null, parsed.body);
          } else {
            writeEventHeader(writer, time.sec, time.nsec, null);
            rewriteMap(writer, parsed.body, mapEntries(parsed.body) ?? [], { prefix: extra });
          }
          return;
        }
        telemetry.logger.debug(`parser '${parser.name}' could not parse a line of ${file.name}, keeping it whole: ${parsed.reason}`);
      }
      writeEventHeader(writer, now.sec, now.nsec, null);
      writer.mapHeader(extra.length + 1);
      for (const write of extra) write(writer);
      writer.str(keyName);
      writer.strUtf8(line.bytes);
    };

    const emitLines = (file: TailFile, lines: readonly LineView[]): void => {
      if (multiline !== null) {
        multiline.lines(file, config.skip_empty_lines ? lines.filter((line) => line.bytes.length > 0) : lines);
        return;
      }
      const now = eventTimeNow();
      writer.reset();
      let records = 0;
      for (const line of lines) {
        if (line.bytes.length === 0 && config.skip_empty_lines) continue;
        writeLine(file, line, now);
        records++;
      }
      if (records > 0) context.emit(writer.view(), records, file.tag);
    };

    const forget = async (file: TailFile, key: string, reason: string): Promise<void> => {
      // What the file's open multiline groups hold goes out before the file is let go.
      multiline?.close(file);
      files.delete(key);
      await file.close();
      db?.delete(file.dev, file.ino);
      scheduleDbSave();
      telemetry.logger.debug(`inode=${file.ino} ${reason}, remove monitor ${file.name}`);
    };

    /** Reads what is new in the file, handling truncation, rotation and long lines. */
    const check = async (file: TailFile): Promise<void> => {
      const key = OffsetsDb.key(file.dev, file.ino);
      if (stopped || files.get(key) !== file) return;
      const now = clock.nowMs();
      if (file.rotatedAtMs === null) {
        const current = await fs.promises.stat(file.name, { bigint: true }).catch(() => null);
        if (current === null || current.ino !== file.ino || current.dev !== file.dev) {
          file.rotatedAtMs = now;
          const newName = await fs.promises.readlink(`/proc/self/fd/${file.handle.fd}`).catch(() => '(unknown)');
          telemetry.logger.info(`inode=${file.ino} handle rotation(): ${file.name} => ${newName}`);
          // The new file at the old name is picked up at once, not at the next refresh_interval.
          requestScan();
        }
      }
      const size = (await file.handle.stat({ bigint: true })).size;
      if (size < BigInt(file.readOffset)) {
        telemetry.logger.info(`inode=${file.ino} file truncated ${file.name} (diff: ${BigInt(file.readOffset) - size} bytes)`);
        file.rewind(0);
      }
      while (!paused && !stopped) {
        const result = await file.read();
        if (result === null) break;
        if (result.abandon) {
          telemetry.event('error', `file=${file.name} requires a larger buffer size, lines are too long. Skipping file.`, 'wsbit_input_rejected_records_total');
          abandoned.add(key);
          await forget(file, key, 'abandoned');
          return;
        }
        if (result.skippedLongLines > 0) {
          telemetry.event('warn', `file=${file.name} have long lines. Skipping long lines.`, 'wsbit_input_rejected_records_total', result.skippedLongLines);
        }
        emitLines(file, result.lines);
        db?.set(file.name, file.dev, file.ino, file.committedOffset);
        scheduleDbSave();
      }
      if (file.rotatedAtMs !== null && !paused && !stopped && now - file.rotatedAtMs >= config.rotate_wait * 1000) {
        const rest = file.takeRest();
        if (rest !== null) emitLines(file, [rest]);
        await forget(file, key, 'rotated file done');
      }
    };

    const enqueue = (file: TailFile): void => {
      file.queue = file.queue.then(() => check(file)).catch((error: unknown) => telemetry.logger.error(`cannot read ${file.name}: ${errorMessage(error)}`));
    };

    /** Starts following `name`; offset from the db, else the end (first scan, read_from_head off), else 0. */
    const follow = async (name: string, stat: fs.BigIntStats): Promise<void> => {
      const key = OffsetsDb.key(stat.dev, stat.ino);
      const handle = await fs.promises.open(name, 'r');
      let offset = 0;
      const saved = db?.get(stat.dev, stat.ino);
      if (saved !== undefined) offset = BigInt(saved.offset) <= stat.size ? saved.offset : 0;
      else if (!firstScanDone && !config.read_from_head) offset = Number(stat.size);
      const file = new TailFile(name, stat.dev, stat.ino, tagFor(name), handle, offset, Math.max(1, config.buffer_chunk_size), Math.max(1, config.buffer_max_size), config.skip_long_lines ? 'skip' : 'abandon');
      files.set(key, file);
      db?.set(name, stat.dev, stat.ino, offset);
      telemetry.logger.debug(`inode=${stat.ino} with offset=${offset} appended as ${name}`);
      if (config.inotify_watcher) {
        try {
          file.watcher = fs.watch(name, { persistent: false }, () => enqueue(file));
          file.watcher.on('error', () => undefined);
        } catch {
          // Polling still covers this file.
        }
      }
      enqueue(file);
    };

    const scan = async (): Promise<void> => {
      const seen = new Set<string>();
      const cutoffMs = config.ignore_older > 0 ? clock.nowMs() - config.ignore_older * 1000 : null;
      for (const pattern of patterns) {
        for (const name of globFiles(pattern)) {
          if (excludes.some((exclude) => exclude.test(name))) continue;
          const stat = await fs.promises.stat(name, { bigint: true }).catch(() => null);
          if (stat === null) continue;
          const key = OffsetsDb.key(stat.dev, stat.ino);
          seen.add(key);
          if (files.has(key) || stopped) continue;
          if (abandoned.has(key)) continue;
          if (cutoffMs !== null && Number(stat.mtimeMs) < cutoffMs) continue;
          await follow(name, stat).catch((error: unknown) => telemetry.logger.error(`cannot open ${name}: ${errorMessage(error)}`));
        }
      }
      // A file given up on is followed again once it has been rotated or truncated away.
      for (const key of abandoned) if (!seen.has(key)) abandoned.delete(key);
      firstScanDone = true;
    };

    const requestScan = (): Promise<void> => {
      scanning = scanning.then(scan).catch((error: unknown) => telemetry.logger.error(`scan failed: ${errorMessage(error)}`));
      return scanning;
    };

    return {
      async start() {
        await requestScan();
        telemetry.logger.info(
          files.size === 0
            ? `no files match ${patterns.join(', ')} yet; checking every ${config.refresh_interval}s`
            : `following ${files.size} file${files.size === 1 ? '' : 's'} matching ${patterns.join(', ')}`,
        );
        saveDb();
        timers.push(clock.setInterval(() => void requestScan(), config.refresh_interval * 1000));
        timers.push(
          clock.setInterval(() => {
            if (!paused) for (const file of files.values()) enqueue(file);
          }, POLL_INTERVAL_MS),
        );
        if (multiline !== null) timers.push(clock.setInterval(() => multiline.flushIdle(), multiline.tickMs));
      },
      pause() {
        // Reads stop after the chunk in hand; change notifications are only queued.
        paused = true;
      },
      resume() {
        paused = false;
        for (const file of files.values()) enqueue(file);
      },
      async stop() {
        stopped = true;
        for (const timer of timers) timer.cancel();
        dbTimer?.cancel();
        dbTimer = null;
        await scanning;
        const open = [...files.values()];
        await Promise.all(open.map((file) => file.queue));
        for (const file of open) db?.set(file.name, file.dev, file.ino, file.committedOffset);
        saveDb();
        // Groups still open are emitted, not lost: the engine takes records until inputs have stopped.
        multiline?.flushAll();
        await Promise.all(open.map((file) => file.close()));
        files.clear();
      },
    };
  },
});
