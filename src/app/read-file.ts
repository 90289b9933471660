import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type ConfigOrigin } from '../base/errors.js';
import type { ConfigFileReader } from '../config/document.js';

/**
 * The largest configuration, include or parsers file wsbit reads. Real configurations are a few
 * kilobytes; the limit keeps a wrong path (a log file, a disk image) from being read whole into memory.
 */
export const configFileMaxBytes = 8 * 1024 * 1024;

function describeSize(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${bytes} bytes`;
}

/**
 * Reads a configuration file as UTF-8 after checking, before reading anything, that it is a regular
 * file within `configFileMaxBytes`. Errors name the file and, for a size refusal, its size.
 * `what` names the file's role in messages ("configuration file", "@INCLUDE", "parsers file").
 */
export function readConfigFile(file: string, what = 'configuration file', origin?: ConfigOrigin): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? 'error'})`;
    throw new ConfigError('WSBIT_CONFIG_NOT_FOUND', `could not open ${what} ${file}: ${reason}`, origin, { cause: error });
  }
  if (stat.isDirectory()) throw new ConfigError('WSBIT_CONFIG_NOT_FOUND', `could not open ${what} ${file}: it is a directory`, origin);
  if (stat.size > configFileMaxBytes) {
    throw new ConfigError(
      'WSBIT_CONFIG_TOO_LARGE',
      `${what} ${file} is ${describeSize(stat.size)}, over the ${describeSize(configFileMaxBytes)} a configuration file may have; is it the right file?`,
      origin,
    );
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError('WSBIT_CONFIG_NOT_FOUND', `could not open ${what} ${file}: cannot read it (${code ?? 'error'})`, origin, { cause: error });
  }
}

function globRegExp(part: string): RegExp {
  const source = [...part].map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`);
}

/**
 * The files matching an absolute pattern whose components may hold `*` and `?` (as glob(3); no
 * `[...]` classes). Hidden names match only a component that starts with `.`. Fluent Bit asks for
 * `GLOB_NOSORT`; wsbit sorts, so the include order does not depend on the file system.
 */
function globFiles(pattern: string): string[] {
  const root = path.parse(pattern).root;
  const parts = pattern.slice(root.length).split('/').filter((part) => part !== '');
  let candidates = [root];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of candidates) {
      if (!/[*?]/.test(part)) {
        next.push(path.join(dir, part));
        continue;
      }
      const matcher = globRegExp(part);
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (matcher.test(name) && (part.startsWith('.') || !name.startsWith('.'))) next.push(path.join(dir, name));
      }
    }
    candidates = next;
  }
  return candidates.filter((file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true).sort();
}

/** The file system as the configuration front ends see it (includes, globs, `Read twice`). */
export const configFileReader: ConfigFileReader = {
  readText: readConfigFile,
  exists: (file) => fs.existsSync(file),
  glob: globFiles,
  identity(file) {
    const stat = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
    return stat === undefined ? `path:${path.resolve(file)}` : `${stat.dev}:${stat.ino}`;
  },
  realPath(file) {
    try {
      return fs.realpathSync(file);
    } catch {
      return undefined;
    }
  },
};
