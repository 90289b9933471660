import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderPluginTables } from '../../src/cli/readme-tables.js';

test('the README plugin tables match the schemas (run npm run docs to update)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.equal(readme, renderPluginTables(readme), 'README.md is stale: run `npm run docs`');
});

test('the README opens with the set-up commands and names the test command', () => {
  const readme = readFileSync('README.md', 'utf8');
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.match(firstBlock, /^npm ci\nnpm test\nnpx wsbit -c conf\/[a-z-]+\.(yaml|conf)\n$/);
});

test('.ci/run calls exactly the README test command', () => {
  const ci = readFileSync('.ci/run', 'utf8');
  assert.match(ci, /^npm ci$/m);
  assert.match(ci, /^npm test$/m);
});
