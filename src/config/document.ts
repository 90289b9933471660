/**
 * The configuration document: what the classic and the YAML front ends both make of a file's text,
 * before any plugin or schema gives it meaning. Files are read through a `ConfigFileReader` that the
 * caller (src/app) supplies, so this floor reads no file itself.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, originText, type ConfigOrigin } from '../base/errors.js';
import type { ConfigEntry } from './schema.js';
import type { ServiceUri } from './service-uri.js';
import { splitTokens } from './words.js';

export type SectionKind =
  | 'service' | 'input' | 'filter' | 'output' | 'custom' | 'parser' | 'multiline_parser' | 'plugins' | 'upstream_servers' | 'node';

/** An indented `[NAME]` line inside a section; its keys are indented twice. */
export interface ConfigGroup {
  name: string;
  origin: ConfigOrigin;
  entries: ConfigEntry[];
}

/**
 * One rule of a `[MULTILINE_PARSER]`: classic `rule "state" "/regex/" "next"` lines and YAML `rules:`
 * items both become this, so no front end quotes a rule for another to split.
 */
export interface MultilineRuleText {
  /** One state, or several separated by commas. */
  state: string;
  regex: string;
  nextState: string | null;
  origin: ConfigOrigin;
}

export interface ConfigSection {
  kind: SectionKind;
  /** The name between the brackets, as written (`SERV`, `OUTPUT`). */
  header: string;
  origin: ConfigOrigin;
  /** Keys lower-cased, values trimmed and with `${VAR}` substituted; repeats kept in order. */
  entries: ConfigEntry[];
  groups: ConfigGroup[];
  /** Multiline parsers only: the rules, in the order written. */
  rules?: MultilineRuleText[];
  /** YAML only: the `processors.logs` of an input or output, each a section of kind `filter`. */
  processors?: ConfigSection[];
  /** Command line only: `-o websocket://host:port/path`, whose parts the plugin's keys receive. */
  serviceUri?: ServiceUri;
}

export { commandLineOrigin, isCommandLine, originLabel, type CommandLineOrigin } from './origin.js';

/** YAML's `upstream_servers` entry: its `[UPSTREAM]`-like head section and one `node` section per node. */
export interface UpstreamServersEntry {
  name: string;
  origin: ConfigOrigin;
  sections: ConfigSection[];
}

export interface ConfigDocument {
  /** In file order, includes in place; all `[SERVICE]` sections merged into the first one. */
  sections: ConfigSection[];
  /** YAML's `upstream_servers` (their sections are among `sections` too, for `${VAR}`s); empty in classic. */
  upstreamServers: UpstreamServersEntry[];
  /** The `@SET` variables. */
  variables: Map<string, string>;
  warnings: string[];
  /** Every file read, main file first. */
  files: string[];
}

/**
 * How the front ends reach files (includes, globs), supplied by src/app. Errors name the file: `readText`
 * throws a `ConfigError` whose `cause` carries the system error code.
 */
export interface ConfigFileReader {
  /** `what` names the file's role in messages ("@INCLUDE file", "included file"). */
  readText(file: string, what: string, origin?: ConfigOrigin): string;
  exists(file: string): boolean;
  /** The files an absolute pattern whose components may hold `*` and `?` matches, sorted. */
  glob(pattern: string): string[];
  /** What makes two paths the same file (`dev:ino`), for Fluent Bit's `Read twice` check. */
  identity(file: string): string;
  /** The path with symbolic links resolved, or undefined when there is no such file. */
  realPath(file: string): string | undefined;
}

/** For text parsed on its own: every include is a missing file. */
export const noFiles: ConfigFileReader = {
  readText(file, what, origin) {
    throw new ConfigError('WSBIT_CONFIG_NOT_FOUND', `could not open ${what} ${file}: no such file`, origin, { cause: { code: 'ENOENT' } });
  },
  exists: () => false,
  glob: () => [],
  identity: (file) => `path:${path.resolve(file)}`,
  realPath: () => undefined,
};

export interface ParseOptions {
  /** Where `${VAR}` looks after `@SET` variables; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Allow `[PARSER]` and `[MULTILINE_PARSER]`, for `Parsers_File` files. */
  allowParsers?: boolean;
  /** `${HOSTNAME}` when the environment has none; defaults to `os.hostname()`. */
  hostname?: string;
  /** Leave `${VAR}` in values as written (the `--convert` tool keeps them for the YAML it prints). */
  keepVariables?: boolean;
  /** How includes are read; without one, text is parsed on its own and an include is a missing file. */
  reader?: ConfigFileReader;
}

/** Fluent Bit stops at 1000 files (`FLB_CF_FILE_NUM_LIMIT`), which also ends include cycles via globs. */
export const MAX_FILES = 1000;

