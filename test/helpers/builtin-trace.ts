/**
 * `node --import` this file with WSBIT_BUILTIN_TRACE=FILE to have FILE list, at exit, the Node builtin
 * modules the process loaded (`crypto`, `net`, `internal/crypto/random`...), one a line, as
 * process.moduleLoadList names them: what a module trace of files cannot see.
 */
import { writeFileSync } from 'node:fs';

const out = process.env['WSBIT_BUILTIN_TRACE'];
if (out !== undefined && out !== '') {
  process.on('exit', () => {
    // Undocumented but stable since Node 0.x; @types/node leaves it out.
    const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
    const builtins = moduleLoadList.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => entry.slice('NativeModule '.length));
    writeFileSync(out, builtins.map((name) => `${name}\n`).join(''));
  });
}
