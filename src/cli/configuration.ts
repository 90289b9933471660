import path from 'node:path';
import { parseClassicConfig, type ConfigDocument } from '../config/classic.js';
import { buildPipeline, type PipelineDescription, type PipelineSource, type PluginSection } from '../config/pipeline.js';
import { WsbitError } from '../core/errors.js';
import { ParserRegistry, loadParsersFile, resolveParsersFile } from '../parsers/registry.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { CommandLine } from './args.js';

/** Config-file sections come after the CLI's, so CLI instances get the lower ids (websocket.0). */
function pipelineSource(commandLine: CommandLine, document: ConfigDocument | null): PipelineSource {
  const source: PipelineSource = { serviceEntries: [...commandLine.serviceEntries], sections: [...commandLine.sections] };
  if (document === null) return source;
  for (const section of document.sections) {
    if (section.kind === 'service') {
      source.serviceEntries.push(...section.entries);
      continue;
    }
    if (section.kind !== 'input' && section.kind !== 'output' && section.kind !== 'filter') continue;
    const nameEntry = section.entries.find((entry) => entry.key === 'name');
    if (nameEntry === undefined || nameEntry.value === '') {
      throw new WsbitError(
        'WSBIT_CONFIG_NO_NAME',
        `[config] error in ${section.origin.file}:${section.origin.line}: [${section.header}] section has no 'Name' key naming its plugin`,
      );
    }
    const plugin: PluginSection = { kind: section.kind, plugin: nameEntry.value.toLowerCase(), entries: section.entries, origin: section.origin };
    source.sections.push(plugin);
  }
  return source;
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
    warnings.push(...loadParsersFile(file, parsers));
  }
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
  const document = commandLine.configFile === null ? null : parseClassicConfig(commandLine.configFile);
  const pipeline = buildPipeline(pipelineSource(commandLine, document), registry);
  const { parsers, warnings: parserWarnings } = loadParserFiles(commandLine, document);
  return { pipeline, parsers, warnings: [...commandLine.warnings, ...(document?.warnings ?? []), ...pipeline.warnings, ...parserWarnings] };
}
