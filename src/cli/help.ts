import { commonKeysByKind, pluginSchema } from '../pipeline/plugin-schema.js';
import { describeSchema, keyOf, renderSchemaTable, type ParamSpec, type ParamType, type SchemaRow } from '../config/schema.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { PluginManifest } from '../pipeline/contracts.js';

export const cliFlags: Array<[string, string]> = [
  ['-c, --config=FILE', 'specify an optional configuration file'],
  ['-i, --input=INPUT', 'set an input plugin (name or name://host:port)'],
  ['-o, --output=OUTPUT', 'set an output plugin (name or name://host:port/path)'],
  ['-F, --filter=FILTER', 'set a filter'],
  ['-p, --prop="A=B"', 'set a property of the last plugin given'],
  ['-t, --tag=TAG', 'set the tag of the last input given'],
  ['-m, --match=MATCH', 'set the match rule of the last output (or filter) given'],
  ['-f, --flush=SECONDS', 'flush timeout in seconds (default: 1)'],
  ['-b, --storage_path=PATH', 'directory for filesystem buffering (storage.path)'],
  ['-R, --parser=FILE', 'a file of [PARSER] sections (Parsers_File)'],
  ['-l, --log_file=FILE', 'write log information to this file'],
  ['-v, --verbose', 'increase logging verbosity (-vv for trace)'],
  ['-q, --quiet', 'quiet mode: no log output'],
  ['-D, --dry-run', 'validate the configuration and exit'],
  ['--convert FILE.conf', 'print a classic configuration (or parsers file) as YAML and exit'],
  ['-H, --http', 'enable the monitoring HTTP server (HTTP_Server on)'],
  ['-L, --http_listen=ADDRESS', 'address of the monitoring HTTP server'],
  ['-P, --http_port=PORT', 'port of the monitoring HTTP server (default: 2020)'],
  ['-Y, --enable-hot-reload', 'reload the configuration on SIGHUP (Hot_Reload on)'],
  ['-J, --help-json', 'print the plugins and their keys as JSON'],
  ['-V, --version', 'show version number'],
  ['-h, --help', 'print this help, or the help of the plugin given before it (-o websocket -h)'],
];

export function mainHelp(registry: PluginRegistry, version: string): string {
  const width = Math.max(...cliFlags.map(([flag]) => flag.length)) + 2;
  const lines = [
    `Usage: wsbit [OPTION]`,
    '',
    `wsbit ${version}: ship logs and events to WebSocket servers, the Fluent Bit way.`,
    '',
    'Available Options',
    ...cliFlags.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
    '',
    'Inputs',
    ...registry.names('input').map((name) => `  ${name.padEnd(width)}${registry.input(name)?.description ?? ''}`),
    '',
    'Filters',
    ...registry.names('filter').map((name) => `  ${name.padEnd(width)}${registry.filter(name)?.description ?? ''}`),
    '',
    'Outputs',
    ...registry.names('output').map((name) => `  ${name.padEnd(width)}${registry.output(name)?.description ?? ''}`),
    '',
    'Examples',
    "  wsbit -i cpu -t cpu -o websocket://127.0.0.1:8080/something -m '*'",
    "  wsbit -i dummy -p samples=3 -o stdout -m '*' -f 0.5",
    '  wsbit -c conf/tcp-to-websocket.conf',
    '',
  ];
  return lines.join('\n');
}

/** Fluent Bit's groups of a plugin's keys in its help, in its order. */
type HelpGroup = 'global_options' | 'options' | 'networking' | 'network_tls';
const helpGroups: readonly HelpGroup[] = ['global_options', 'options', 'networking', 'network_tls'];

interface GroupedKey {
  spec: ParamSpec;
  row: SchemaRow;
}

/**
 * A plugin's keys in Fluent Bit's help groups (`flb_help.c`): the keys every plugin of the kind takes
 * are global options; `net.*` keys are networking; `tls` and `tls.*` are network_tls, and an output
 * lists them with its options too (Fluent Bit adds them to an output's own config map; an input's come
 * from its server's, so they appear only in network_tls). A filter's tls keys (kubernetes) are plain
 * options of its own config map, as Fluent Bit lists them. The network groups appear, as in Fluent Bit,
 * for the plugins that do network I/O (those that take a service URI, `-o http://host:port`), listing
 * the keys of theirs that wsbit takes, possibly none; `-h` leaves out an empty group.
 */
