import type { Clock } from '../../base/clock.js';
import type { Logger, MessageLevel } from '../../base/logger.js';

/**
 * A log line that a filter may have to write for every record (a value of the wrong type, a dropped
 * record), summarised: the first one is written at once, later ones within `intervalMs` are only
 * counted, and the next one after that says how many were left out. It needs no timer, so a filter
 * that uses it has nothing to stop.
 */
export class RepeatedLog {
  private windowStartMs = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly level: MessageLevel,
    private readonly intervalMs = 60_000,
  ) {}

  log(message: string): void {
    const now = this.clock.nowMs();
    if (now - this.windowStartMs < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const note = this.suppressed > 0 ? ` (and ${this.suppressed} more like it in the last ${Math.round((now - this.windowStartMs) / 1000)}s)` : '';
    this.logger.log(this.level, message + note);
    this.windowStartMs = now;
    this.suppressed = 0;
  }
}
