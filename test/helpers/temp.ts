import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];

// Removed when the test file's process exits rather than in a test's `after` hook: hooks run in the
// order they were added, so an agent stopped by a later hook could still write into a removed
// directory (and mkdir would bring it back).
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir (or `parent`), removed when this test file has finished. */
export function tempDir(prefix: string, parent = tmpdir()): string {
  const dir = mkdtempSync(path.join(parent, prefix));
  made.push(dir);
  return dir;
}
