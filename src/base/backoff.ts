/**
 * Fluent Bit's retry wait (src/flb_scheduler.c): a whole number of seconds drawn uniformly from
 * [base, min(cap, base * 2^attempts)], plus one.
 */
export function retryWaitSeconds(attempts: number, baseSeconds: number, capSeconds: number, random = Math.random): number {
  const ceiling = Math.max(baseSeconds, Math.min(capSeconds, baseSeconds * 2 ** Math.min(attempts, 30)));
  return baseSeconds + Math.floor(random() * (ceiling - baseSeconds + 1)) + 1;
}

/**
 * A short reconnect backoff with full jitter, for outputs that own a connection: the delay grows
 * from `initialMs` to `maxMs`, and each wait is drawn from [delay/2, delay] so many agents do not
 * reconnect in lockstep.
 */
export class ReconnectBackoff {
  private failures = 0;

  constructor(
    private readonly initialMs = 500,
    private readonly maxMs = 10_000,
    private readonly random = Math.random,
  ) {}

  nextDelayMs(): number {
    const delay = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    return Math.round(delay / 2 + this.random() * (delay / 2));
  }

  reset(): void {
    this.failures = 0;
  }
}
