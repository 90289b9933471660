import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

// Runs every benchmark script in dist/bench (each prints its own table), one after the other so
// they never compete for the two cores. `npm run bench -- NAME` runs only the ones matching NAME.
const here = path.join(process.cwd(), 'dist', 'bench');
const only = process.argv[2];
const scripts = readdirSync(here)
  .filter((name) => name.endsWith('.js') && !['run.js', 'harness.js'].includes(name))
  .filter((name) => only === undefined || name.includes(only))
  .sort();
let failed = 0;
for (const script of scripts) {
  const result = spawnSync(process.execPath, [path.join(here, script)], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
