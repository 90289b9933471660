import { printTable, quick } from './harness.js';
import { wsbit } from './lib/agents.js';
import { slope, steadyLoad } from './lib/steady-load.js';

/**
 * Soak (issue 21, point 6): tcp json (100 B records) at a steady 5,000 records/s → websocket
 * json_lines → the sink, which is killed and started again every 90 s, so wsbit reconnects and
 * retries over and over as it would against a real server that restarts. Prints wsbit's RSS once a
 * minute and the slope of a least-squares line over the last 30 minutes of those samples: a leak
 * shows as a slope that stays positive; a pool that grows to a working size shows as steps that
 * flatten. (The memory benchmark runs the same load without the restarts, sampled every 10 s.)
 *
 * WSBIT_SOAK_MINUTES (default 60; 3 with WSBIT_BENCH_QUICK=1) makes it shorter or longer; it is the
 * one benchmark `npm run bench` leaves out unless asked for by name (`npm run bench -- soak`).
 */
const RECORD_BYTES = 100;
const RECORDS_PER_SECOND = 5_000;
const RESTART_EVERY_MS = 90_000;
const SLOPE_WINDOW_MINUTES = 30;
const minutes = Number(process.env['WSBIT_SOAK_MINUTES'] ?? (quick ? 3 : 60));
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`WSBIT_SOAK_MINUTES must be a positive number, got '${process.env['WSBIT_SOAK_MINUTES']}'`);

console.log(`soak: ${minutes} min at ${RECORDS_PER_SECOND} records/s, the sink restarted every ${RESTART_EVERY_MS / 1000} s`);
const result = await steadyLoad({
  agent: wsbit,
  minutes,
  recordsPerSecond: RECORDS_PER_SECOND,
  recordBytes: RECORD_BYTES,
  sampleEveryMs: 60_000,
  restartEveryMs: RESTART_EVERY_MS,
  stallMs: 120_000,
  progress: (line) => console.log(line),
});
const { samples } = result;
const perMinute = slope(samples.filter(([minute]) => minute >= minutes - SLOPE_WINDOW_MINUTES));
printTable(`Soak: tcp json 100 B at ${RECORDS_PER_SECOND} rec/s → websocket json_lines, sink restarted every ${RESTART_EVERY_MS / 1000} s${quick ? ', QUICK' : ''}`, [
  {
    minutes,
    'records sent': result.sent.toLocaleString('en'),
    'records received': result.received.toLocaleString('en'),
    'sink restarts': result.restarts,
    'RSS MB first / last minute': `${(samples[0]?.[1] ?? 0).toFixed(1)} / ${(samples[samples.length - 1]?.[1] ?? 0).toFixed(1)}`,
    'peak RSS MB': result.peakRssMb.toFixed(1),
    [`RSS slope, last ${Math.min(minutes, SLOPE_WINDOW_MINUTES)} min`]: `${perMinute.toFixed(3)} MB/min (${(perMinute * 60).toFixed(1)} MB/h)`,
  },
]);
if (result.received < result.sent) {
  console.error(`soak: ${(result.sent - result.received).toLocaleString('en')} records never arrived`);
  process.exitCode = 1;
}
