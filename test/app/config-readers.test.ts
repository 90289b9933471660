/**
 * Only src/app reads configuration files: scripts/check-layers.mjs checks it from the source, and this
 * runs the check on this tree and on a tree made to break it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp.js';

const script = path.join(repoRoot, 'scripts', 'check-layers.mjs');

function problems(root: string): string[] {
  const run = spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
  return run.stderr.split('\n').filter((line) => line.startsWith('- '));
}

const readsFiles = (line: string): boolean => /only src\/app reads configuration files|reads no file/.test(line);

test('in this tree, only src/app reads configuration files, and no text-only floor imports node:fs', () => {
  assert.deepEqual(problems(repoRoot).filter(readsFiles), []);
});

test('the check names a text-only floor that imports node:fs and a floor below app that imports the file reader', () => {
  const root = tempDir('wsbit-layers-');
  const write = (file: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write('src/app/read-file.ts', "import * as fs from 'node:fs';\nexport const read = (file: string): string => fs.readFileSync(file, 'utf8');\n");
  write('src/config/classic.ts', "import { readFileSync } from 'node:fs';\nexport const text = readFileSync;\n");
  write('src/upstream/config.ts', "import * as fs from 'fs/promises';\nexport const text = fs;\n");
  write('src/plugins/reader.ts', "import { read } from '../app/read-file.js';\nexport const text = read;\n");
  const found = problems(root).filter(readsFiles);
  const count = 3;
  assert.equal(found.length, count, found.join('\n'));
  assert.ok(found.some((line) => line.includes('src/config/classic.ts imports node:fs')));
  assert.ok(found.some((line) => line.includes('src/upstream/config.ts imports fs/promises')));
  assert.ok(found.some((line) => line.includes('src/plugins/reader.ts imports src/app/read-file.ts: only src/app reads configuration files')));
});
