/**
 * V8's young generation, held at two 4 MB semi-spaces. Left alone, V8 grows it to two 16 MB ones
 * (8 MB already while the agent loads its modules) and the process keeps those pages: 10-25 MB of
 * peak RSS for garbage that dies young. issue 23's table: 4 MB semi-spaces cost about 1 % more CPU
 * at full load than 16 MB ones; 2 MB ones 6-7 %, 1 MB ones 6-9 %.
 *
 * `--max-semi-space-size=4` would say it, but V8 reads that flag only when it creates the heap, and
 * `node bin/wsbit` (tests, the bench, the Docker image) ignores a shebang's flags. V8 reads its growth
 * factor at each growth, though: it stays 1 (no growth) while the agent loads, then steers the young
 * generation to the target in one step and back to 1, and again whenever V8 has shrunk it while idle.
 * A user who sizes the young generation with node flags of their own keeps control.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export const YOUNG_SEMI_SPACE_BYTES = 4 * 1024 * 1024;
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

/** Call first thing, before the agent's modules load. */
export function holdYoungGeneration(targetBytes = YOUNG_SEMI_SPACE_BYTES): void {
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
