/**
 * Which files tail watches and what they are tagged, as Fluent Bit's in_tail decides it:
 * `path` patterns go through glob(3) (`*`, `?`, `[...]`, a leading `~`), `exclude_path` patterns
 * through fnmatch(3) against the whole path without FNM_PATHNAME (so `*.gz` excludes
 * `/var/log/a.gz`), and a `*` in the tag becomes the file's path (`tag_compose` in tail_file.c).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A glob/fnmatch pattern as a RegExp; `crossSlash` lets `*` and `?` match '/' (fnmatch without FNM_PATHNAME). */
export function patternRegExp(pattern: string, crossSlash: boolean): RegExp {
  const anyChar = crossSlash ? '[\\s\\S]' : '[^/]';
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') source += `${anyChar}*`;
    else if (c === '?') source += anyChar;
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < pattern.length) {
      source += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function hasMagic(part: string): boolean {
  return /[*?[]/.test(part);
}

/**
 * The regular files matching one `path` pattern, sorted (glob(3) sorts unless GLOB_NOSORT), spelled as
 * glob(3) spells them: a relative pattern gives relative names (`./*.log` gives `./app.log`), which
 * Fluent Bit keeps for `path_key`, the tag and its logs.
 */
export function globFiles(pattern: string): string[] {
  let expanded = pattern.trim();
  if (expanded === '~' || expanded.startsWith('~/')) expanded = path.join(os.homedir(), expanded.slice(1));
  const absolute = expanded.startsWith('/');
  const parts = (absolute ? expanded.slice(1) : expanded).split('/');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  // '' stands for the working directory of a relative pattern.
  let candidates = [absolute ? '/' : ''];
  const join = (dir: string, name: string): string => (dir === '' ? name : dir === '/' ? `/${name}` : `${dir}/${name}`);
  for (const part of parts) {
    const next: string[] = [];
    if (!hasMagic(part)) {
      for (const dir of candidates) next.push(join(dir, part));
    } else {
      const matcher = patternRegExp(part, false);
      for (const dir of candidates) {
        let names: string[];
        try {
          names = fs.readdirSync(dir === '' ? '.' : dir);
        } catch {
          continue;
        }
        // Like glob(3), a wildcard does not match a leading dot unless the pattern has one.
        for (const name of names) if (matcher.test(name) && (part.startsWith('.') || !name.startsWith('.'))) next.push(join(dir, name));
      }
    }
    candidates = next;
  }
  return candidates.filter((file) => file !== '' && fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true).sort();
}

/** `tag_compose` without tag_regex: the `*` becomes the path, with '/', '\' and ':' as dots. */
export function composeTag(tag: string, file: string): string {
  const star = tag.indexOf('*');
  if (star < 0) return tag;
  let out = `${tag.slice(0, star)}${file}${tag.slice(star + 1)}`;
  out = out.replace(/[/\\:]/g, '.').replace(/\*/g, '');
  // A leading separator is dropped rather than made a dot, and runs of dots become one.
  out = out.replace(/^\.+/, (dots) => (tag.startsWith('.') ? dots : '')).replace(/\.{2,}/g, '.');
  return out.endsWith('.') ? out.slice(0, -1) : out;
}

/**
 * `tag_regex` composition: `<name>` in the tag is replaced by that named group of the regex run on
 * the file path, `_` when the group did not match.
 */
export function composeTagWithRegex(tag: string, regex: RegExp, names: ReadonlyArray<{ group: string; name: string }>, file: string): string | null {
  const match = regex.exec(file);
  if (match === null) return null;
  const values = new Map<string, string>();
  for (const { group, name } of names) {
    const value = match.groups?.[group];
    if (value !== undefined && value !== '' && !values.has(name)) values.set(name, value);
  }
  return tag.replace(/<([^<>]+)>/g, (_, name: string) => values.get(name) ?? '_');
}
