#!/usr/bin/env node
// The build's last step: files under src/ that tsc does not emit but the code reads at run time (the
// live page of websocket_server: HTML, CSS and its browser script) are copied to the same place under
// dist/src/, so the published package and the container image carry them.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';

const assetExtensions = new Set(['.html', '.css', '.js']);

function assets(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...assets(path));
    else if (assetExtensions.has(extname(name))) found.push(path);
  }
  return found;
}

for (const source of assets('src')) {
  const target = join('dist', 'src', relative('src', source));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
}
