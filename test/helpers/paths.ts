import path from 'node:path';

/** Tests run from the repository root (npm test); paths are resolved from there. */
export const repoRoot = process.cwd();
export const binPath = path.join(repoRoot, 'bin', 'wsbit');
export const confDir = path.join(repoRoot, 'conf');
export const fluentBitFixtures = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'fluent-bit');
