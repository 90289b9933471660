import type { Logger, MessageLevel } from './logger.js';
import type { MetricName, MetricsRegistry } from './metrics.js';

/**
 * Operational events are logged and counted in one place: a plugin says what happened once, and
 * both the log line and the metric follow from that.
 */
export class Telemetry {
  constructor(
    readonly instance: string,
    readonly logger: Logger,
    readonly metrics: MetricsRegistry,
  ) {}

  count(metric: MetricName, delta = 1): void {
    this.metrics.add(metric, this.instance, delta);
  }

  gauge(metric: MetricName, value: number): void {
    this.metrics.set(metric, this.instance, value);
  }

  event(level: MessageLevel, message: string, metric?: MetricName, delta = 1): void {
    this.logger.log(level, message);
    if (metric !== undefined) this.count(metric, delta);
  }
}
