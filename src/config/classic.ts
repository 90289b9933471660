/**
 * Fluent Bit's classic `.conf` format, read line by line as `read_config` in
 * `src/config_format/flb_cf_fluentbit.c` does. It is not INI: sections repeat, a key and its value
 * are split at the first space, and `@INCLUDE`/`@SET` are line commands, so no INI library fits.
 *
 * Every error is a `ConfigError` whose message reads `[config] error in FILE:LINE: reason`, with
 * the physical line number (blank and comment lines counted).
 */
import * as path from 'node:path';
import { ConfigError, type ConfigOrigin } from '../base/errors.js';
import {
  finishDocument, MAX_FILES, noFiles,
  type ConfigDocument, type ConfigFileReader, type ConfigGroup, type ConfigSection, type ParseOptions, type RawSet, type SectionKind,
} from './document.js';
import { asciiLower, configMessage } from './schema.js';

/**
 * `get_section_type` compares `strncasecmp(name, keyword, strlen(name))`, so a header matches the
 * first keyword (in this order) that it is a prefix of: `[SERV]`, `[IN]`, `[OUT]`, `[INPUTS]`.
 */
const SECTION_KEYWORDS: ReadonlyArray<readonly [string, SectionKind | 'stream_processor']> = [
  ['service', 'service'], ['parser', 'parser'], ['multiline_parser', 'multiline_parser'],
  ['stream_processor', 'stream_processor'], ['plugins', 'plugins'], ['upstream_servers', 'upstream_servers'],
  // `[NODE]` exists only in upstream files (`flb_upstream_ha.c` reads sections by name).
  ['node', 'node'],
  ['custom', 'custom'], ['customs', 'custom'], ['input', 'input'], ['inputs', 'input'],
  ['filter', 'filter'], ['filters', 'filter'], ['output', 'output'], ['outputs', 'output'],
];

