import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { currentRssMb, freePorts, printTable, quick, sleep, stopProcess, waitForPort, waitUntil } from './harness.js';
import { classicConf, wsbit } from './lib/agents.js';
import { startSink, type Sink } from './lib/sink-client.js';
import { sendNumbered } from './lib/senders.js';

/**
 * Soak (issue 21, point 6): tcp json (100 B records) at a steady 5,000 records/s → websocket
 * json_lines → the sink, which is killed and started again every 90 s, so wsbit reconnects and
 * retries over and over as it would against a real server that restarts. Prints wsbit's RSS once a
 * minute and the slope of a least-squares line over the last 30 minutes of those samples: a leak
 * shows as a slope that stays positive; a pool that grows to a working size shows as steps that
 * flatten.
 *
 * WSBIT_SOAK_MINUTES (default 60; 3 with WSBIT_BENCH_QUICK=1) makes it shorter or longer; it is the
 * one benchmark `npm run bench` leaves out unless asked for by name (`npm run bench -- soak`).
 */
const RECORD_BYTES = 100;
const RECORDS_PER_SECOND = 5_000;
const RESTART_EVERY_MS = 90_000;
/** How long the sink stays down at each restart: long enough for wsbit to see it gone and retry. */
const DOWN_MS = 3_000;
const SLOPE_WINDOW_MINUTES = 30;
const minutes = Number(process.env['WSBIT_SOAK_MINUTES'] ?? (quick ? 3 : 60));
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`WSBIT_SOAK_MINUTES must be a positive number, got '${process.env['WSBIT_SOAK_MINUTES']}'`);

/** MB per minute of the least-squares line through (minute, RSS) points; NaN with fewer than 2. */
function slope(points: Array<[number, number]>): number {
  if (points.length < 2) return Number.NaN;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return covariance / variance;
}

const records = Math.round(minutes * 60 * RECORDS_PER_SECOND);
const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-bench-soak-'));
const [sinkPort, port] = (await freePorts(2)) as [number, number];
const conf = path.join(dir, 'soak.conf');
writeFileSync(
  conf,
  classicConf({
    input: { name: 'tcp', port },
    inputKeys: [['Mem_Buf_Limit', '10M']],
    output: { port: sinkPort, format: 'json_lines' },
    flushSeconds: 0.2,
  }),
);
const agent = wsbit.start(conf);
const pid = agent.child.pid as number;
/** Records received by sinks already stopped; the running one adds its own count. */
let receivedBefore = 0;
let sink: Sink | null = null;
let restarts = 0;
const received = (): number => receivedBefore + (sink?.records() ?? 0);
const samples: Array<[number, number]> = [];
try {
  sink = await startSink({ format: 'json_lines', marker: 'json', port: sinkPort });
  await waitForPort(port, 15_000, 'wsbit', agent);
  console.log(`soak: ${minutes} min at ${RECORDS_PER_SECOND} records/s (${records.toLocaleString('en')} records), the sink restarted every ${RESTART_EVERY_MS / 1000} s`);
  const started = Date.now();
  const sender = sendNumbered(port, RECORD_BYTES, records, RECORDS_PER_SECOND);
  let nextRestart = started + RESTART_EVERY_MS;
  let nextSample = started + 60_000;
  samples.push([0, currentRssMb(pid)]);
  console.log(`minute 0: RSS ${currentRssMb(pid).toFixed(1)} MB`);
  while (Date.now() - started < minutes * 60_000) {
    await sleep(Math.max(0, Math.min(nextRestart, nextSample, started + minutes * 60_000) - Date.now()));
    if (Date.now() >= nextRestart) {
      const stopping: Sink = sink;
      sink = null;
      await stopping.stop();
      // A sink's count is whatever it had reported when killed: records in its socket buffer are
      // lost to it, and wsbit sends their chunk again to the next sink (at least once).
      receivedBefore += stopping.records();
      await sleep(DOWN_MS);
      sink = await startSink({ format: 'json_lines', marker: 'json', port: sinkPort });
      restarts++;
      nextRestart += RESTART_EVERY_MS;
    }
    if (Date.now() >= nextSample) {
      const minute = Math.round((Date.now() - started) / 60_000);
      const rss = currentRssMb(pid);
      samples.push([minute, rss]);
      console.log(`minute ${minute}: RSS ${rss.toFixed(1)} MB, ${sender.sent().toLocaleString('en')} sent, ${received().toLocaleString('en')} received, ${restarts} sink restarts`);
      nextSample += 60_000;
    }
  }
  await sender.done;
  await waitUntil(() => received() >= records, 120_000, () => `${records} records received (${received()} so far)`);
  const window = samples.filter(([minute]) => minute >= minutes - SLOPE_WINDOW_MINUTES);
  const perMinute = slope(window);
  printTable(`Soak: tcp json 100 B at ${RECORDS_PER_SECOND} rec/s → websocket json_lines, sink restarted every ${RESTART_EVERY_MS / 1000} s${quick ? ', QUICK' : ''}`, [
    {
      minutes,
      'records sent': records.toLocaleString('en'),
      'records received': received().toLocaleString('en'),
      'sink restarts': restarts,
      'RSS MB first / last minute': `${(samples[0]?.[1] ?? 0).toFixed(1)} / ${(samples[samples.length - 1]?.[1] ?? 0).toFixed(1)}`,
      [`RSS slope, last ${Math.min(minutes, SLOPE_WINDOW_MINUTES)} min`]: `${perMinute.toFixed(3)} MB/min (${(perMinute * 60).toFixed(1)} MB/h)`,
    },
  ]);
} finally {
  await stopProcess(agent);
  await sink?.stop();
  rmSync(dir, { recursive: true, force: true });
}
