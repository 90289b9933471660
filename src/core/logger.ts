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
export function quoteUntrusted(value: string | Uint8Array, maxChars = UNTRUSTED_LOG_CHARS): string {
  let text: string;
  let complete: boolean;
  let total: string;
  if (typeof value === 'string') {
    text = value;
    complete = true;
    total = `${value.length} characters`;
  } else {
    // Decode only what can be shown: a peer's 16 MB message costs a few hundred bytes here.
    const shown = value.subarray(0, maxChars * 4);
    text = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('utf8');
    complete = shown.length === value.length;
    total = `${value.length} bytes`;
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

/** The root of all loggers; scoped children share its level and sink so `-v` changes them all. */
export class LogRoot {
  level: LogLevel;
  sink: LogSink;
  now: () => Date;

  constructor(options: { level?: LogLevel; sink?: LogSink; now?: () => Date } = {}) {
    this.level = options.level ?? 'info';
    this.sink = options.sink ?? stderrSink;
    this.now = options.now ?? (() => new Date());
  }

  scoped(scope: string, levelOverride?: LogLevel): Logger {
    return new Logger(this, scope, levelOverride);
  }
}

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
    this.root.sink.write(formatLogLine(level, this.scope, message, this.root.now()));
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
