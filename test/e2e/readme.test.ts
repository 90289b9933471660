import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderPluginTables } from '../../src/cli/readme-tables.js';
import { readmeCommandChecks, readmeCommands } from './readme-commands.js';

test('the README plugin tables match the schemas (run npm run docs to update)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.equal(readme, renderPluginTables(readme), 'README.md is stale: run `npm run docs`');
});

test('the README opens with the set-up commands and names the test command', () => {
  const readme = readFileSync('README.md', 'utf8');
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.equal(firstBlock, 'npm ci\nnpm test\nnpm start\n');
  // npm start runs the local build: it builds first, then starts bin/wsbit with the quick start.
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  assert.equal(scripts['prestart'], 'npm run build --silent');
  assert.equal(scripts['start'], 'node bin/wsbit -c conf/quickstart.yaml');
});

test('.ci/run calls exactly the README test command', () => {
  const ci = readFileSync('.ci/run', 'utf8');
  assert.match(ci, /^npm ci$/m);
  assert.match(ci, /^npm test$/m);
});

test('every command in the README code blocks is run by a test (test/e2e/readme-commands.ts says which)', () => {
  const commands = readmeCommands(readFileSync('README.md', 'utf8'));
  assert.ok(commands.length >= 10, commands.join('\n'));
  assert.deepEqual([...new Set(commands)].sort(), Object.keys(readmeCommandChecks).sort());
});