function groupedKeys(definition: PluginManifest): Map<HelpGroup, GroupedKey[]> {
  const schema = pluginSchema(definition);
  const rows = describeSchema(schema);
  const common = new Set(commonKeysByKind[definition.kind].map(keyOf));
  const groups = new Map<HelpGroup, GroupedKey[]>(helpGroups.map((group) => [group, []]));
  const add = (group: HelpGroup, entry: GroupedKey): void => void groups.get(group)?.push(entry);
  schema.forEach((spec, index) => {
    const entry = { spec, row: rows[index] as SchemaRow };
    const key = keyOf(spec);
    if (common.has(key)) add('global_options', entry);
    else if (key.startsWith('net.')) add('networking', entry);
    else if ((key === 'tls' || key.startsWith('tls.')) && definition.kind !== 'filter') {
      if (definition.kind === 'output') add('options', entry);
      add('network_tls', entry);
    } else add('options', entry);
  });
  const network = definition.serviceUriKeys !== undefined;
  for (const group of ['networking', 'network_tls'] as const) if (!network && groups.get(group)?.length === 0) groups.delete(group);
  return groups;
}

/** `-h` after a plugin: its keys in Fluent Bit's groups, each key once, in the last group that has it (tls in NETWORK_TLS). */
export function pluginHelp(definition: PluginManifest): string {
  const groups = [...groupedKeys(definition)];
  const lastGroup = new Map<ParamSpec, HelpGroup>();
  for (const [group, entries] of groups) for (const { spec } of entries) lastGroup.set(spec, group);
  const sections: string[] = [];
  for (const [group, entries] of groups) {
    const own = entries.filter(({ spec }) => lastGroup.get(spec) === group);
    // A group with nothing to list (a network group of a plugin whose keys wsbit lacks) gets no heading.
    if (own.length > 0) sections.push(`${group.toUpperCase()}\n${renderSchemaTable(own.map(({ row }) => row), 'text')}`);
  }
  return `HELP\n${definition.name} ${definition.kind} plugin: ${definition.description}\n\n${sections.join('\n')}`;
}

/** One key as Fluent Bit's `-J` prints it (`flb_help.c`): every default is text or null. */
interface JsonHelpOption {
  name: string;
  description: string;
  default: string | null;
  type: string;
}

/** Fluent Bit's names for the value types in `-J` (`flb_config_map` types). */
const jsonTypeNames: Record<ParamType, string> = {
  string: 'string',
  int: 'integer',
  double: 'double',
  bool: 'boolean',
  size: 'size',
  time: 'time',
  enum: 'string',
  list: 'multiple comma delimited strings',
  header: 'space delimited strings (minimum 1)',
};

function jsonOption({ spec, row }: GroupedKey): JsonHelpOption {
  const unset = spec.shownDefault === undefined && (spec.multiple === true || spec.default === undefined || spec.default === null || spec.default === '');
  // The key as Fluent Bit spells it (`Key_Name`); files and -p match it in any case.
  // A key that takes any suffix (tail's Parser_N) is typed as Fluent Bit types it: `prefixed string`.
  const type = spec.prefixed === true ? `prefixed ${jsonTypeNames[spec.type]}` : jsonTypeNames[spec.type];
  return { name: spec.key, description: row.description, default: unset ? null : row.default, type };
}

/**
 * `-J` for one plugin, in Fluent Bit's shape so tools written for it read ours:
 * `{ type, name, description, properties: { global_options, options, networking?, network_tls? } }`.
 */
export function pluginHelpJson(definition: PluginManifest): unknown {
  const properties: Partial<Record<HelpGroup, JsonHelpOption[]>> = {};
  for (const [group, entries] of groupedKeys(definition)) properties[group] = entries.map(jsonOption);
  return { type: definition.kind, name: definition.name, description: definition.description, properties };
}

/** `-J`: every plugin (or the one after -i/-o/-F) in Fluent Bit's JSON help shape. */
export function helpAsJson(registry: PluginRegistry, version: string, plugin: PluginManifest | null): unknown {
  if (plugin !== null) return pluginHelpJson(plugin);
  const all = (kind: PluginManifest['kind']) => registry.names(kind).map((name) => pluginHelpJson(registry.get(kind, name) as PluginManifest));
  return {
    // Fluent Bit's header, so its readers find what they expect; the version is wsbit's.
    'fluent-bit': { version, schema_version: '1', os: process.platform },
    customs: [],
    inputs: all('input'),
    processors: [],
    filters: all('filter'),
    outputs: all('output'),
  };
}
