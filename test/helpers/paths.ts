import { mkdirSync } from 'node:fs';
import path from 'node:path';

/** Tests run from the repository root (npm test); paths are resolved from there. */
export const repoRoot = process.cwd();
export const binPath = path.join(repoRoot, 'bin', 'wsbit');
export const confDir = path.join(repoRoot, 'conf');
/** Fluent Bit 5.1.1's recordings (see the README there); the repository needs nothing outside itself. */
export const fluentBitFixtures = path.join(repoRoot, 'test', 'fixtures', 'fluent-bit');

/**
 * Where a test may save a screenshot for a person to look at: only when WSBIT_TEST_ARTIFACTS names a
 * directory, so a plain `npm test` leaves nothing in the tree. Undefined: take it, keep it in memory.
 */
export function artifactPath(name: string): string | undefined {
  const dir = process.env['WSBIT_TEST_ARTIFACTS'];
  if (dir === undefined || dir === '') return undefined;
  mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
