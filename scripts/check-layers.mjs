#!/usr/bin/env node
// The house rules that a reader relies on, checked from the source text so `npm test` fails when one
// breaks (../DESIGN in the README's "Architecture"):
// - each top-level folder of src/ is a floor, and imports only floors below it (or its own);
// - no import cycle between files (type-only imports count: they tie the files' meaning together);
// - no source file over 600 lines;
// - only src/app reads configuration files (the main file, includes, parsers and upstream files), and
//   the text-to-meaning floors below the pipeline touch no file system at all.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Bottom to top. Folders on one floor may import each other, as long as no files form a cycle. */
const floors = [
  ['base'],
  ['config'],
  ['regex'],
  ['codec'],
  ['parsers'],
  ['multiline'],
  ['forward', 'websocket', 'upstream'],
  ['pipeline'],
  ['plugins'],
  ['monitoring'],
  ['app'],
  ['cli'],
];
const maxLines = 600;
/** Modules that read configuration files; only the loader's floor may import them. */
const configReaders = ['src/app/read-file.ts'];
const configReaderFloors = new Set(['app']);
/** Floors that turn text or bytes into meaning: what they read is handed to them. */
const noFileSystemFolders = new Set(['config', 'parsers', 'multiline', 'upstream', 'regex', 'codec']);
const fileSystemModule = /^(node:)?fs(\/promises)?$/;

const root = resolve(process.argv[2] ?? '.');
const srcDir = join(root, 'src');

function sourceFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) found.push(path);
  }
  return found;
}

const importPattern = /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const files = sourceFiles(srcDir);
const name = (path) => relative(root, path);
const folderOf = (path) => relative(srcDir, path).split('/')[0];
const floorOf = new Map(floors.flatMap((folders, level) => folders.map((folder) => [folder, level])));

const problems = [];
const edges = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > maxLines) problems.push(`${name(file)} has ${lines} lines (at most ${maxLines}): split it by idea`);
  const folder = folderOf(file);
  if (!floorOf.has(folder)) problems.push(`${name(file)}: folder src/${folder} is on no floor: add it to the floors in scripts/check-layers.mjs`);
  const targets = new Set();
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2];
    if (fileSystemModule.test(specifier) && noFileSystemFolders.has(folder)) {
      problems.push(`${name(file)} imports ${specifier}: src/${folder} reads no file (src/app reads them and hands over the text)`);
    }
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
    targets.add(target);
    const targetFolder = folderOf(target);
    if ((floorOf.get(targetFolder) ?? -1) > (floorOf.get(folder) ?? Infinity)) {
      problems.push(`${name(file)} imports ${name(target)}: src/${targetFolder} is a floor above src/${folder}`);
    }
    if (configReaders.includes(name(target)) && !configReaderFloors.has(folder)) {
      problems.push(`${name(file)} imports ${name(target)}: only src/app reads configuration files`);
    }
  }
  edges.set(file, [...targets].filter((target) => target !== file));
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function visit(file) {
  index.set(file, counter);
  low.set(file, counter);
  counter++;
  stack.push(file);
  onStack.add(file);
  for (const next of edges.get(file) ?? []) {
    if (!edges.has(next)) continue;
    if (!index.has(next)) {
      visit(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) low.set(file, Math.min(low.get(file), index.get(next)));
  }
  if (low.get(file) !== index.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== file);
  if (component.length > 1) problems.push(`import cycle between files: ${component.map(name).sort().join(', ')}`);
}
for (const file of files) if (!index.has(file)) visit(file);

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem(s) in ${name(srcDir)}/`);
  for (const problem of problems) console.error(`- ${problem}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} files on ${floors.length} floors, no cycle, none over ${maxLines} lines`);
