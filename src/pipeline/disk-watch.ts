import type { Clock, TimerHandle } from '../base/clock.js';
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import type { Telemetry } from '../base/telemetry.js';

/**
 * How often a failing disk is tried again, in seconds. Fluent Bit has no service key for this rhythm
 * (its `storage.backlog.*` keys set memory, not time), so wsbit uses a fixed, documented default.
 */
export const DEFAULT_DISK_PROBE_SECONDS = 2;

/** What `/api/v1/storage` shows about the disk. */
export interface DiskStateReport {
  writable: boolean;
  /** The error of the write that failed (e.g. `ENOSPC: no space left on device`), while failing. */
  reason: string | null;
  failingSinceMs: number | null;
  /** Records the inputs refused (not acknowledged) during the current failure. */
  heldBackRecords: number;
}

/**
 * The state "chunk writes fail" for the filesystem storage. While it lasts, every filesystem input is
 * paused and refuses what it is offered, so nothing is acknowledged that is not in a chunk file; a
 * probe write every `probeSeconds` ends it. One error line when it starts, one info line when it ends.
 */
export class DiskWatch {
  private failure: { sinceMs: number; reason: string; heldBack: number } | null = null;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly probeSeconds: number,
    /** Writes a probe of about `bytes` to the disk and removes it; throws when the disk still fails. */
    private readonly probe: (bytes: number) => void,
    /** Called on entering and on leaving the state, so the engine pauses or resumes its inputs. */
    private readonly changed: () => void,
    private readonly telemetry: Telemetry | null,
  ) {}

  get failing(): boolean {
    return this.failure !== null;
  }

  /** A chunk write failed with `error` while `bytes` were being written. */
  failed(error: unknown, chunkId: string, bytes: number): void {
    this.telemetry?.count('fluentbit_storage_write_errors_total');
    if (this.failure !== null) return;
    const reason = errorMessage(error);
    this.failure = { sinceMs: this.clock.nowMs(), reason, heldBack: 0 };
    this.telemetry?.gauge('fluentbit_storage_writes_failing', 1);
    this.logger.error(
      `[storage] cannot write chunk '${chunkId}': ${reason}; inputs with filesystem storage are paused and acknowledge nothing until a write succeeds (checked every ${this.probeSeconds} s)`,
    );
    this.changed();
    this.schedule(bytes);
  }

  /** An input refused `records` it was offered, or kept them unacknowledged: its sender keeps them. */
  heldBack(records: number): void {
    if (this.failure !== null) this.failure.heldBack += records;
  }

  report(): DiskStateReport {
    const failure = this.failure;
    return { writable: failure === null, reason: failure?.reason ?? null, failingSinceMs: failure?.sinceMs ?? null, heldBackRecords: failure?.heldBack ?? 0 };
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private schedule(bytes: number): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => this.check(bytes), this.probeSeconds * 1000);
  }

  private check(bytes: number): void {
    this.timer = null;
    const failure = this.failure;
    if (failure === null) return;
    try {
      this.probe(bytes);
    } catch (error) {
      failure.reason = errorMessage(error);
      this.schedule(bytes);
      return;
    }
    this.failure = null;
    this.telemetry?.gauge('fluentbit_storage_writes_failing', 0);
    const seconds = Math.round((this.clock.nowMs() - failure.sinceMs) / 100) / 10;
    this.logger.info(`[storage] disk writable again after ${seconds} s; ${failure.heldBack} records held back by the inputs`);
    this.changed();
  }
}
