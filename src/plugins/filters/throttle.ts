import { defineFilter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { throttleManifest } from './throttle/schema.js';

/** How often the count of records dropped is written to the log at most. */
const dropReportIntervalMs = 60_000;

/**
 * Fluent Bit's `throttle` filter (`plugins/filter_throttle`, a sliding window): a ring of `Window`
 * panes, one per `Interval`, counts the records let through. A record is dropped while the average
 * over the panes (`total / Window`) has reached `Rate`; every interval the oldest pane is emptied and
 * becomes the current one. Fluent Bit moves the window from a timer thread; here it moves when records
 * arrive, by the intervals the clock says have passed, which gives the same decisions and needs no
 * timer. Dropped records are counted in `fluentbit_filter_drop_records_total` and summarised in the log.
 */
export const throttleFilter = defineFilter({
  ...throttleManifest,
  create(context) {
    const { config, clock, logger } = context;
    // As `configure` in throttle.c: out-of-range values fall back to the defaults.
    const rate = config.rate > 1 ? config.rate : 1;
    const windowSize = config.window > 1 ? config.window : 5;
    if (rate !== config.rate) logger.info(`rate ${config.rate} is not above 1: using 1 (as Fluent Bit does)`);
    if (windowSize !== config.window) logger.info(`window ${config.window} is not above 1: using 5 (as Fluent Bit does)`);
    // Fluent Bit's ticker sleeps a whole number of seconds and adds a pane at most once a second.
    const tickMs = Math.max(1, Math.trunc(config.interval.seconds)) * 1000;
    const panes = new Array<number>(windowSize).fill(0);
    let current = 0;
    let total = 0;
    let lastTickMs = clock.nowMs();
    let dropped = 0;
    let lastReportMs = -Infinity;
    const rewriter = new EventRewriter();

    /** Moves the window by the intervals that have passed since the last move. */
    const slide = (nowMs: number): void => {
      const ticks = Math.floor((nowMs - lastTickMs) / tickMs);
      if (ticks <= 0) return;
      lastTickMs += ticks * tickMs;
      for (let i = 0; i < Math.min(ticks, windowSize); i++) {
        current = (current + 1) % windowSize;
        total -= panes[current] ?? 0;
        panes[current] = 0;
      }
      if (config.print_status) {
        logger.info(
          `${Math.floor(nowMs / 1000)}: limit is ${rate.toFixed(2)} per ${config.interval.text} with window size of ${windowSize}, ` +
            `current rate is: ${Math.trunc(total / windowSize)} per interval`,
        );
      }
    };

    return {
      filter(events, records) {
        const nowMs = clock.nowMs();
        slide(nowMs);
        const out = rewriter.rewrite(events, records, () => {
          if (total / windowSize >= rate) return 'drop';
          panes[current] = (panes[current] ?? 0) + 1;
          total++;
          return 'keep';
        });
        countFilterRecords(context.telemetry, records, out.records);
        dropped += records - out.records;
        // The first drop is logged at once; later ones are added up and logged at most once a minute.
        if (dropped > 0 && nowMs - lastReportMs >= dropReportIntervalMs) {
          const since = Number.isFinite(lastReportMs) ? ` in the last ${Math.round((nowMs - lastReportMs) / 1000)}s` : '';
          logger.info(`${dropped} records dropped${since}: more than ${rate} per ${config.interval.text} on average over ${windowSize} intervals`);
          dropped = 0;
          lastReportMs = nowMs;
        }
        return out;
      },
    };
  },
});
