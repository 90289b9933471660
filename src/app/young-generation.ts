/**
 * V8's young generation, held at two 1 MB semi-spaces, the size it starts with. Left alone, V8 grows
 * it to two 16 MB ones (8 MB already while the agent loads its modules) and the process keeps those
 * pages: 10-25 MB of peak RSS for garbage that dies young. When the JSON path made 420 B of garbage a
 * record, 4 MB semi-spaces cost about 1 % more CPU at full load than 16 MB ones, 1 MB ones 6-9 %. At
 * 10 B a 100 B record (191 at 1 KB), with the dead-buffer collections below starting most scavenges,
 * 1 MB ones spend about as long in scavenges as 4 MB ones (1M × 1 KB tcp json: 270-500 ms against
 * 390-490), and the agent uses no more CPU than it did with 4 MB ones before (1M records of tcp json
 * → websocket json_lines, medians of 3 alternating runs: 1.23 against 1.30 CPU s at 100 B, 3.58
 * against 3.59 at 1 KB) for 5-10 MB less peak RSS (83 → 78 MB at 100 B, 88 → 77 at 1 KB). 2 MB
 * ones cannot be held by steering: V8 grows them twice before a steer can stop it.
 *
 * `--max-semi-space-size=1` would say it, but V8 reads that flag only when it creates the heap, and
 * `node bin/wsbit` (tests, the bench, the Docker image) ignores a shebang's flags. V8 reads its growth
 * factor at each growth, though: it stays 1 (no growth) while the agent loads, then steers the young
 * generation to the target in one step and back to 1, and again whenever V8 has shrunk it while idle.
 * A user who sizes the young generation with node flags of their own keeps control.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const YOUNG_SEMI_SPACE_BYTES = 1024 * 1024;
/** Longer than loading the agent's modules, whose survivors would otherwise grow it at once. */
const STEER_AFTER_MS = 1000;
/** Growing past the target takes megabytes of survivors since the last growth: seconds at full load. */
const STEER_EVERY_MS = 250;

/** The growth factor that takes semi-spaces of `semiSpaceBytes` to `targetBytes` in one growth, or 1 (no growth). */
export function growthFactorFor(semiSpaceBytes: number, targetBytes: number): number {
  if (semiSpaceBytes <= 0 || semiSpaceBytes >= targetBytes) return 1;
  return Math.max(2, Math.round(targetBytes / semiSpaceBytes));
}

/** Whether node flags (command line or NODE_OPTIONS) already size the young generation. */
export function youngGenerationSizedByUser(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((flag) => /semi[-_]space/.test(flag));
}

/** Semi-space size now: the young generation is two of them. */
function semiSpaceBytes(): number {
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return (young?.space_size ?? 0) / 2;
}

/**
 * Buffers read from sockets and files die young, but their bytes live outside the heap: only a
 * collection of the young generation frees them, and V8 starts one when the young generation is
 * full of objects, not of these bytes. Once the JSON path made almost no garbage objects (issue 23),
 * dead read buffers piled up for tens of megabytes between collections (107 MB peak RSS instead of
 * 83 for 1M × 100 B tcp json). So a collection of the young generation (about a millisecond with
 * little alive in it) is started whenever buffer memory has grown this much since the last one.
 */
const DEAD_BUFFER_BYTES = 2 * 1024 * 1024;
/** At full load 25 ms of tcp input bring about 1.5 MB. */
const DEAD_BUFFER_CHECK_MS = 25;
/** While buffer memory stands still, checks are this far apart, so that an idle agent hardly wakes. */
const DEAD_BUFFER_IDLE_CHECK_MS = 250;

type MinorGc = (options: { type: 'minor' }) => void;

/**
 * V8's `gc` function, which `--expose-gc` gives to the contexts made after it is set: one is made
 * here (a fraction of a megabyte, so only once needed), and the flag is set back so that nothing
 * else sees it. Null if this V8 does not give it.
 */
function exposedGc(): MinorGc | null {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  setFlagsFromString('--no-expose-gc');
  return typeof gc === 'function' ? (gc as MinorGc) : null;
}

/** Collects the young generation whenever buffer memory has grown by DEAD_BUFFER_BYTES. */
export function collectDeadBuffers(): void {
  let gc: MinorGc | null | undefined;
  let baseline = process.memoryUsage().arrayBuffers;
  let last = baseline;
  const check = (): void => {
    const bytes = process.memoryUsage().arrayBuffers;
    const busy = bytes !== last;
    last = bytes;
    // Freed buffers (or ones V8 freed on its own) lower the mark, so growth is counted from the lowest.
    if (bytes < baseline) baseline = bytes;
    if (bytes - baseline > DEAD_BUFFER_BYTES) {
      if (gc === undefined) gc = exposedGc();
      if (gc === null) return;
      gc({ type: 'minor' });
      baseline = last = process.memoryUsage().arrayBuffers;
    }
    setTimeout(check, busy ? DEAD_BUFFER_CHECK_MS : DEAD_BUFFER_IDLE_CHECK_MS).unref();
  };
  setTimeout(check, DEAD_BUFFER_IDLE_CHECK_MS).unref();
}

/** Call first thing, before the agent's modules load. */
export function holdYoungGeneration(targetBytes = YOUNG_SEMI_SPACE_BYTES): void {
  collectDeadBuffers();
  if (youngGenerationSizedByUser(process.execArgv, process.env['NODE_OPTIONS'])) return;
  let factor = 0;
  const setFactor = (next: number): void => {
    if (next === factor) return;
    factor = next;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
  };
  const steer = (): void => setFactor(growthFactorFor(semiSpaceBytes(), targetBytes));
  setFactor(1);
  setTimeout(() => {
    steer();
    setInterval(steer, STEER_EVERY_MS).unref();
  }, STEER_AFTER_MS).unref();
}
