import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

// Runs every benchmark script in dist/bench (each prints its own tables as it goes), one after the
// other so they never compete for the two cores. `npm run bench -- NAME` runs only the ones matching
// NAME; WSBIT_BENCH_QUICK=1 makes every one a smoke run with a tenth of the records. Helpers live in
// harness.js and lib/, which are not benchmarks. The soak (an hour by default) runs only when named:
// `npm run bench -- soak`. The memory benchmark's trend takes 10 minutes of a plain run
// (WSBIT_MEMORY_MINUTES=0 leaves it out). Each script is told the command it ran under
// (WSBIT_BENCH_COMMAND), for the README blocks it writes with WSBIT_BENCH_README=1.
const here = path.join(process.cwd(), 'dist', 'bench');
const only = process.argv[2];
/** The issue-8 end-to-end figures first, then memory, then the rest by name. */
const ORDER = ['websocket.js', 'memory.js', 'broadcast.js', 'pressure.js'];
/** Benchmarks too long for a plain `npm run bench`. */
const LONG = ['soak.js'];
const rank = (name: string): number => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
const scripts = readdirSync(here)
  .filter((name) => name.endsWith('.js') && !['run.js', 'harness.js'].includes(name))
  .filter((name) => only === undefined || name.includes(only))
  .filter((name) => !LONG.includes(name) || (only !== undefined && name.includes(only)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const started = Date.now();
const failed: string[] = [];
for (const script of scripts) {
  const scriptStarted = Date.now();
  console.log(`\n=== ${script.replace(/\.js$/, '')}${process.env['WSBIT_BENCH_QUICK'] === '1' ? ' (quick)' : ''}`);
  const command = `npm run bench${only === undefined ? '' : ` -- ${only}`}`;
  const result = spawnSync(process.execPath, [path.join(here, script)], { stdio: 'inherit', env: { ...process.env, WSBIT_BENCH_COMMAND: command } });
  if (result.status !== 0) failed.push(script);
  console.log(`\n(${script.replace(/\.js$/, '')}: ${((Date.now() - scriptStarted) / 1000).toFixed(0)} s${result.status === 0 ? '' : ', FAILED'})`);
}
console.log(`\nAll benchmarks: ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length === 0 ? '' : `; failed: ${failed.join(', ')}`}`);
process.exit(failed.length === 0 ? 0 : 1);
