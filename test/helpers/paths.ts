import path from 'node:path';

/** Tests run from the repository root (npm test); paths are resolved from there. */
export const repoRoot = process.cwd();
export const binPath = path.join(repoRoot, 'bin', 'wsbit');
export const confDir = path.join(repoRoot, 'conf');
/** Fluent Bit 5.1.1's recordings (see the README there); the repository needs nothing outside itself. */
export const fluentBitFixtures = path.join(repoRoot, 'test', 'fixtures', 'fluent-bit');
