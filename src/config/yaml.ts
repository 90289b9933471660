/**
 * Fluent Bit's YAML configuration (`src/config_format/flb_cf_yaml.c`), read into the same
 * `ConfigDocument` the classic parser produces, so validation stays in the schemas. This module only
 * maps YAML nodes to sections and entries; `finishDocument` (shared with classic) substitutes
 * `${VAR}`s and merges `service` sections.
 *
 * Every error is a `ConfigError` whose message reads `[config] error in FILE:LINE:COLUMN: reason`.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as Yaml from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';
import { ConfigError, originText, type ConfigOrigin } from '../base/errors.js';
import {
  finishDocument, MAX_FILES, noFiles,
  type ConfigDocument, type ConfigFileReader, type ConfigSection, type MultilineRuleText, type ParsedParts, type ParseOptions, type SectionKind, type UpstreamServersEntry,
} from './document.js';
import { asciiLower, configMessage, type ConfigEntry } from './schema.js';

let yamlModule: typeof Yaml | undefined;

/**
 * The `yaml` package, loaded on first use: it is well over a hundred modules, and a run from the
 * command line or a classic file should not wait for them, nor keep them in memory. `require` keeps
 * the loading synchronous, as configuration loading is; the package ships a CommonJS build for it.
 */
export function yamlLibrary(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yamlModule;
}

/**
 * Imports the `yaml` package ahead of a load that reads YAML. In the bundled agent (scripts/bundle.mjs)
 * this import is a chunk of the bundle, which costs a third of the memory of the package's own
 * CommonJS modules that `require` loads.
 */
export async function loadYamlLibrary(): Promise<void> {
  if (yamlModule !== undefined) return;
  const imported = (await import('yaml')) as typeof Yaml & { default?: typeof Yaml };
  yamlModule ??= imported.default ?? imported;
}

const isMap = (node: unknown): node is YAMLMap => yamlLibrary().isMap(node);
const isSeq = (node: unknown): node is Yaml.YAMLSeq => yamlLibrary().isSeq(node);
const isScalar = (node: unknown): node is Yaml.Scalar => yamlLibrary().isScalar(node);
const isAlias = (node: unknown): node is Yaml.Alias => yamlLibrary().isAlias(node);

/** Fluent Bit's top-level YAML sections; `customs` is accepted and kept like classic `[CUSTOM]`. */
const TOP_LEVEL_SECTIONS = ['env', 'includes', 'service', 'parsers', 'multiline_parsers', 'pipeline', 'upstream_servers', 'plugins', 'customs', 'telemetry'] as const;

/**
 * Whether a configuration file is YAML: by its extension, or (for a file named otherwise, such as
 * `fluent-bit.conf` holding YAML) by its first meaningful line: `---` or a known top-level key.
 * Classic files start with `[SECTION]`, `@INCLUDE`/`@SET` or comments, so the two never overlap.
 */
export function isYamlConfig(file: string, text: string): boolean {
  if (/\.ya?ml$/i.test(file)) return true;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\uFEFF/, '').replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    return line.startsWith('---') || new RegExp(`^(${TOP_LEVEL_SECTIONS.join('|')})\\s*:`, 'i').test(line);
  }
  return false;
}

interface YamlState extends ParsedParts {
  reader: ConfigFileReader;
  seen: Set<string>;
  upstreamServers: UpstreamServersEntry[];
}

/** Positions and errors of one file. */
class YamlFile {
  private readonly lines = new (yamlLibrary().LineCounter)();

  constructor(
    readonly file: string,
    readonly state: YamlState,
  ) {}

