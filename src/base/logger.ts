import { appendFileSync } from 'node:fs';

/**
 * Fluent Bit's log line: `[YYYY/MM/DD HH:MM:SS.mmm] [ info] [scope] message`, local time, with the
 * level right-aligned in five characters (src/flb_log.c:log_prepare_header).
 */
export const logLevels = ['off', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof logLevels)[number];
export type MessageLevel = Exclude<LogLevel, 'off'>;

const levelRank: Record<LogLevel, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };

export function parseLogLevel(text: string): LogLevel | undefined {
  const lower = text.trim().toLowerCase();
  if (lower === 'warning') return 'warn';
  return (logLevels as readonly string[]).includes(lower) ? (lower as LogLevel) : undefined;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

export function formatLogTimestamp(date: Date): string {
  return (
    `${date.getFullYear()}/${pad(date.getMonth() + 1, 2)}/${pad(date.getDate(), 2)} ` +
    `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.` +
    pad(date.getMilliseconds(), 3)
  );
}

export function formatLogLine(level: MessageLevel, scope: string, message: string, date: Date): string {
  const scopePart = scope === '' ? '' : `[${scope}] `;
  return `[${formatLogTimestamp(date)}] [${level.padStart(5, ' ')}] ${scopePart}${message}\n`;
}

/** How much of a value a peer sent (a path, a header, skipped bytes) a log line shows. */
export const UNTRUSTED_LOG_CHARS = 200;

/**
 * A value that came from outside (a request path or query, a header, bytes a client sent), made safe
 * for a log line: cut to `maxChars` characters and quoted with every control character, quote and
 * backslash escaped, so a peer can neither forge log lines with a newline nor flood one line. Bytes
 * are read as UTF-8 (invalid sequences show as U+FFFD); a cut value says how long it was.
 */
export function quoteUntrusted(value: string | Uint8Array, maxChars = UNTRUSTED_LOG_CHARS, totalBytes?: number): string {
  let text: string;
  let complete: boolean;
  let total: string;
  if (typeof value === 'string') {
    text = value;
    complete = true;
    total = `${value.length} characters`;
  } else {
    // Decode only what can be shown: a peer's 16 MB message costs a few hundred bytes here. A caller that
    // kept only the start of what arrived (a response body) gives the whole length as `totalBytes`.
    const shown = value.subarray(0, maxChars * 4);
    const length = Math.max(totalBytes ?? value.length, value.length);
    text = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('utf8');
    complete = shown.length === length;
    total = `${length} bytes`;
  }
  if (complete && text.length <= maxChars) return JSON.stringify(text);
  // Never cut a surrogate pair in half: JSON.stringify would show the half as \udxxx.
  let end = Math.min(maxChars, text.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${JSON.stringify(text.slice(0, end))}… (${total})`;
}

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => process.stderr.write(line) };

export function fileSink(path: string): LogSink {
  // Synchronous appends keep lines whole and ordered even when the process is about to exit.
  return { write: (line) => appendFileSync(path, line) };
}

/**
 * What a burst of one message looks like in the log: the first `burst` lines of a window are printed,
 * the rest only counted, and one summary line gives that count when the window closes.
 */
export interface RepeatLimit {
  burst: number;
  windowMs: number;
}

/**
 * The named repeat policies. `flood` holds every info, warn and error line unless it names another
 * (a peer that retries a refused request a thousand times). `perRecord` is for a line code could write
 * for every record or event (a value of the wrong type, a record that keeps its tag): once a minute,
 * then the summary. An episode that is told as state changes (an outage) is a LogEpisode.
 */
export const repeatPolicies = {
  flood: { burst: 5, windowMs: 10_000 },
  perRecord: { burst: 1, windowMs: 60_000 },
} as const satisfies Record<string, Readonly<RepeatLimit>>;

export const defaultRepeatLimit: Readonly<RepeatLimit> = repeatPolicies.flood;

/** Most distinct messages tracked at once; past it, new messages are printed untracked (memory stays bounded). */
const MAX_TRACKED_MESSAGES = 1000;

/**
 * The identity of a message for the repeat limit. Messages that differ only in what a peer or a
 * counter puts in them are one message: quoted values (quoteUntrusted's output, chosen by the peer)
 * become `"…"`, and every run of digits, with the hex letters, dots and colons around it (addresses,
 * ports, counts, chunk ids), becomes `#`. So 1,100 refused upgrades from 1,100 source ports are one
 * message, while a refusal for a wrong token and one for a wrong origin stay apart by their words.
 */
export function repeatKey(message: string): string {
  return message.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/[0-9a-fA-F:.]*[0-9][0-9a-fA-F:.]*/g, '#');
}

interface Repeats {
  limit: Readonly<RepeatLimit>;
  /** Lines with this key in the current window: printed ones and suppressed ones. */
  count: number;
  suppressed: number;
  level: MessageLevel;
  scope: string;
  /** The last message suppressed, as the summary shows it. */
  last: string;
  timer: NodeJS.Timeout | null;
}

/** The root of all loggers; scoped children share its level and sink so `-v` changes them all. */
export class LogRoot {
  level: LogLevel;
  sink: LogSink;
  now: () => Date;
  readonly repeatLimit: RepeatLimit;
  private readonly repeats = new Map<string, Repeats>();
  /** Windows holding suppressed lines: while there are any, their summaries are written at exit too. */
  private windowsWithSummary = 0;

  constructor(options: { level?: LogLevel; sink?: LogSink; now?: () => Date; repeatLimit?: RepeatLimit } = {}) {
    this.level = options.level ?? 'info';
    this.sink = options.sink ?? stderrSink;
    this.now = options.now ?? (() => new Date());
    this.repeatLimit = options.repeatLimit ?? defaultRepeatLimit;
  }

  scoped(scope: string, levelOverride?: LogLevel): Logger {
    return new Logger(this, scope, levelOverride);
  }

  /**
   * Writes one line, unless the same message (by repeatKey, or the caller's `key`) from the same scope
   * has already been written `burst` times in this window: then it is counted, and summarised when the
   * window closes. Debug and trace lines, asked for with -v, are never held back.
   */
  write(level: MessageLevel, scope: string, message: string, limit: Readonly<RepeatLimit> = this.repeatLimit, key = repeatKey(message)): void {
    if (level === 'debug' || level === 'trace') {
      this.sink.write(formatLogLine(level, scope, message, this.now()));
      return;
    }
    const fullKey = `${level} ${scope} ${key}`;
    let repeats = this.repeats.get(fullKey);
    if (repeats === undefined && this.repeats.size < MAX_TRACKED_MESSAGES) {
      repeats = { limit, count: 0, suppressed: 0, level, scope, last: message, timer: null };
      this.repeats.set(fullKey, repeats);
      // The window starts at the first line; when it closes, the count starts over.
      const entry = repeats;
      const timer = setTimeout(() => this.closeWindow(fullKey, entry), limit.windowMs);
      timer.unref();
      repeats.timer = timer;
    }
    if (repeats !== undefined && ++repeats.count > repeats.limit.burst) {
      if (repeats.suppressed++ === 0 && this.windowsWithSummary++ === 0) process.on('exit', this.flushOnExit);
      repeats.last = message;
      return;
    }
    this.sink.write(formatLogLine(level, scope, message, this.now()));
  }

  /** Writes the summaries of every open window now (at exit, or when a pipeline stops). */
  flushRepeats(): void {
    for (const [key, repeats] of [...this.repeats]) this.closeWindow(key, repeats);
  }

  private readonly flushOnExit = (): void => this.flushRepeats();

  private closeWindow(key: string, repeats: Repeats): void {
    if (this.repeats.get(key) !== repeats) return;
    this.repeats.delete(key);
    if (repeats.timer !== null) clearTimeout(repeats.timer);
    if (repeats.suppressed === 0) return;
    if (--this.windowsWithSummary === 0) process.off('exit', this.flushOnExit);
    const seconds = Math.round(repeats.limit.windowMs / 100) / 10;
    const summary = `${repeats.last} (… repeated ${repeats.suppressed} more ${repeats.suppressed === 1 ? 'time' : 'times'} in the last ${seconds} s)`;
    this.sink.write(formatLogLine(repeats.level, repeats.scope, summary, this.now()));
  }
}

/**
 * An episode (an outage, a run of failures) told as a few state changes instead of a line per event:
 * `begin()` is true for the event that opens it, `firstOf(kind)` once per kind of event within it, and
 * `reminderDue()` at gaps that double from `firstReminderMs` up to `maxReminderMs`, for a "still
 * failing" line. An episode that must never go quiet for long (a refusal nobody fixes) sets the cap.
 */
export class LogEpisode {
  private startedMs: number | null = null;
  private readonly seenKinds = new Set<string>();
  private nextReminderMs = 0;
  private reminderGapMs: number;

  constructor(
    private readonly nowMs: () => number,
    private readonly firstReminderMs = 60_000,
    private readonly maxReminderMs = Infinity,
  ) {
    this.reminderGapMs = firstReminderMs;
  }

  /** When the episode began, or null outside one. */
  get sinceMs(): number | null {
    return this.startedMs;
  }

  /** Opens the episode unless one is under way; true when this call opened it. */
  begin(): boolean {
    if (this.startedMs !== null) return false;
    this.startedMs = this.nowMs();
    this.restartReminders();
    return true;
  }

  /** The next reminder comes `firstReminderMs` from now again (the episode flared up anew). */
  restartReminders(): void {
    this.reminderGapMs = this.firstReminderMs;
    this.nextReminderMs = this.nowMs() + this.reminderGapMs;
  }

  /** True the first time this kind of event happens in the episode. */
  firstOf(kind: string): boolean {
    if (this.seenKinds.has(kind)) return false;
    this.seenKinds.add(kind);
    return true;
  }

  /** True when a reminder is due; the gap to the next one doubles, up to `maxReminderMs`. */
  reminderDue(): boolean {
    const now = this.nowMs();
    if (now < this.nextReminderMs) return false;
    this.reminderGapMs = Math.min(this.reminderGapMs * 2, this.maxReminderMs);
    this.nextReminderMs = now + this.reminderGapMs;
    return true;
  }

  /** Closes the episode; returns when it began, or null if none was under way. */
  end(): number | null {
    const since = this.startedMs;
    this.startedMs = null;
    this.seenKinds.clear();
    return since;
  }
}

export interface RepeatingLine {
  log(message: string): void;
}

/** Tells the keys of repeating lines apart; repeatKey turns every digit into `#`, so no message has such a key. */
let nextRepeatingLine = 0;

export class Logger {
  constructor(
    private readonly root: LogRoot,
    readonly scope: string,
    private readonly levelOverride?: LogLevel,
  ) {}

  enabled(level: MessageLevel): boolean {
    return levelRank[level] <= levelRank[this.levelOverride ?? this.root.level];
  }

  log(level: MessageLevel, message: string): void {
    if (!this.enabled(level)) return;
    this.root.write(level, this.scope, message);
  }

  /**
   * A line this code may have to write again and again (for every record, say), held back by `limit`:
   * all messages given to the returned line count as one, whatever values they carry, so a flood of
   * distinct tags or keys still makes one summary. It needs no timer of its own, so nothing to stop.
   */
  repeating(level: MessageLevel, limit: Readonly<RepeatLimit> = repeatPolicies.perRecord): RepeatingLine {
    const key = `line ${nextRepeatingLine++}`;
    return {
      log: (message) => {
        if (this.enabled(level)) this.root.write(level, this.scope, message, limit, key);
      },
    };
  }

  error(message: string): void {
    this.log('error', message);
  }
  warn(message: string): void {
    this.log('warn', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  debug(message: string): void {
    this.log('debug', message);
  }
  trace(message: string): void {
    this.log('trace', message);
  }

  child(scope: string, levelOverride?: LogLevel): Logger {
    return this.root.scoped(scope, levelOverride ?? this.levelOverride);
  }
}