function sectionKind(name: string): SectionKind | 'stream_processor' | undefined {
  const lower = asciiLower(name);
  return SECTION_KEYWORDS.find(([keyword]) => keyword.startsWith(lower))?.[1];
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** `flb_sds_trim` trims with `isspace`, which is narrower than `String.prototype.trim`. */
const trimC = (text: string): string => text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');

function syntaxError(origin: ConfigOrigin, reason: string): ConfigError {
  return new ConfigError('WSBIT_CONFIG_SYNTAX', configMessage(reason, origin), origin);
}

function includeError(origin: ConfigOrigin, reason: string): ConfigError {
  return new ConfigError('WSBIT_CONFIG_INCLUDE', configMessage(reason, origin), origin);
}

interface ParseState {
  reader: ConfigFileReader;
  /** Directory of the main file: relative `@INCLUDE` paths fall back to it, globs always use it. */
  rootDir: string;
  allowParsers: boolean;
  sections: ConfigSection[];
  sets: RawSet[];
  warnings: string[];
  /** `dev:ino` of every file read: Fluent Bit's `Read twice` check, which also stops include loops. */
  seen: Set<string>;
  files: string[];
}

/** How the indentation of a file was set, for error messages. */
function describeIndent(indent: string, line: number): string {
  const spaces = [...indent].filter((c) => c === ' ').length;
  const tabs = indent.length - spaces;
  const parts = [spaces > 0 ? `${spaces} space${spaces > 1 ? 's' : ''}` : '', tabs > 0 ? `${tabs} tab${tabs > 1 ? 's' : ''}` : ''];
  return `this file indents keys with ${parts.filter((p) => p !== '').join(' and ')}, as on line ${line}`;
}

/**
 * `check_indent`: a key line starts with exactly the file's indent; more is allowed only when the
 * extra part is as long as the indent (group content). Returns where the key starts.
 */
function checkIndent(line: string, indent: string, indentLine: number, origin: ConfigOrigin): { level: number; groupContent: boolean } {
  let level = 0;
  while (level < indent.length && line[level] === indent[level]) level++;
  const hint = trimC(line) === '' ? '; a blank line must be empty or indented like the keys' : '';
  if (level < indent.length) {
    const detail = isBlank(line[level]) ? 'inconsistent use of tab and space' : 'indentation level is too low';
    throw syntaxError(origin, `invalid indentation level: ${detail} (${describeIndent(indent, indentLine)}${hint})`);
  }
  let extra = 0;
  while (isBlank(line[level + extra])) extra++;
  if (extra === 0) return { level, groupContent: false };
  if (extra === indent.length) return { level: level + extra, groupContent: true };
  throw syntaxError(origin, `invalid indentation level: extra indentation level found (${describeIndent(indent, indentLine)}${hint})`);
}

/** Reads and parses one included file (`includedFrom` is the `@INCLUDE` line). */
function readIncluded(state: ParseState, file: string, includedFrom: ConfigOrigin, spec: string): void {
  let text: string;
  try {
    text = state.reader.readText(file, '@INCLUDE file', includedFrom);
  } catch (error) {
    if (error instanceof ConfigError && error.code === 'WSBIT_CONFIG_TOO_LARGE') throw includeError(includedFrom, error.message);
    const code = (error as { cause?: NodeJS.ErrnoException }).cause?.code;
    const reason = code === 'ENOENT' ? 'no such file' : code === undefined ? 'it is a directory' : `cannot read it (${code})`;
    throw includeError(includedFrom, `@INCLUDE '${spec}': ${reason}${file === spec ? '' : ` (tried '${spec}' and '${file}')`}`);
  }
  parseFile(state, file, text, includedFrom);
}

/**
 * `@INCLUDE path`: the rest of the line, verbatim. With a `*` it is a glob relative to the main
 * file's directory, and no match is fatal; otherwise the path is tried as given, then relative to
 * the main file's directory.
 */
function include(state: ParseState, spec: string, origin: ConfigOrigin): void {
  if (spec.includes('*')) {
    const pattern = path.isAbsolute(spec) ? spec : path.join(state.rootDir, spec);
    const matches = state.reader.glob(pattern);
    if (matches.length === 0) throw includeError(origin, `@INCLUDE '${spec}': glob: [${pattern}] no match`);
    for (const file of matches) readIncluded(state, file, origin, file);
    return;
  }
  let file = spec;
  if (!state.reader.exists(file) && !path.isAbsolute(file)) file = path.join(state.rootDir, spec);
  readIncluded(state, file, origin, spec);
}

/** `@CMD args`: only `@SET KEY=VALUE` exists (`src/flb_meta.c`); key and value are not trimmed. */
function meta(state: ParseState, line: string, origin: ConfigOrigin): void {
  const space = line.indexOf(' ');
  if (space < 0) throw syntaxError(origin, `invalid command '${line}': expected @SET KEY=VALUE or @INCLUDE FILE`);
  const command = trimC(line.slice(1, space));
  const args = trimC(line.slice(space + 1));
  if (asciiLower(command) !== 'set') {
    state.warnings.push(`[config] warning in ${origin.file}:${origin.line}: unknown command '@${command}' is ignored`);
    return;
  }
  const equals = args.indexOf('=');
  if (equals <= 0) throw syntaxError(origin, `invalid @SET '${args}': expected @SET KEY=VALUE`);
  state.sets.push({ key: args.slice(0, equals), value: args.slice(equals + 1) });
}

const PARSERS_IN_MAIN =
  "Sections 'multiline_parser' and 'parser' are not valid in the main configuration file. " +
  "They belong to the 'parsers_file' configuration files.";

function parseFile(state: ParseState, file: string, text: string, includedFrom?: ConfigOrigin): void {
  const identity = state.reader.identity(file);
  if (state.seen.has(identity)) {
    const origin = includedFrom ?? { file, line: 1 };
    throw includeError(origin, `Read twice. path=${file} (the file is already part of this configuration; an include loop?)`);
  }
  if (state.files.length >= MAX_FILES) {
    throw includeError(includedFrom ?? { file, line: 1 }, `too many configuration files (limit ${MAX_FILES})`);
  }
  state.seen.add(identity);
  state.files.push(file);

  let indent: string | undefined;
  let indentLine = 0;
  // `section` is undefined before the first header; `target` is undefined in ignored sections.
  let section: { target: ConfigSection | undefined } | undefined;
  let group: ConfigGroup | undefined;

  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index] ?? '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    const origin: ConfigOrigin = { file, line: index + 1 };

    // Only column 0 counts: no end-of-line comments, and an indented `#` must use the indent.
    if (line === '' || line.startsWith('#')) continue;

    if (/^@include /i.test(line)) {
      if (line.length <= 9) throw includeError(origin, '@INCLUDE needs a file name');
      include(state, line.slice(9), origin);
      continue;
    }
    if (line.startsWith('@') && line.length > 3) {
      meta(state, line, origin);
      continue;
    }

    if (line.startsWith('[')) {
      const close = line.indexOf(']');
      if (close < 0) throw syntaxError(origin, 'bad header definition');
      const header = line.slice(1, close);
      if (header === '') throw syntaxError(origin, 'bad header definition: the section name is empty');
      group = undefined;
      const kind = sectionKind(header);
      if ((kind === 'parser' || kind === 'multiline_parser') && !state.allowParsers) throw syntaxError(origin, PARSERS_IN_MAIN);
      if (kind === undefined || kind === 'stream_processor') {
        state.warnings.push(`[config] warning in ${file}:${origin.line}: section [${header}] is not supported by wsbit and is ignored`);
        section = { target: undefined };
      } else {
        const target: ConfigSection = { kind, header, origin, entries: [], groups: [] };
        state.sections.push(target);
        section = { target };
      }
      continue;
    }

    if (indent === undefined) {
      // The first key line of a file sets its indent. Fluent Bit takes the first character of an
      // unindented line as the indent, which garbles that key and rejects the next one.
      if (!isBlank(line[0])) throw syntaxError(origin, 'invalid indentation level: keys must be indented, e.g. with 4 spaces');
      let end = 1;
      while (isBlank(line[end])) end++;
      indent = line.slice(0, end);
      indentLine = origin.line;
      if (end === line.length) continue;
    }

    const { level, groupContent } = checkIndent(line, indent, indentLine, origin);
    if (!groupContent) group = undefined;
    if (level === line.length || line[level] === '#') continue;

    if (line[level] === '[') {
      const close = line.indexOf(']', level);
      if (close < 0 || close === level + 1) throw syntaxError(origin, 'expected a valid group name: [..]');
      if (section === undefined) throw syntaxError(origin, "current group don't have a parent section");
      if (group !== undefined && group.entries.length === 0) throw syntaxError(origin, `previous group [${group.name}] did not have keys`);
      group = { name: line.slice(level + 1, close), origin, entries: [] };
      section.target?.groups.push(group);
      continue;
    }

    const space = line.indexOf(' ', level);
    if (space < 0) {
      const tab = line.includes('\t', level) ? ' (a key and its value are separated by a space; a tab does not count)' : '';
      throw syntaxError(origin, `undefined value - check config is in valid classic format${tab}`);
    }
    const key = asciiLower(trimC(line.slice(level, space)));
    // Fluent Bit reports an all-blank value as "could not allocate key value pair".
    const value = trimC(line.slice(space + 1));
    if (value === '') throw syntaxError(origin, 'key has an empty value');
    if (section === undefined) throw syntaxError(origin, `key '${key}' is not inside a section such as [INPUT]`);
    (group ?? section.target)?.entries.push({ key, value, origin });
  }
}

function newState(file: string, options: ParseOptions): ParseState {
  const reader = options.reader ?? noFiles;
  // Text parsed for a file that does not exist resolves includes next to where it would be.
  const absolute = reader.realPath(file) ?? path.resolve(file);
  return {
    reader,
    rootDir: path.dirname(absolute),
    allowParsers: options.allowParsers === true,
    sections: [],
    sets: [],
    warnings: [],
    seen: new Set(),
    files: [],
  };
}

/** Parses `text` as if it were the file `file` (includes resolve next to it, read by `options.reader`). */
export function parseClassicConfigText(text: string, file: string, options: ParseOptions = {}): ConfigDocument {
  const state = newState(file, options);
  parseFile(state, file, text);
  return finishDocument(state, options);
}
