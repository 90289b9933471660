import { pluginSchema } from '../config/pipeline.js';
import { describeSchema, renderSchemaTable } from '../config/schema.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { PluginDefinition } from '../plugins/types.js';
import type { PluginSection } from '../config/pipeline.js';

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

export function pluginHelp(definition: PluginDefinition): string {
  return `HELP\n${definition.name} ${definition.kind} plugin: ${definition.description}\n\nOPTIONS\n${renderSchemaTable(describeSchema(pluginSchema(definition)), 'text')}`;
}

/** `-J`: the same schemas as `-h`, as JSON, so tools can read them (one plugin after -i/-o/-F). */
export function helpAsJson(registry: PluginRegistry, version: string, section: PluginSection | null): unknown {
  const describe = (definition: PluginDefinition) => ({
    type: definition.kind,
    name: definition.name,
    description: definition.description,
    properties: describeSchema(pluginSchema(definition)),
  });
  if (section !== null) {
    const definition = registry.get(section.kind, section.plugin);
    return definition === undefined ? { error: `unknown ${section.kind} plugin '${section.plugin}'` } : describe(definition);
  }
  return {
    wsbit: { version },
    options: cliFlags.map(([flag, description]) => ({ flag, description })),
    inputs: registry.names('input').map((name) => describe(registry.get('input', name) as PluginDefinition)),
    filters: registry.names('filter').map((name) => describe(registry.get('filter', name) as PluginDefinition)),
    outputs: registry.names('output').map((name) => describe(registry.get('output', name) as PluginDefinition)),
  };
}
