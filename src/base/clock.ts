/**
 * Time as the engine sees it. Flush timers and retry backoff go through this interface so tests can
 * drive them with a manual clock instead of sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  setInterval(callback: () => void, intervalMs: number): TimerHandle;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(callback, intervalMs) {
    const handle = setInterval(callback, intervalMs);
    return { cancel: () => clearInterval(handle) };
  },
};

interface ManualTimer {
  id: number;
  dueMs: number;
  intervalMs: number | null;
  callback: () => void;
}

/** A clock that only moves when a test calls `advance`. Timers fire in due order. */
export class ManualClock implements Clock {
  private currentMs: number;
  private timers: ManualTimer[] = [];
  private nextId = 1;

  constructor(startMs = 0) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.add(callback, delayMs, null);
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    return this.add(callback, intervalMs, Math.max(1, intervalMs));
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing every timer that falls due, and lets promise callbacks run between them. */
  async advance(deltaMs: number): Promise<void> {
    const targetMs = this.currentMs + deltaMs;
    for (;;) {
      await flushMicrotasks();
      const next = this.timers.reduce<ManualTimer | undefined>(
        (best, timer) => (best === undefined || timer.dueMs < best.dueMs ? timer : best),
        undefined,
      );
      if (next === undefined || next.dueMs > targetMs) break;
      this.currentMs = Math.max(this.currentMs, next.dueMs);
      if (next.intervalMs === null) this.timers = this.timers.filter((timer) => timer !== next);
      else next.dueMs += next.intervalMs;
      next.callback();
    }
    this.currentMs = targetMs;
    await flushMicrotasks();
  }

  private add(callback: () => void, delayMs: number, intervalMs: number | null): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, dueMs: this.currentMs + Math.max(0, delayMs), intervalMs, callback };
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((t) => t !== timer)) };
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
