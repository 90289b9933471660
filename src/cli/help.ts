import { commonKeysByKind, pluginSchema } from '../pipeline/plugin-schema.js';
import { describeSchema, renderSchemaTable, type ParamSpec, type ParamType, type SchemaRow } from '../config/schema.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { PluginManifest } from '../pipeline/contracts.js';
import type { PluginChoice } from './args.js';

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

export function pluginHelp(definition: PluginManifest): string {
  return `HELP\n${definition.name} ${definition.kind} plugin: ${definition.description}\n\nOPTIONS\n${renderSchemaTable(describeSchema(pluginSchema(definition)), 'text')}`;
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

function jsonOption(spec: ParamSpec, row: SchemaRow): JsonHelpOption {
  const unset = spec.shownDefault === undefined && (spec.multiple === true || spec.default === undefined || spec.default === null || spec.default === '');
  return { name: spec.key, description: row.description, default: unset ? null : row.default, type: jsonTypeNames[spec.type] };
}

/**
 * `-J` for one plugin, in Fluent Bit's shape so tools written for it read ours:
 * `{ type, name, description, properties: { global_options, options, networking?, network_tls? } }`.
 * The keys every plugin of the kind takes are global options; `net.*` and `tls*` keys get groups of
 * their own, which appear (as in Fluent Bit) only for plugins that have such keys.
 */
export function pluginHelpJson(definition: PluginManifest): unknown {
  const schema = pluginSchema(definition);
  const rows = describeSchema(schema);
  const common = new Set(commonKeysByKind[definition.kind].map((spec) => spec.key));
  const groups: Record<'global_options' | 'options' | 'networking' | 'network_tls', JsonHelpOption[]> = {
    global_options: [],
    options: [],
    networking: [],
    network_tls: [],
  };
  schema.forEach((spec, index) => {
    const option = jsonOption(spec, rows[index] as SchemaRow);
    if (common.has(spec.key)) groups.global_options.push(option);
    else if (spec.key.startsWith('net.')) groups.networking.push(option);
    else {
      // Fluent Bit lists an output's TLS keys twice, with its options and in their own group; a
      // server's (the tcp, forward and http inputs) only in the group.
      const tls = spec.key === 'tls' || spec.key.startsWith('tls.');
      if (!tls || definition.kind !== 'input') groups.options.push(option);
      if (tls) groups.network_tls.push(option);
    }
  });
  const { networking, network_tls: networkTls, ...always } = groups;
  return {
    type: definition.kind,
    name: definition.name,
    description: definition.description,
    properties: {
      ...always,
      ...(networking.length > 0 ? { networking } : {}),
      ...(networkTls.length > 0 ? { network_tls: networkTls } : {}),
    },
  };
}

/** `-J`: every plugin (or the one after -i/-o/-F) in Fluent Bit's JSON help shape. */
export function helpAsJson(registry: PluginRegistry, version: string, section: PluginChoice | null): unknown {
  if (section !== null) {
    const definition = registry.get(section.kind, section.plugin);
    return definition === undefined ? { error: `unknown ${section.kind} plugin '${section.plugin}'` } : pluginHelpJson(definition);
  }
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
