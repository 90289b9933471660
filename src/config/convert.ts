/**
 * `wsbit --convert FILE.conf`: a classic configuration (or a parsers file) printed as Fluent Bit's
 * YAML. `@SET` becomes `env` (values keep their `${VAR}`s), `@INCLUDE x.conf` becomes `includes:
 * [x.yaml]` (convert that file too), `[PARSER]`/`[MULTILINE_PARSER]` become `parsers` and
 * `multiline_parsers`, a repeated key becomes a list, and column-0 comments before a section or key
 * stay in front of it. The YAML it prints reads back to the same pipeline (tested on every conf/ file).
 */
import type { Node, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { ConfigError } from '../base/errors.js';
import { parseClassicConfigText } from './classic.js';
import type { ConfigSection } from './document.js';
import { yamlLibrary } from './yaml.js';
import { configMessage, type ConfigEntry } from './schema.js';

/** Comment lines (without `#`) that end just before each line number, blank lines allowed between. */
function commentsByLine(lines: readonly string[]): Map<number, string[]> {
  const found = new Map<number, string[]>();
  let pending: string[] = [];
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) pending.push(trimmed.slice(1));
    else if (trimmed !== '') {
      if (pending.length > 0) found.set(index + 1, pending);
      pending = [];
    }
  });
  return found;
}

/**
 * `@INCLUDE` lines are taken out (blanked, so line numbers hold) and listed; the rest is parsed as
 * classic. YAML reads `includes` first, so an include that followed a section is reported.
 */
function splitIncludes(lines: string[], file: string, warnings: string[]): string[] {
  const includes: string[] = [];
  let sectionSeen = false;
  lines.forEach((line, index) => {
    if (line.startsWith('[')) sectionSeen = true;
    const match = /^@include\s+(.+?)\s*$/i.exec(line.replace(/\r$/, ''));
    if (match === null) return;
    const spec = match[1] ?? '';
    if (sectionSeen) {
      warnings.push(`[convert] ${file}:${index + 1}: @INCLUDE ${spec} comes after a section; YAML includes are read first, which may change the order of filters`);
    }
    includes.push(spec.replace(/\.conf$/i, '.yaml'));
    lines[index] = '';
  });
  return includes;
}

class YamlWriter {
  readonly document = new (yamlLibrary().Document)(null, { schema: 'failsafe' });

  constructor(private readonly comments: Map<number, string[]>) {}

  commentFor(line: number | undefined): string | undefined {
    const lines = line === undefined ? undefined : this.comments.get(line);
    return lines === undefined ? undefined : lines.join('\n');
  }

  pair(key: string, value: unknown, line?: number): Pair {
    const pair = this.document.createPair(key, value);
    const comment = this.commentFor(line);
    if (comment !== undefined) (pair.key as Scalar).commentBefore = comment;
    return pair;
  }

  /** Entries in order; a key given several times becomes one list at its first place. */
  entriesMap(entries: readonly ConfigEntry[]): YAMLMap {
    const map = new (yamlLibrary().YAMLMap)();
    const lists = new Map<string, string[]>();
    for (const entry of entries) {
      const list = lists.get(entry.key);
      if (list !== undefined) {
        list.push(entry.value);
        continue;
      }
      const values = [entry.value];
      lists.set(entry.key, values);
      map.items.push(this.pair(entry.key, values, entry.origin?.line));
    }
    for (const pair of map.items) {
      const values = lists.get(String((pair.key as Scalar).value)) ?? [];
      pair.value = this.document.createNode(values.length === 1 ? values[0] : values);
    }
    return map;
  }

  section(section: ConfigSection): YAMLMap {
    if (section.groups.length > 0) {
      const origin = section.groups[0]?.origin ?? section.origin;
      throw new ConfigError('WSBIT_CONVERT_UNSUPPORTED', configMessage(`[${section.header}] has indented groups, which have no YAML form`, origin), origin);
    }
    const entries = [...section.entries];
    const rules: Node[] = [];
    for (const rule of section.rules ?? []) {
      // Fluent Bit's YAML writes each `rule "state" "regex" "next"` as a map, which needs all three.
      if (rule.nextState !== null) rules.push(this.document.createNode({ state: rule.state, regex: rule.regex, next_state: rule.nextState }));
      else entries.push({ key: 'rule', value: [rule.state, rule.regex].map((word) => `"${word.replace(/"/g, '\\"')}"`).join(' '), origin: rule.origin });
    }
    const map = this.entriesMap(entries);
    if (rules.length > 0) map.items.push(this.document.createPair('rules', this.seq(rules)));
    const comment = this.commentFor(section.origin.line);
    if (comment !== undefined) map.commentBefore = comment;
    return map;
  }

  seq(items: readonly Node[]): YAMLSeq {
    const seq = new (yamlLibrary().YAMLSeq)();
    seq.items.push(...items);
    return seq;
  }

  list(sections: readonly ConfigSection[]): YAMLSeq {
    return this.seq(sections.map((section) => this.section(section)));
  }
}

/** The YAML for `text`, the classic file `file`. */
export function convertClassicToYaml(file: string, text: string): string {
  const lines = text.split('\n');
  const comments = commentsByLine(lines);
  // The comment block that opens the file opens the YAML, rather than sitting on the first section.
  const firstContent = lines.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const opening = comments.get(firstContent + 1);
  comments.delete(firstContent + 1);
  const notes: string[] = [];
  const includes = splitIncludes(lines, file, notes);
  const document = parseClassicConfigText(lines.join('\n'), file, { allowParsers: true, keepVariables: true });
  const writer = new YamlWriter(comments);
  const root = new (yamlLibrary().YAMLMap)();
  const kinds = (kind: ConfigSection['kind']): ConfigSection[] => document.sections.filter((section) => section.kind === kind);

  if (document.variables.size > 0) root.items.push(writer.pair('env', Object.fromEntries(document.variables)));
  if (includes.length > 0) root.items.push(writer.pair('includes', includes));
  const [service] = kinds('service');
  if (service !== undefined) root.items.push(writer.pair('service', writer.entriesMap(service.entries), service.origin.line));
  for (const [kind, key] of [['parser', 'parsers'], ['multiline_parser', 'multiline_parsers'], ['custom', 'customs']] as const) {
    if (kinds(kind).length > 0) root.items.push(writer.pair(key, writer.list(kinds(kind))));
  }
  const pipeline = new (yamlLibrary().YAMLMap)();
  for (const [kind, key] of [['input', 'inputs'], ['filter', 'filters'], ['output', 'outputs']] as const) {
    if (kinds(kind).length > 0) pipeline.items.push(writer.pair(key, writer.list(kinds(kind))));
  }
  if (pipeline.items.length > 0) root.items.push(writer.pair('pipeline', pipeline));
  const skipped = document.sections.filter((section) => section.kind === 'plugins' || section.kind === 'upstream_servers');
  for (const section of skipped) {
    document.warnings.push(`[convert] ${section.origin.file}:${section.origin.line}: [${section.header}] is not converted: wsbit does not support it`);
  }

  writer.document.contents = root;
  if (opening !== undefined) writer.document.commentBefore = opening.join('\n');
  const warnings = [...notes, ...document.warnings].map((warning) => `# ${warning}\n`).join('');
  return warnings + writer.document.toString({ lineWidth: 0 });
}
