/**
 * A record's timestamp: whole seconds and nanoseconds since the epoch, as Fluent Bit's EventTime.
 * `Date.now()` only has milliseconds, so the sub-millisecond part comes from the monotonic clock
 * anchored to the wall clock at start-up; timestamps within one process never go backwards.
 */
export interface EventTime {
  sec: number;
  nsec: number;
}

const anchorWallMs = Date.now();
const anchorMonotonicNs = process.hrtime.bigint();

export function eventTimeNow(): EventTime {
  const elapsedNs = process.hrtime.bigint() - anchorMonotonicNs;
  const totalNs = BigInt(anchorWallMs) * 1_000_000n + elapsedNs;
  return { sec: Number(totalNs / 1_000_000_000n), nsec: Number(totalNs % 1_000_000_000n) };
}

export function eventTimeFromSeconds(seconds: number): EventTime {
  const sec = Math.floor(seconds);
  return { sec, nsec: Math.min(999_999_999, Math.round((seconds - sec) * 1e9)) };
}