export interface RawSet {
  key: string;
  value: string;
}

/** What a front end hands to `finishDocument`: sections in file order, raw variables, warnings, files read. */
export interface ParsedParts {
  sections: ConfigSection[];
  upstreamServers?: UpstreamServersEntry[];
  sets: RawSet[];
  warnings: string[];
  files: string[];
}

/**
 * `${VAR}` and `${VAR:-default}` in a value (`flb_env_var_translate`): `lookup` gives `@SET`
 * variables, then the environment. An unset variable becomes empty and is reported through
 * `onUnset`; the default of `:-` also replaces an empty value. One pass, no recursion.
 */
export function expandVariables(value: string, lookup: (name: string) => string | undefined, onUnset: (name: string) => void): string {
  let out = '';
  let from = 0;
  for (;;) {
    const start = value.indexOf('${', from);
    if (start < 0) break;
    const end = value.indexOf('}', start + 2);
    if (end < 0) break;
    const inner = value.slice(start + 2, end);
    out += value.slice(from, start);
    from = end + 1;
    if (inner === '') {
      out += '${}';
      continue;
    }
    const dash = inner.indexOf(':-');
    const name = dash < 0 ? inner : inner.slice(0, dash);
    const found = lookup(name);
    if (dash >= 0) out += found !== undefined && found !== '' ? found : inner.slice(dash + 2);
    else if (found !== undefined) out += found;
    else onUnset(name);
  }
  return out + value.slice(from);
}

/**
 * A multiline parser's `rule "from_states" "/regex/" "to_state"` entries become its rules
 * (`flb_slist_split_tokens`; wsbit also splits at tabs). A rule of the wrong shape stays an entry, for
 * the multiline section reader to refuse with its line.
 */
function structureRules(section: ConfigSection): void {
  const rules: MultilineRuleText[] = [];
  section.entries = section.entries.filter((entry) => {
    if (entry.key !== 'rule') return true;
    const words = splitTokens(entry.value, 0, 'blanks');
    if (words.length < 2 || words.length > 3) return true;
    const [state = '', regex = '', nextState = null] = words;
    rules.push({ state, regex, nextState, origin: entry.origin ?? section.origin });
    return false;
  });
  section.rules = [...rules, ...(section.rules ?? [])];
}

/**
 * Substitutes variables in every value and merges the service sections. Shared by the classic and
 * YAML front ends, so `${VAR}` means the same in both.
 */
export function finishDocument(parts: ParsedParts, options: ParseOptions): ConfigDocument {
  const env = options.env ?? process.env;
  // All `@SET`s run before any value is used, so their position does not matter; the last wins.
  const variables = new Map(parts.sets.map((set): [string, string] => [set.key, set.value]));
  const lookup = (name: string): string | undefined => {
    const set = variables.get(name);
    if (set !== undefined) return set;
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    // Fluent Bit presets HOSTNAME only when the environment has no HOSTNAME at all (`env_preset`).
    if (name === 'HOSTNAME' && fromEnv === undefined) return options.hostname ?? os.hostname();
    return undefined;
  };
  const substitute = (item: { value: string; origin?: ConfigOrigin | undefined }): void => {
    item.value = expandVariables(item.value, lookup, (name) => {
      const at = item.origin === undefined ? '' : ` (${originText(item.origin)})`;
      parts.warnings.push(`[env] variable \${${name}} is used but not set${at}`);
    });
  };
  const substituteRule = (rule: MultilineRuleText): void => {
    for (const field of ['state', 'regex', 'nextState'] as const) {
      const text = rule[field];
      if (text === null) continue;
      const item = { value: text, origin: rule.origin };
      substitute(item);
      rule[field] = item.value;
    }
  };

  const sections: ConfigSection[] = [];
  let service: ConfigSection | undefined;
  for (const section of parts.sections) {
    if (section.entries.length === 0 && section.groups.length === 0 && (section.rules ?? []).length === 0) {
      parts.warnings.push(`[config] warning in ${originText(section.origin)}: section [${section.header}] did not have keys`);
    }
    if (options.keepVariables !== true) {
      section.entries.forEach(substitute);
      section.groups.forEach((group) => group.entries.forEach(substitute));
      section.rules?.forEach(substituteRule);
      section.processors?.forEach((processor) => processor.entries.forEach(substitute));
    }
    if (section.kind === 'multiline_parser') structureRules(section);
    // Fluent Bit merges every [SERVICE] into one; later values come later and so win.
    if (section.kind === 'service' && service !== undefined) {
      service.entries.push(...section.entries);
      service.groups.push(...section.groups);
      continue;
    }
    if (section.kind === 'service') service = section;
    sections.push(section);
  }
  return { sections, upstreamServers: parts.upstreamServers ?? [], variables, warnings: parts.warnings, files: parts.files };
}
