import type { MetricsRegistry } from '../base/metrics.js';

export interface HealthSettings {
  /** `HC_Errors_Count`: output errors within one period that make the agent unhealthy. */
  errorsCount: number;
  /** `HC_Retry_Failure_Count`: abandoned retries within one period that make it unhealthy. */
  retryFailureCount: number;
  /** `HC_Period` in seconds. */
  periodSeconds: number;
}

/**
 * Fluent Bit's health check: at the end of every period the output error and retry-failure
 * counters are compared with the previous period's; the agent is unhealthy while either grew by
 * more than its threshold, and healthy again after a calm period. Beyond Fluent Bit, it is unhealthy
 * too while chunk writes fail (disk full), since its inputs then refuse records.
 *
 * Beyond Fluent Bit: an output whose server refuses it for good (`wsbit_output_refused`, set by the
 * websocket output on a 401, 403 or 404 or an untrusted certificate) makes the agent unhealthy at
 * once and for as long as it lasts. Such an output retries forever at a slow rhythm, so its error
 * count may never pass HC_Errors_Count in a period, and nothing else would show it.
 */
export class HealthCheck {
  private previous = { errors: 0, retryFailures: 0 };
  private healthy = true;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly settings: HealthSettings,
  ) {
    this.previous = this.totals();
  }

  start(): void {
    this.timer = setInterval(() => this.evaluate(), Math.max(1, this.settings.periodSeconds) * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Closes the current period; exposed so tests need not wait for real periods. */
  evaluate(): void {
    const now = this.totals();
    const errors = now.errors - this.previous.errors;
    const retryFailures = now.retryFailures - this.previous.retryFailures;
    this.healthy = errors <= this.settings.errorsCount && retryFailures <= this.settings.retryFailureCount;
    this.previous = now;
  }

  get isHealthy(): boolean {
    return this.healthy && !this.refused();
  }

  /**
   * Read live on every request: the refusal ends with the handshake that succeeds, and a failing disk
   * (`fluentbit_storage_writes_failing`: inputs paused, nothing acknowledged) with the write that
   * succeeds, not at a period's end.
   */
  private refused(): boolean {
    return this.metrics.snapshot().some(({ metric, value }) => (metric === 'wsbit_output_refused' || metric === 'fluentbit_storage_writes_failing') && value > 0);
  }

  private totals(): { errors: number; retryFailures: number } {
    let errors = 0;
    let retryFailures = 0;
    for (const { metric, value } of this.metrics.snapshot()) {
      if (metric === 'fluentbit_output_errors_total') errors += value;
      if (metric === 'fluentbit_output_retries_failed_total') retryFailures += value;
    }
    return { errors, retryFailures };
  }
}
