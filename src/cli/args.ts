import { Command, CommanderError } from 'commander';
import { ConfigError } from '../base/errors.js';
import { commandLineOrigin, isCommandLine, type CommandLineOrigin, type ConfigSection } from '../config/document.js';
import { asciiLower } from '../config/schema.js';
import { parseServiceUri } from '../config/service-uri.js';
import type { ServiceRequest } from '../app/service.js';

/** The plugin a `-h` or `-J` follows. */
export interface PluginChoice {
  kind: 'input' | 'output' | 'filter';
  plugin: string;
}

/** What the command line asks for: a service to run (the load request and how to log), or a one-off. */
export interface CommandLine extends ServiceRequest {
  /** `--convert FILE.conf`: print the file as YAML and exit. */
  convertFile: string | null;
  showVersion: boolean;
  /** `-J`: help as JSON (the schemas), for tools. */
  jsonHelp: boolean;
  /** `-h` after a plugin shows that plugin's help; otherwise the main help. */
  help: { kind: 'main' } | { kind: 'plugin'; plugin: PluginChoice } | null;
}

const SECTION_HEADERS = { input: 'INPUT', output: 'OUTPUT', filter: 'FILTER' } as const;

function cliError(message: string): ConfigError {
  return new ConfigError('WSBIT_CLI_USAGE', message);
}

