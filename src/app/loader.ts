/**
 * The one loader: the command line's sections, the `-c` file and its includes, every `Parsers_File`
 * and the upstream files an output names, read into one complete `PipelineDescription`.
 */
import path from 'node:path';
import { originText } from '../base/errors.js';
import type { ConfigDocument, ConfigSection } from '../config/document.js';
import type { ConfigEntry } from '../config/schema.js';
import type { FilterSpec, PipelineDescription, PipelinePlan, PlannedPlugins } from '../pipeline/description.js';
import { ParserRegistry, registerParserSections } from '../pipeline/parser-registry.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { NamedUpstream } from '../upstream/config.js';
import { buildPipeline, type PipelineSections } from './builder.js';
import { loadParsersFile, parseConfigFile, prepareReaders, resolveParsersFile } from './config-files.js';

/** What the command line asks to load: its own sections and service keys, and the `-c` file. */
export interface LoadRequest {
  /** `-i`, `-F` and `-o` sections, as a file writes them (a `name` entry names the plugin). */
  sections: ConfigSection[];
  /** `-f`, `-R`, `-H` and the other service flags. */
  serviceEntries: ConfigEntry[];
  configFile: string | null;
  /** What reading the command line found to say. */
  warnings: string[];
  /** `-D`: load and validate, then stop; a file may then lack inputs or outputs. */
  dryRun: boolean;
}

const isPluginSection = (section: ConfigSection): boolean => section.kind === 'input' || section.kind === 'output' || section.kind === 'filter';

/** YAML's `upstream_servers`, each named by where it was written. */
function namedUpstreams(document: ConfigDocument): NamedUpstream[] {
  return document.upstreamServers.map((entry) => ({ ...entry, from: `upstream_servers '${entry.name}' (${originText(entry.origin)})` }));
}

/** Config-file sections come after the CLI's, so CLI instances get the lower ids (websocket.0). */
function pipelineSections(request: LoadRequest, document: ConfigDocument | null): PipelineSections {
  const sections: PipelineSections = { serviceEntries: [...request.serviceEntries], sections: [...request.sections], checkOnly: request.dryRun };
  if (document === null || request.configFile === null) return sections;
  // Fluent Bit takes a relative upstream file from the main configuration file's directory.
  sections.configDir = path.dirname(path.resolve(request.configFile));
  sections.upstreamServers = namedUpstreams(document);
  for (const section of document.sections) {
    if (section.kind === 'service') sections.serviceEntries.push(...section.entries);
    else if (isPluginSection(section)) sections.sections.push(section);
  }
  return sections;
}

/**
 * Loads every `Parsers_File`, in order: `-R` paths as given, then the config file's, looked up beside
 * the config file first. A file named twice (say by `-R` and by `Parsers_File`) is read once.
 */
function loadParsers(request: LoadRequest, document: ConfigDocument | null): { parsers: ParserRegistry; warnings: string[] } {
  const parsers = new ParserRegistry();
  const warnings: string[] = [];
  const configDir = request.configFile === null ? null : path.dirname(path.resolve(request.configFile));
  const fromFile = (document?.sections ?? []).filter((section) => section.kind === 'service').flatMap((section) => section.entries);
  const files = [
    ...request.serviceEntries.filter((entry) => entry.key === 'parsers_file').map((entry) => resolveParsersFile(entry.value, null)),
    ...fromFile.filter((entry) => entry.key === 'parsers_file' && entry.value !== '').map((entry) => resolveParsersFile(entry.value, configDir)),
  ];
  const seen = new Set<string>();
  for (const file of files) {
    const key = path.resolve(file);
    if (seen.has(key)) continue;
    seen.add(key);
    warnings.push(...loadParsersFile(file, parsers));
  }
  // Parsers written inline in a YAML configuration come after the parsers files, as Fluent Bit reads them.
  warnings.push(...registerParserSections(document?.sections ?? [], parsers));
  return { parsers, warnings };
}

/**
 * Everything a start (or a hot reload) reads: the command line, the config file and its includes,
 * the parsers files and the upstream files, validated into a pipeline. Throws a typed error on the
 * first problem. loadPlugins then brings in the code of the plugins it names.
 */
export function loadPipeline(request: LoadRequest, registry: PluginRegistry): PipelinePlan {
  const document = request.configFile === null ? null : parseConfigFile(request.configFile);
  // Parsers are read after the pipeline is built, so a bad plugin section is reported first, as before.
  const built = buildPipeline(pipelineSections(request, document), registry);
  const { parsers, warnings: parserWarnings } = loadParsers(request, document);
  return { ...built, parsers, warnings: [...request.warnings, ...(document?.warnings ?? []), ...built.warnings, ...parserWarnings] };
}

/**
 * The pipeline of `plan` with the code of each plugin it names, imported now (once per plugin): an
 * agent loads only the plugins, and the libraries, that its configuration uses.
 */
export async function loadPlugins(plan: PipelinePlan, registry: PluginRegistry): Promise<PipelineDescription> {
  const filter = async (spec: FilterSpec<PlannedPlugins>): Promise<FilterSpec> => ({ ...spec, definition: await registry.load('filter', spec.definition.name) });
  const processors = async (specs: FilterSpec<PlannedPlugins>[] | undefined): Promise<{ processors?: FilterSpec[] }> =>
    specs === undefined ? {} : { processors: await Promise.all(specs.map(filter)) };
  const [inputs, filters, outputs] = await Promise.all([
    Promise.all(
      plan.inputs.map(async ({ processors: planned, ...spec }) => ({ ...spec, definition: await registry.load('input', spec.definition.name), ...(await processors(planned)) })),
    ),
    Promise.all(plan.filters.map(filter)),
    Promise.all(
      plan.outputs.map(async ({ processors: planned, ...spec }) => ({ ...spec, definition: await registry.load('output', spec.definition.name), ...(await processors(planned)) })),
    ),
  ]);
  return { ...plan, inputs, filters, outputs };
}

/** What a start and a hot reload load: the readers the files need, the pipeline, and its plugins' code. */
export async function loadRunnablePipeline(request: LoadRequest, registry: PluginRegistry): Promise<PipelineDescription> {
  const parsersFiles = request.serviceEntries.filter((entry) => entry.key === 'parsers_file').map((entry) => entry.value);
  await prepareReaders(request.configFile, parsersFiles);
  return loadPlugins(loadPipeline(request, registry), registry);
}
