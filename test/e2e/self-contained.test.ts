import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) found.push(...sourceFiles(file));
    else if (/\.(ts|mjs|js|py|sh)$/.test(name)) found.push(file);
  }
  return found;
}

test('nothing in src/, test/, bench/ or scripts/ reads the shared folder beside the checkout', () => {
  // Written in two parts so this file does not match itself.
  const outside = new RegExp(['\\.\\./', 'shared\\b|/work/', 'shared\\b'].join(''));
  const offenders = ['src', 'test', 'bench', 'scripts']
    .flatMap((dir) => sourceFiles(path.join(repoRoot, dir)))
    .filter((file) => outside.test(readFileSync(file, 'utf8')))
    .map((file) => path.relative(repoRoot, file));
  assert.deepEqual(offenders, []);
});

test('.ci/run tests a clone of HEAD with nothing beside it, then ends with the README test command', () => {
  const ci = readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8');
  assert.match(ci, /git (-c \S+ )?clone --quiet --no-hardlinks \. "\$work\/wsbit"/);
  assert.match(ci, /cd "\$work\/wsbit"/);
  const commands = ci.split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  assert.deepEqual(commands.slice(-2), ['npm ci', 'npm test']);
});