/**
 * Fluent Bit's command line (src/fluent-bit.c): `-i`, `-o` and `-F` open a new section, and `-p`,
 * `-t` and `-m` apply to the section opened last, so the order of the flags matters. commander
 * emits an `option:NAME` event for each flag as it parses, which keeps that order.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const result: CommandLine = {
    sections: [],
    serviceEntries: [],
    configFile: null,
    convertFile: null,
    verbosity: 0,
    quiet: false,
    dryRun: false,
    showVersion: false,
    jsonHelp: false,
    help: null,
    warnings: [],
  };
  const origin = commandLineOrigin;
  /** The sections `-i`, `-o` and `-F` opened, with the plugin each names; `sections` holds the same. */
  const opened: Array<PluginChoice & { section: ConfigSection }> = [];
  const lastOpened = (): (PluginChoice & { section: ConfigSection }) | undefined => opened[opened.length - 1];
  const last = (): ConfigSection | undefined => lastOpened()?.section;
  const openSection = (kind: PluginChoice['kind'], flag: string, argument: string): void => {
    const uri = parseServiceUri(argument);
    // Written as a file writes it: the plugin is the section's `name`, which the builder reads.
    const text = `${flag} ${argument}`;
    const section: ConfigSection = { kind, header: SECTION_HEADERS[kind], origin: origin(flag, text), entries: [{ key: 'name', value: uri.plugin, origin: origin(flag, text) }], groups: [] };
    if (uri.host !== undefined || uri.uri !== undefined) section.serviceUri = uri;
    result.sections.push(section);
    opened.push({ kind, plugin: uri.plugin, section });
  };
  /** `-o websocket -p port=abc`: what an error about this entry quotes. */
  const entryOrigin = (section: ConfigSection, flag: string, value: string): CommandLineOrigin =>
    origin(flag, `${isCommandLine(section.origin) ? `${section.origin.text} ` : ''}${flag} ${value}`);
  const requireSection = (flag: string, value: string): ConfigSection => {
    const section = last();
    if (section === undefined) throw cliError(`${flag} '${value}' must come after the -i, -o or -F it applies to`);
    return section;
  };

  const program = new Command('wsbit')
    .helpOption(false)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('-c, --config <file>')
    .option('--convert <file>')
    .option('-i, --input <name>')
    .option('-o, --output <name>')
    .option('-F, --filter <name>')
    .option('-p, --prop <key=value>')
    .option('-t, --tag <tag>')
    .option('-m, --match <pattern>')
    .option('-f, --flush <seconds>')
    .option('-l, --log_file <file>')
    .option('-R, --parser <file>')
    .option('-b, --storage_path <path>')
    .option('-v, --verbose')
    .option('-q, --quiet')
    .option('-D, --dry-run')
    .option('-H, --http')
    .option('-L, --http_listen <address>')
    .option('-P, --http_port <port>')
    .option('-Y, --enable-hot-reload')
    .option('-J, --help-json')
    .option('-V, --version')
    .option('-h, --help');

  program.on('option:config', (file: string) => (result.configFile = file));
  program.on('option:convert', (file: string) => (result.convertFile = file));
  program.on('option:input', (name: string) => openSection('input', '-i', name));
  program.on('option:output', (name: string) => openSection('output', '-o', name));
  program.on('option:filter', (name: string) => openSection('filter', '-F', name));
  program.on('option:prop', (pair: string) => {
    const section = requireSection('-p', pair);
    const equals = pair.indexOf('=');
    if (equals <= 0) throw cliError(`-p '${pair}' is not a property: expected key=value`);
    // Fluent Bit lower-cases the key and trims the value.
    section.entries.push({ key: asciiLower(pair.slice(0, equals).trim()), value: pair.slice(equals + 1).trim(), origin: entryOrigin(section, '-p', pair) });
  });
  program.on('option:tag', (tag: string) => {
    const section = requireSection('-t', tag);
    section.entries.push({ key: 'tag', value: tag, origin: entryOrigin(section, '-t', tag) });
  });
  program.on('option:match', (pattern: string) => {
    const section = requireSection('-m', pattern);
    if (section.kind === 'input') {
      // Fluent Bit silently ignores -m after an input; wsbit says so.
      result.warnings.push(`-m '${pattern}' follows input '${lastOpened()?.plugin ?? ''}' and is ignored: Match belongs to outputs`);
      return;
    }
    section.entries.push({ key: 'match', value: pattern, origin: entryOrigin(section, '-m', pattern) });
  });
  program.on('option:flush', (seconds: string) => result.serviceEntries.push({ key: 'flush', value: seconds, origin: origin('-f', `-f ${seconds}`) }));
  program.on('option:log_file', (file: string) => result.serviceEntries.push({ key: 'log_file', value: file, origin: origin('-l', `-l ${file}`) }));
  // Fluent Bit's -R adds a Parsers_File; it may be given more than once.
  program.on('option:parser', (file: string) => result.serviceEntries.push({ key: 'parsers_file', value: file, origin: origin('-R', `-R ${file}`) }));
  program.on('option:storage_path', (dir: string) => result.serviceEntries.push({ key: 'storage.path', value: dir, origin: origin('-b', `-b ${dir}`) }));
  program.on('option:verbose', () => result.verbosity++);
  program.on('option:quiet', () => (result.quiet = true));
  program.on('option:dry-run', () => (result.dryRun = true));
  program.on('option:version', () => (result.showVersion = true));
  const helpFor = (): CommandLine['help'] => {
    const plugin = lastOpened();
    return plugin === undefined ? { kind: 'main' } : { kind: 'plugin', plugin: { kind: plugin.kind, plugin: plugin.plugin } };
  };
  program.on('option:help-json', () => {
    result.jsonHelp = true;
    result.help = helpFor();
  });
  program.on('option:http', () => result.serviceEntries.push({ key: 'http_server', value: 'on', origin: origin('-H') }));
  program.on('option:http_listen', (address: string) => result.serviceEntries.push({ key: 'http_listen', value: address, origin: origin('-L', `-L ${address}`) }));
  program.on('option:http_port', (port: string) => result.serviceEntries.push({ key: 'http_port', value: port, origin: origin('-P', `-P ${port}`) }));
  program.on('option:enable-hot-reload', () => result.serviceEntries.push({ key: 'hot_reload', value: 'on', origin: origin('-Y') }));
  program.on('option:help', () => (result.help = helpFor()));

  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) throw cliError(`${error.message.replace(/^error: /, '')} (see wsbit -h)`);
    throw error;
  }
  return result;
}
