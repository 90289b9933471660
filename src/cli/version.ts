import { readFileSync } from 'node:fs';

/** The package version, read from package.json above the compiled code (dist/src/cli or dist/bundle → root). */
export function packageVersion(): string {
  for (const relative of ['../../../package.json', '../../package.json']) {
    try {
      const text = readFileSync(new URL(relative, import.meta.url), 'utf8');
      const parsed = JSON.parse(text) as { name?: string; version?: string };
      if (parsed.name === 'wsbit' && typeof parsed.version === 'string') return parsed.version;
    } catch {
      // Try the next location.
    }
  }
  return 'unknown';
}
