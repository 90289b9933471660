import { formatLogTimestamp, LogEpisode, type Logger } from '../base/logger.js';

/** The first "still failing" reminder of an outage; later ones come at doubling gaps. */
const firstOutageReminderMs = 60_000;

/** Chunks and records an output still has to deliver. */
export interface Backlog {
  chunks: number;
  records: number;
}

/**
 * An outage of an output that calls notifyReady(): such an output retries as soon as its connection
 * is back, so its per-chunk retry lines go to debug and the outage is told as state changes instead:
 * down, still down (at doubling gaps), delivering again, caught up. Fluent Bit writes a line per chunk
 * per retry, which a long outage turns into a flood.
 */
export class OutageNarration {
  private readonly episode: LogEpisode;
  /** Set by the first delivery after the failures: from then on, what was caught up is counted. */
  private deliveringSinceMs: number | null = null;
  private deliveredChunks = 0;
  private deliveredRecords = 0;

  constructor(
    private readonly outputInstance: string,
    private readonly logger: Logger,
    private readonly nowMs: () => number,
  ) {
    this.episode = new LogEpisode(nowMs, firstOutageReminderMs);
  }

  get active(): boolean {
    return this.episode.sinceMs !== null;
  }

  /** A flush failed; `waiting` includes the failed chunk. */
  failed(waiting: Backlog, waitSeconds: number): void {
    const wait = `${plural(waiting.chunks, 'chunk')} (${plural(waiting.records, 'record')}) wait`;
    // True whichever comes first: the output's own reconnect (notifyReady) or the engine's timer.
    const next = `the next attempt as soon as the output is back, at the latest in ${waitSeconds} s`;
    const opened = this.episode.begin();
    if (opened || this.deliveringSinceMs !== null) {
      if (!opened) this.episode.restartReminders();
      this.deliveringSinceMs = null;
      this.logger.warn(`[engine] output ${this.outputInstance} cannot deliver${opened ? '' : ' again'}: ${wait}; ${next}`);
      return;
    }
    if (!this.episode.reminderDue()) return;
    const sinceMs = this.episode.sinceMs as number;
    this.logger.warn(
      `[engine] output ${this.outputInstance} still cannot deliver, since ${formatLogTimestamp(new Date(sinceMs))} (${seconds(this.nowMs() - sinceMs)} s): ${wait}; ${next}`,
    );
  }

  /** A chunk of `records` was delivered during the outage; `remaining` is what is still to go. */
  delivered(records: number, remaining: Backlog): void {
    const now = this.nowMs();
    const sinceMs = this.episode.sinceMs;
    if (sinceMs === null) return;
    if (this.deliveringSinceMs === null) {
      this.deliveringSinceMs = now;
      this.logger.info(
        `[engine] output ${this.outputInstance} delivers again after ${seconds(now - sinceMs)} s (failing since ${formatLogTimestamp(new Date(sinceMs))}); ${plural(remaining.chunks, 'more chunk')} (${plural(remaining.records, 'record')}) to catch up`,
      );
    }
    this.deliveredChunks++;
    this.deliveredRecords += records;
    if (remaining.chunks > 0) return;
    this.logger.info(
      `[engine] output ${this.outputInstance} caught up: delivered ${plural(this.deliveredChunks, 'chunk')} (${plural(this.deliveredRecords, 'record')}) in ${seconds(now - this.deliveringSinceMs)} s after an outage of ${seconds(this.deliveringSinceMs - sinceMs)} s`,
    );
    this.episode.end();
    this.deliveringSinceMs = null;
    this.deliveredChunks = 0;
    this.deliveredRecords = 0;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Milliseconds as seconds with one decimal, for log lines. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
