import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';
import { binPath } from '../helpers/paths.js';

/**
 * Loaded with --import before the program. After `startMs` it makes short-lived garbage with some
 * survivors, as a busy pipeline does (what makes V8 grow its young generation), in slices so that
 * timers still run, then prints that generation's size and stops the process. With `startMs` < 0 it
 * does so on exit instead, for a program that exits by itself.
 */
function probe(startMs: number): string {
  return `data:text/javascript,${encodeURIComponent(`
import v8 from 'node:v8';
const churn = (slices) => {
  let kept = [];
  for (let i = 0; i < slices * 25_000; i++) {
    kept.push({ i, text: 'x' + i });
    if (kept.length > 40_000) kept = kept.slice(20_000);
  }
  return kept.length;
};
const report = () => {
  const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  process.stderr.write('new_space ' + young.space_size + '\\n');
};
if (${startMs} < 0) {
  process.on('exit', () => { churn(40); report(); });
} else {
  setTimeout(() => {
    let slices = 0;
    const slice = () => {
      churn(1);
      if (++slices < 60) setTimeout(slice, 20);
      else { report(); process.kill(process.pid, 'SIGTERM'); }
    };
    slice();
  }, ${startMs});
}
`)}`;
}

const MB = 1024 * 1024;

function youngGenerationBytes(args: string[], startMs = -1): number {
  const result = spawnSync(process.execPath, ['--import', probe(startMs), ...args], { encoding: 'utf8', timeout: 30_000 });
  const match = /new_space (\d+)/.exec(result.stderr);
  assert.ok(match !== null, `no size reported (exit ${result.status}): ${result.stderr}`);
  return Number(match[1]);
}

test("bin/wsbit holds V8's young generation at two 1 MB semi-spaces under load, and small while it loads", () => {
  // Without it the same garbage grows the young generation past that: the probe does measure growth.
  assert.ok(youngGenerationBytes(['-e', 'setTimeout(() => undefined, 5000)'], 1500) > 8 * MB);
  const running = youngGenerationBytes([binPath, '-i', 'dummy', '-o', 'null', '-q'], 1500);
  assert.ok(running <= 2 * MB, `young generation of ${running} bytes`);
  // A program that has only loaded (and exits at once) never grew it.
  assert.ok(youngGenerationBytes([binPath, '--version']) <= 2 * MB);
});

test('a user who sizes the young generation with node flags keeps control', () => {
  assert.ok(youngGenerationBytes(['--max-semi-space-size=16', binPath, '-i', 'dummy', '-o', 'null', '-q'], 1500) > 8 * MB);
});

/**
 * Loaded with --import: after `startMs` it drops 1 MB of buffers every 30 ms for 40 rounds, with
 * almost no garbage objects beside them (the JSON path's state at full load), then prints the most
 * buffer memory it saw and stops the process.
 */
function deadBufferProbe(startMs: number): string {
  return `data:text/javascript,${encodeURIComponent(`
setTimeout(() => {
  let rounds = 0;
  let peak = 0;
  const round = () => {
    for (let i = 0; i < 4; i++) Buffer.allocUnsafeSlow(256 * 1024)[0] = 1;
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    if (++rounds < 40) setTimeout(round, 30);
    else { process.stderr.write('peak_array_buffers ' + peak + '\\n'); process.kill(process.pid, 'SIGTERM'); }
  };
  round();
}, ${startMs});
`)}`;
}

function peakDeadBufferBytes(args: string[]): number {
  const result = spawnSync(process.execPath, ['--import', deadBufferProbe(1500), ...args], { encoding: 'utf8', timeout: 30_000 });
  const match = /peak_array_buffers (\d+)/.exec(result.stderr);
  assert.ok(match !== null, `no peak reported (exit ${result.status}): ${result.stderr}`);
  return Number(match[1]);
}

test('bin/wsbit frees dead buffers that V8 alone would let pile up', () => {
  // Without it V8 lets the 40 MB of dead buffers pile up: the probe does measure that.
  const alone = peakDeadBufferBytes(['-e', 'setTimeout(() => undefined, 5000)']);
  assert.ok(alone > 30 * MB, `plain node peaked at ${alone} bytes of buffers`);
  const agent = peakDeadBufferBytes([binPath, '-i', 'dummy', '-o', 'null', '-q']);
  // The first check after a quiet spell comes up to 250 ms late (8 MB here), then every 25 ms.
  assert.ok(agent < 20 * MB, `bin/wsbit peaked at ${agent} bytes of buffers`);
});
