/**
 * `node --import` this file with WSBIT_MODULE_TRACE=FILE to have FILE list every module file the
 * process loads, one file: URL a line: ES modules as they load (module-trace-hooks.ts), and at exit
 * the CommonJS modules, which those hooks do not see in Node 20.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const out = process.env['WSBIT_MODULE_TRACE'];
if (out !== undefined && out !== '') {
  register('./module-trace-hooks.js', import.meta.url, { data: { out } });
  process.on('exit', () => {
    const required = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.startsWith('/'));
    appendFileSync(out, required.map((file) => `${pathToFileURL(file).href}\n`).join(''));
  });
}
