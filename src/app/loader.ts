import path from 'node:path';
import { parseClassicConfigText, type ConfigDocument, type ConfigSection } from '../config/classic.js';
import { readConfigFile } from './read-file.js';
import { isYamlConfig, parseYamlConfigText } from '../config/yaml.js';
import { buildPipeline, type PipelineSource, type PluginSection } from './builder.js';
import type { PipelineDescription } from '../pipeline/description.js';
import { ConfigError } from '../base/errors.js';
import { configMessage } from '../config/schema.js';
import { ParserRegistry, loadParsersFile, registerParserSections, resolveParsersFile } from '../pipeline/parser-registry.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { CommandLine } from '../cli/args.js';
import type { NamedUpstream } from '../upstream/config.js';

/** A parsed `-c` file; a YAML one may carry `upstream_servers`. */
export type ConfigFile = ConfigDocument & { upstreams?: NamedUpstream[] };

/** Config-file sections come after the CLI's, so CLI instances get the lower ids (websocket.0). */
function pipelineSource(commandLine: CommandLine, document: ConfigFile | null): PipelineSource {
  const source: PipelineSource = { serviceEntries: [...commandLine.serviceEntries], sections: [...commandLine.sections] };
  if (document === null || commandLine.configFile === null) return source;
  // Fluent Bit takes a relative upstream file from the main configuration file's directory.
  const configDir = path.dirname(path.resolve(commandLine.configFile));
  if (document.upstreams !== undefined) source.upstreams = document.upstreams;
  for (const section of document.sections) {
    if (section.kind === 'service') {
      source.serviceEntries.push(...section.entries);
      continue;
    }
    if (section.kind !== 'input' && section.kind !== 'output' && section.kind !== 'filter') continue;
    source.sections.push({ ...pluginSection(section, section.kind), configDir });
  }
  return source;
}

/** A file section as the pipeline builder takes it, processors included; a section must name its plugin. */
function pluginSection(section: ConfigSection, kind: PluginSection['kind']): PluginSection {
  const nameEntry = section.entries.find((entry) => entry.key === 'name');
  if (nameEntry === undefined || nameEntry.value === '') {
    throw new ConfigError('WSBIT_CONFIG_NO_NAME', configMessage(`[${section.header}] section has no 'Name' key naming its plugin`, section.origin), section.origin);
  }
  const plugin: PluginSection = { kind, plugin: nameEntry.value.toLowerCase(), entries: section.entries, origin: section.origin };
  if (section.processors !== undefined) plugin.processors = section.processors.map((processor) => pluginSection(processor, 'filter'));
  return plugin;
}

/**
 * Reads the `-c` file in the format it is written in: YAML by extension (`.yaml`, `.yml`) or by
 * content (see `isYamlConfig`), classic otherwise.
 */
export function parseConfigFile(file: string, options: { env?: NodeJS.ProcessEnv } = {}): ConfigFile {
  const text = readConfigFile(file);
  return isYamlConfig(file, text) ? parseYamlConfigText(text, file, options) : parseClassicConfigText(text, file, options);
}

/**
 * Loads every `Parsers_File`, in order: `-R` paths as given, then the config file's, looked up beside
 * the config file first. A file named twice (say by `-R` and by `Parsers_File`) is read once.
 */
function loadParserFiles(commandLine: CommandLine, document: ConfigDocument | null): { parsers: ParserRegistry; warnings: string[] } {
  const parsers = new ParserRegistry();
  const warnings: string[] = [];
  const configDir = commandLine.configFile === null ? null : path.dirname(path.resolve(commandLine.configFile));
  const fromFile = (document?.sections ?? []).filter((section) => section.kind === 'service').flatMap((section) => section.entries);
  const files = [
    ...commandLine.serviceEntries.filter((entry) => entry.key === 'parsers_file').map((entry) => resolveParsersFile(entry.value, null)),
    ...fromFile.filter((entry) => entry.key === 'parsers_file' && entry.value !== '').map((entry) => resolveParsersFile(entry.value, configDir)),
  ];
  const seen = new Set<string>();
  for (const file of files) {
    const key = path.resolve(file);
    if (seen.has(key)) continue;
    seen.add(key);
    if (isYamlConfig(file, '')) {
      // A YAML parsers file holds `parsers:`/`multiline_parsers:` like a main YAML file.
      const parsed = parseYamlConfigText(readConfigFile(file, 'parsers file'), file);
      warnings.push(...parsed.warnings, ...registerParserSections(parsed.sections, parsers));
    } else {
      warnings.push(...loadParsersFile(file, parsers));
    }
  }
  // Parsers written inline in a YAML configuration come after the parsers files, as Fluent Bit reads them.
  warnings.push(...registerParserSections(document?.sections ?? [], parsers));
  return { parsers, warnings };
}


export interface LoadedConfiguration {
  pipeline: PipelineDescription;
  parsers: ParserRegistry;
  warnings: string[];
}

/**
 * Everything a start (or a hot reload) reads: the command line, the config file and its includes,
 * and the parsers files, validated into a pipeline. Throws a typed error on the first problem.
 */
export function loadConfiguration(commandLine: CommandLine, registry: PluginRegistry): LoadedConfiguration {
  const document = commandLine.configFile === null ? null : parseConfigFile(commandLine.configFile);
  const pipeline = buildPipeline(pipelineSource(commandLine, document), registry);
  const { parsers, warnings: parserWarnings } = loadParserFiles(commandLine, document);
  return { pipeline, parsers, warnings: [...commandLine.warnings, ...(document?.warnings ?? []), ...pipeline.warnings, ...parserWarnings] };
}
