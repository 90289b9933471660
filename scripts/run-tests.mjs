#!/usr/bin/env node
// Node 20's `node --test` does not discover files by directory the way later versions do, so the
// compiled test files are listed here explicitly; the runner then prints its own real summary.
//
// Tests must leave nothing behind (a stale chunk in /tmp turns the next quick start into warnings
// and an old record on the live page). The runner proves it: the tests get a temp dir of their own
// as TMPDIR, which must be empty when they finish, and no new /tmp/wsbit* entry may remain (that
// catches paths written out in full, as the conf/ examples do).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    // tsc leaves the output of a moved or deleted test in dist/; only tests whose source exists run.
    else if (name.endsWith('.test.js') && existsSync(path.replace(/^dist\//, '').replace(/\.js$/, '.ts'))) found.push(path);
  }
  return found;
}

const filter = process.argv[2];
const files = findTests('dist/test').filter((file) => filter === undefined || file.includes(filter));
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}

const systemTmp = tmpdir();
const wsbitEntries = () => new Set(readdirSync('/tmp').filter((name) => name.startsWith('wsbit')));
const before = wsbitEntries();
// Private (0700), as a user's own temp dir may be: tests must cope with that.
const testTmp = mkdtempSync(join(systemTmp, 'wsbit-test-run-'));

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: testTmp },
});

const leftInTestTmp = readdirSync(testTmp);
rmSync(testTmp, { recursive: true, force: true });
const leftInTmp = [...wsbitEntries()].filter((name) => !before.has(name));
let status = result.status ?? 1;
if (leftInTestTmp.length > 0) {
  console.error(`\ntests left ${leftInTestTmp.length} entries in their temp dir: ${leftInTestTmp.join(', ')}`);
  status = 1;
}
if (leftInTmp.length > 0) {
  console.error(`\ntests left new entries in /tmp (or another process made them meanwhile): ${leftInTmp.map((name) => `/tmp/${name}`).join(', ')}`);
  status = 1;
}
process.exit(status);