  parse(text: string): Node | null {
    const document = yamlLibrary().parseDocument(text, { lineCounter: this.lines, schema: 'failsafe', uniqueKeys: true, prettyErrors: false });
    const [first] = document.errors;
    if (first !== undefined) {
      const origin = this.originAt(first.pos[0]);
      const hint =
        first.code === 'TAB_AS_INDENT' ? ' (indent with spaces; YAML does not allow tabs)' :
        first.code === 'DUPLICATE_KEY' ? ' (a key may appear only once in a map; give several values as a list)' : '';
      // The parser turns a stack overflow from absurd nesting into an error; say what it means.
      const message = first.message.startsWith('Maximum call stack') ? 'values are nested too deeply' : (first.message.split('\n')[0] ?? '');
      throw new ConfigError('WSBIT_CONFIG_SYNTAX', configMessage(`invalid YAML: ${message}${hint}`, origin), origin);
    }
    return document.contents as Node | null;
  }

  originAt(offset: number): ConfigOrigin {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  origin(node: Node | null | undefined, fallback?: ConfigOrigin): ConfigOrigin {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback ?? { file: this.file, line: 1, column: 1 };
    return this.originAt(offset);
  }

  error(code: string, node: Node | null | undefined, reason: string, fallback?: ConfigOrigin): ConfigError {
    const origin = this.origin(node, fallback);
    return new ConfigError(code, configMessage(reason, origin), origin);
  }

  warn(node: Node | null | undefined, reason: string): void {
    this.state.warnings.push(`[config] warning in ${originText(this.origin(node))}: ${reason}`);
  }
}

const describeNode = (node: unknown): string => {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  // Fluent Bit 5.1.1 rejects aliases too ("unexpected event 'alias-event'"); the value must be written out.
  if (isAlias(node)) return `an alias (*${node.source}), which wsbit does not expand`;
  return node === null || node === undefined ? 'nothing' : 'a value';
};

function expectMap(yaml: YamlFile, node: unknown, what: string, fallback?: ConfigOrigin): YAMLMap {
  if (isMap(node)) return node;
  throw yaml.error('WSBIT_CONFIG_SYNTAX', node as Node | null, `${what} must be a map of keys, but this is ${describeNode(node)}`, fallback);
}

function expectList(yaml: YamlFile, node: unknown, what: string, fallback?: ConfigOrigin): Node[] {
  if (isSeq(node)) return node.items as Node[];
  throw yaml.error('WSBIT_CONFIG_SYNTAX', node as Node | null, `${what} must be a list (items start with '- '), but this is ${describeNode(node)}`, fallback);
}

/** A scalar's text; an empty value (`key:`) is '' and, like an unset `${VAR}`, leaves the key unset. */
function scalarText(yaml: YamlFile, node: unknown, what: string, fallback?: ConfigOrigin): string {
  if (node === null || node === undefined) return '';
  if (isScalar(node)) return node.value === null || node.value === undefined ? '' : String(node.value);
  throw yaml.error('WSBIT_CONFIG_SYNTAX', node as Node, `${what} must be a single value, but this is ${describeNode(node)}`, fallback);
}

function pairKey(yaml: YamlFile, pair: Pair): { text: string; node: Node | null; origin: ConfigOrigin } {
  const node = pair.key as Node | null;
  return { text: scalarText(yaml, node, 'a key'), node, origin: yaml.origin(node) };
}

/**
 * One key of a plugin, service or parser map: a value, or a list of values for keys that take
 * several (`header`, `rule`, `regex`, `set`, …); each list item becomes its own entry, as repeated
 * lines do in classic mode. Whether the key may repeat is the schema's call, not this parser's.
 */
function valueEntries(yaml: YamlFile, key: string, node: unknown, origin: ConfigOrigin): ConfigEntry[] {
  if (isSeq(node)) {
    return (node.items as Node[]).map((item) => ({ key, value: scalarText(yaml, item, `each item of '${key}'`), origin: yaml.origin(item, origin) }));
  }
  if (isMap(node)) throw yaml.error('WSBIT_CONFIG_SYNTAX', node, `'${key}' takes a value or a list of values, but this is a map`);
  return [{ key, value: scalarText(yaml, node, `'${key}'`, origin), origin }];
}

function newSection(kind: SectionKind, header: string, origin: ConfigOrigin): ConfigSection {
  return { kind, header, origin, entries: [], groups: [] };
}

/** Fluent Bit's YAML multiline rules are maps of `state`, `regex` and `next_state`. */
function multilineRule(yaml: YamlFile, node: Node): MultilineRuleText {
  const map = expectMap(yaml, node, 'a multiline rule');
  const field = (name: string): string => {
    const pair = map.items.find((item) => asciiLower(scalarText(yaml, item.key, 'a key')) === name);
    const text = scalarText(yaml, pair?.value, `'${name}'`);
    if (text === '') throw yaml.error('WSBIT_CONFIG_SYNTAX', node, `a multiline rule needs 'state', 'regex' and 'next_state'; '${name}' is missing`);
    return text;
  };
  return { state: field('state'), regex: field('regex'), nextState: field('next_state'), origin: yaml.origin(node) };
}

function processors(yaml: YamlFile, node: unknown, owner: string): ConfigSection[] {
  const map = expectMap(yaml, node, `'processors' of ${owner}`);
  const found: ConfigSection[] = [];
  for (const pair of map.items) {
    const key = pairKey(yaml, pair);
    const signal = asciiLower(key.text);
    if (signal === 'metrics' || signal === 'traces') {
      yaml.warn(key.node, `processors.${signal} of ${owner} are ignored: wsbit carries logs only`);
      continue;
    }
    if (signal !== 'logs') {
      yaml.warn(key.node, `unknown processor signal '${key.text}' of ${owner} is ignored (expected logs)`);
      continue;
    }
    for (const item of expectList(yaml, pair.value, `processors.logs of ${owner}`, key.origin)) {
      found.push(pluginSection(yaml, 'filter', 'processors.logs', item, false));
    }
  }
  return found;
}

/** One item of `pipeline.inputs/filters/outputs`, `parsers`, `customs` or `processors.logs`. */
function pluginSection(yaml: YamlFile, kind: SectionKind, header: string, node: Node, allowProcessors: boolean): ConfigSection {
  const map = expectMap(yaml, node, `each item of ${header}`);
  const section = newSection(kind, header, yaml.origin(node));
  for (const pair of map.items) {
    const key = pairKey(yaml, pair);
    const lower = asciiLower(key.text);
    if (lower === 'processors' && (kind === 'input' || kind === 'output' || kind === 'filter')) {
      if (!allowProcessors) throw yaml.error('WSBIT_CONFIG_SYNTAX', key.node, `'processors' belong to an input or an output, not to ${header}`);
      section.processors = [...(section.processors ?? []), ...processors(yaml, pair.value, `this ${kind}`)];
      continue;
    }
    if (lower === 'rules' && kind === 'multiline_parser') {
      section.rules = [...(section.rules ?? []), ...expectList(yaml, pair.value, "'rules'", key.origin).map((rule) => multilineRule(yaml, rule))];
      continue;
    }
    section.entries.push(...valueEntries(yaml, lower, pair.value, key.origin));
  }
  return section;
}

const PIPELINE_PARTS: Readonly<Record<string, 'input' | 'filter' | 'output'>> = { inputs: 'input', filters: 'filter', outputs: 'output' };

function pipeline(yaml: YamlFile, node: unknown, origin: ConfigOrigin): void {
  for (const pair of expectMap(yaml, node, "'pipeline'", origin).items) {
    const key = pairKey(yaml, pair);
    const kind = PIPELINE_PARTS[asciiLower(key.text)];
    if (kind === undefined) {
      yaml.warn(key.node, `unknown pipeline section '${key.text}' is ignored (expected inputs, filters or outputs)`);
      continue;
    }
    for (const item of expectList(yaml, pair.value, `pipeline.${key.text}`, key.origin)) {
      yaml.state.sections.push(pluginSection(yaml, kind, `pipeline.${asciiLower(key.text)}`, item, kind !== 'filter'));
    }
  }
}

/**
 * `upstream_servers`: a list of `{ name, nodes: [ {name, host, port, tls, ...}, ... ] }`, read into the
 * `[UPSTREAM]` and `[NODE]` sections an upstream file holds, so one reader (`upstreamFromSections`)
 * validates both. The loader checks the nodes when an output names the entry.
 */
function upstreamServers(yaml: YamlFile, node: unknown, origin: ConfigOrigin): void {
  for (const item of expectList(yaml, node, "'upstream_servers'", origin)) {
    const map = expectMap(yaml, item, 'each upstream server');
    const at = yaml.origin(item, origin);
    const head = newSection('upstream_servers', 'UPSTREAM', at);
    const sections: ConfigSection[] = [head];
    for (const pair of map.items) {
      const key = pairKey(yaml, pair);
      const lower = asciiLower(key.text);
      if (lower !== 'nodes') {
        head.entries.push(...valueEntries(yaml, lower, pair.value, key.origin));
        continue;
      }
      for (const nodeItem of expectList(yaml, pair.value, "'nodes'", key.origin)) {
        const section = newSection('node', 'NODE', yaml.origin(nodeItem, key.origin));
        for (const nodePair of expectMap(yaml, nodeItem, 'each node').items) {
          const nodeKey = pairKey(yaml, nodePair);
          section.entries.push(...valueEntries(yaml, asciiLower(nodeKey.text), nodePair.value, nodeKey.origin));
        }
        sections.push(section);
      }
    }
    const name = head.entries.filter((entry) => entry.key === 'name').at(-1)?.value ?? '';
    if (name === '') throw yaml.error('WSBIT_CONFIG_UPSTREAM', item, "each item of 'upstream_servers' needs a 'name'");
    const twin = yaml.state.upstreamServers.find((upstream) => upstream.name === name);
    if (twin !== undefined) {
      throw yaml.error('WSBIT_CONFIG_UPSTREAM', item, `upstream_servers '${name}' is already defined at ${originText(twin.origin)}`);
    }
    // Among the document's sections too, so `${VAR}`s in them are substituted like any other value.
    yaml.state.sections.push(...sections);
    yaml.state.upstreamServers.push({ name, origin: at, sections });
  }
}

function includes(yaml: YamlFile, node: unknown, origin: ConfigOrigin): void {
  const items = isSeq(node) ? (node.items as Node[]) : [node as Node];
  for (const item of items) {
    const spec = scalarText(yaml, item, 'each include');
    const at = yaml.origin(item, origin);
    // Relative to the including file, as Fluent Bit's YAML includes are.
    const file = path.isAbsolute(spec) ? spec : path.join(path.dirname(yaml.file), spec);
    let text: string;
    try {
      text = yaml.state.reader.readText(file, 'included file', at);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError('WSBIT_CONFIG_INCLUDE', configMessage(`include '${spec}': ${reason}`, at), at, { cause: error });
    }
    parseYamlFile(yaml.state, file, text, at);
  }
}

/**
 * `env:` as Fluent Bit reads it: a map of `NAME: value`, or a list of `{ name, value }` items (a
 * missing value is empty). Fluent Bit skips an item without `name` and other keys silently; wsbit
 * skips them with a warning, since a misspelt `name` or `value` would otherwise go unnoticed.
 */
function env(yaml: YamlFile, node: unknown, origin: ConfigOrigin): void {
  if (!isSeq(node)) {
    if (!isMap(node)) throw yaml.error('WSBIT_CONFIG_SYNTAX', node as Node | null, `'env' must be a map of NAME: value, or a list of name/value items, but this is ${describeNode(node)}`, origin);
    for (const entry of node.items) {
      const name = pairKey(yaml, entry);
      yaml.state.sets.push({ key: name.text, value: scalarText(yaml, entry.value, `env '${name.text}'`, name.origin) });
    }
    return;
  }
  for (const item of node.items as Node[]) {
    let name: string | undefined;
    let value = '';
    for (const entry of expectMap(yaml, item, "each item of 'env'", origin).items) {
      const key = pairKey(yaml, entry);
      const lower = asciiLower(key.text);
      if (lower === 'name') name = scalarText(yaml, entry.value, "an env item's name", key.origin);
      else if (lower === 'value') value = scalarText(yaml, entry.value, "an env item's value", key.origin);
      else yaml.warn(key.node, `'${key.text}' in an env item is ignored (an item has name and value)`);
    }
    if (name === undefined || name === '') yaml.warn(item, "an env item without 'name' is ignored");
    else yaml.state.sets.push({ key: name, value });
  }
}

function topLevel(yaml: YamlFile, pair: Pair): void {
  const key = pairKey(yaml, pair);
  const { origin } = key;
  switch (asciiLower(key.text)) {
    case 'env':
      env(yaml, pair.value, origin);
      return;
    case 'telemetry':
      // Fluent Bit 5.1.1 takes a map here (a value or a list is an error) for exporting its own telemetry.
      expectMap(yaml, pair.value, "'telemetry'", origin);
      yaml.warn(key.node, "'telemetry' is accepted and ignored: wsbit exports no telemetry of its own (its metrics are on the monitoring server, HTTP_Server)");
      return;
    case 'includes':
      includes(yaml, pair.value, origin);
      return;
    case 'service': {
      const section = newSection('service', 'service', origin);
      for (const entry of expectMap(yaml, pair.value, "'service'", origin).items) {
        const name = pairKey(yaml, entry);
        section.entries.push(...valueEntries(yaml, asciiLower(name.text), entry.value, name.origin));
      }
      yaml.state.sections.push(section);
      return;
    }
    case 'parsers':
      for (const item of expectList(yaml, pair.value, "'parsers'", origin)) yaml.state.sections.push(pluginSection(yaml, 'parser', 'parsers', item, false));
      return;
    case 'multiline_parsers':
      for (const item of expectList(yaml, pair.value, "'multiline_parsers'", origin)) {
        yaml.state.sections.push(pluginSection(yaml, 'multiline_parser', 'multiline_parsers', item, false));
      }
      return;
    case 'customs':
      for (const item of expectList(yaml, pair.value, "'customs'", origin)) yaml.state.sections.push(pluginSection(yaml, 'custom', 'customs', item, false));
      return;
    case 'pipeline':
      pipeline(yaml, pair.value, origin);
      return;
    case 'upstream_servers':
      upstreamServers(yaml, pair.value, origin);
      return;
    case 'plugins':
      throw yaml.error('WSBIT_CONFIG_NOT_SUPPORTED', key.node, "'plugins' loads shared-object plugins, which wsbit does not have: every wsbit plugin is built in (wsbit -h lists them)");
    default:
      yaml.warn(key.node, `unknown section '${key.text}' is ignored (known: ${TOP_LEVEL_SECTIONS.join(', ')})`);
  }
}

function parseYamlFile(state: YamlState, file: string, text: string, includedFrom?: ConfigOrigin): void {
  const identity = state.reader.identity(file);
  const start = includedFrom ?? { file, line: 1, column: 1 };
  if (state.seen.has(identity)) {
    throw new ConfigError('WSBIT_CONFIG_INCLUDE', configMessage(`Read twice. path=${file} (the file is already part of this configuration; an include loop?)`, start), start);
  }
  if (state.files.length >= MAX_FILES) throw new ConfigError('WSBIT_CONFIG_INCLUDE', configMessage(`too many configuration files (limit ${MAX_FILES})`, start), start);
  state.seen.add(identity);
  state.files.push(file);
  const yaml = new YamlFile(file, state);
  const root = yaml.parse(text);
  if (root === null) return;
  for (const pair of expectMap(yaml, root, 'a YAML configuration file').items) topLevel(yaml, pair);
}

/** Parses `text` as the YAML file `file` (includes resolve next to it, read by `options.reader`). */
export function parseYamlConfigText(text: string, file: string, options: ParseOptions = {}): ConfigDocument {
  const state: YamlState = { reader: options.reader ?? noFiles, sections: [], sets: [], warnings: [], files: [], seen: new Set(), upstreamServers: [] };
  parseYamlFile(state, file, text);
  return finishDocument(state, options);
}
