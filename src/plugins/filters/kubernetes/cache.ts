/**
 * The metadata cache: a bounded map (least recently used out first) of what a fetch gave, with its
 * age, and the fetches in flight, so one pod is asked for once however many records wait for it.
 */

export interface Cached<T> {
  /** Null: the fetch failed; records pass without this metadata until `retryMs` has passed. */
  value: T | null;
  at: number;
}

export type Lookup<T> = { ready: true; value: T | null } | { ready: false; settled: Promise<void> };

export class MetaCache<T> {
  private readonly entries = new Map<string, Cached<T>>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly limits: {
      capacity: number;
      /** Age after which a value is fetched again (0: never); the old value serves meanwhile. */
      ttlMs: number;
      /** Age after which a failed fetch is tried again. */
      retryMs: number;
      now(): number;
    },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** What is known of `key` now; a miss starts `fetch` (once) and says when it settles. */
  lookup(key: string, fetch: () => Promise<T>, onError: (error: unknown) => void): Lookup<T> {
    const cached = this.entries.get(key);
    const now = this.limits.now();
    if (cached !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      const age = now - cached.at;
      const stale = cached.value === null ? age >= this.limits.retryMs : this.limits.ttlMs > 0 && age >= this.limits.ttlMs;
      if (!stale) return { ready: true, value: cached.value };
      // A stale value serves while it is fetched again; a failure is not retried more than once at a time.
      this.start(key, fetch, onError, cached.value);
      if (cached.value !== null) return { ready: true, value: cached.value };
    }
    return { ready: false, settled: this.start(key, fetch, onError, null) };
  }

  /** The value `key` has now, without fetching (null: none, or the fetch failed). */
  peek(key: string): Cached<T> | undefined {
    return this.entries.get(key);
  }

  clear(): void {
    this.entries.clear();
    this.inFlight.clear();
  }

  private start(key: string, fetch: () => Promise<T>, onError: (error: unknown) => void, previous: T | null): Promise<void> {
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const settled = fetch().then(
      (value) => this.store(key, value),
      (error: unknown) => {
        onError(error);
        // A refresh that fails keeps the old value (for another TTL) rather than dropping metadata.
        this.store(key, previous);
      },
    );
    const tracked = settled.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, tracked);
    return tracked;
  }

  private store(key: string, value: T | null): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.limits.now() });
    while (this.entries.size > this.limits.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
