/**
 * scripts/check-layers.mjs guards the floors of src/ (npm test runs it before the tests). These make
 * sure it still sees what it is there to see: a cycle between files, an import that runs up a floor,
 * a folder that is on no floor, and a file that grew past 600 lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp.js';

const script = path.join(repoRoot, 'scripts', 'check-layers.mjs');

function check(root: string): { status: number | null; problems: string[] } {
  const run = spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
  return { status: run.status, problems: run.stderr.split('\n').filter((line) => line.startsWith('- ')) };
}

function tree(files: Record<string, string>): string {
  const root = tempDir('wsbit-layers-');
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  return root;
}

test('this tree keeps its floors: no cycle, no upward import, no file over 600 lines', () => {
  const { status, problems } = check(repoRoot);
  assert.deepEqual(problems, []);
  assert.equal(status, 0);
});

test('a cycle between two files is found, type-only imports included', () => {
  const root = tree({
    'src/pipeline/engine.ts': "import type { Agent } from './agent.js';\nexport type Engine = { agent?: Agent };\n",
    'src/pipeline/agent.ts': "import { type Engine } from './engine.js';\nexport type Agent = { engine?: Engine };\n",
  });
  const { status, problems } = check(root);
  assert.equal(status, 1);
  assert.deepEqual(problems, ['- import cycle between files: src/pipeline/agent.ts, src/pipeline/engine.ts']);
});

test('an import that runs up a floor, a folder on no floor and a long file are each named', () => {
  const root = tree({
    'src/base/errors.ts': "export { PluginRegistry } from '../plugins/registry.js';\n",
    'src/plugins/registry.ts': 'export class PluginRegistry {}\n',
    'src/attic/old.ts': 'export const old = 1;\n',
    'src/codec/long.ts': 'export const line = 1;\n'.repeat(601),
    'src/codec/short.ts': 'export const line = 1;\n'.repeat(600),
  });
  const { status, problems } = check(root);
  assert.equal(status, 1);
  assert.deepEqual(problems.sort(), [
    '- src/attic/old.ts: folder src/attic is on no floor: add it to the floors in scripts/check-layers.mjs',
    '- src/base/errors.ts imports src/plugins/registry.ts: src/plugins is a floor above src/base',
    '- src/codec/long.ts has 601 lines (at most 600): split it by idea',
  ]);
});

test('a dynamic import counts as an import', () => {
  const root = tree({
    'src/config/schema.ts': "export const load = () => import('../app/loader.js');\n",
    'src/app/loader.ts': 'export const loader = 1;\n',
  });
  assert.deepEqual(check(root).problems, ['- src/config/schema.ts imports src/app/loader.ts: src/app is a floor above src/config']);
});
