import { ConfigError, errorMessage, type ConfigOrigin } from '../base/errors.js';
import { compileMatchRegex, type RouteRule } from '../pipeline/router.js';
import type { LogLevel } from '../base/logger.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { FilterSpec, InputSpec, OutputSpec, PipelinePlan, PlannedPlugins } from '../pipeline/description.js';
import { pluginSchema } from '../pipeline/plugin-schema.js';
import type { PluginManifest } from '../pipeline/contracts.js';
import { serviceSchema, type RetryLimit } from '../config/common-keys.js';
import { isCommandLine, type ConfigSection } from '../config/document.js';
import { configMessage, keyOf, resolveConfig, throwCollected, type ConfigEntry } from '../config/schema.js';
import { ParserRegistry } from '../pipeline/parser-registry.js';
import { upstreamFromSections, type NamedUpstream, type UpstreamSource } from '../upstream/config.js';
import { readUpstreamFile } from './config-files.js';

/**
 * What a pipeline is built from, in Fluent Bit's order: the command line's sections first, then the
 * files'. Every section names its plugin with a `name` entry, as in a file.
 */
export interface PipelineSections {
  serviceEntries: ConfigEntry[];
  /** `input`, `filter` and `output` sections; others are not the builder's. */
  sections: ConfigSection[];
  /** YAML's `upstream_servers`, which an output's `upstream` may name. */
  upstreamServers?: NamedUpstream[];
  /** The main configuration file's directory: relative `upstream` files of its sections start there. */
  configDir?: string;
  /**
   * `-D`: the file may be one part of a configuration (a parsers-only YAML, a `[SERVICE]` snippet),
   * which Fluent Bit's dry run accepts; no input or no output is then a warning, not an error.
   */
  checkOnly?: boolean;
}

/** A plugin section with the plugin it names, looked up case-insensitively. */
interface PluginOfSection {
  kind: 'input' | 'filter' | 'output';
  plugin: string;
  section: ConfigSection;
  processors: PluginOfSection[] | undefined;
}

/** Where a section was written, for messages; command-line sections are named by their plugin alone. */
const fileOrigin = (section: ConfigSection): ConfigSection['origin'] | undefined => (isCommandLine(section.origin) ? undefined : section.origin);

/** A section must name its plugin; the check covers every section before any is resolved. */
function pluginSection(section: ConfigSection): PluginOfSection {
  const kind = section.kind;
  if (kind !== 'input' && kind !== 'output' && kind !== 'filter') throw new Error(`internal: a ${kind} section is not a plugin`);
  const nameEntry = section.entries.find((entry) => entry.key === 'name');
  if (nameEntry === undefined || nameEntry.value === '') {
    throw new ConfigError('WSBIT_CONFIG_NO_NAME', configMessage(`[${section.header}] section has no 'Name' key naming its plugin`, section.origin), section.origin);
  }
  return { kind, plugin: nameEntry.value.toLowerCase(), section, processors: section.processors?.map((processor) => pluginSection(processor)) };
}

function unknownPlugin(plugin: PluginOfSection, registry: PluginRegistry, role: string = plugin.kind): ConfigError {
  const available = registry.names(plugin.kind);
  const reason = `unknown ${role} plugin '${plugin.plugin}'. Available ${role}s: ${available.join(', ')}`;
  const origin = fileOrigin(plugin.section);
  return new ConfigError('WSBIT_CONFIG_UNKNOWN_PLUGIN', configMessage(reason, origin), origin);
}

/**
 * Service-URI parts become ordinary entries placed before the section's own, so a later
 * `-p host=...` or `-p port=...` overrides them, as in Fluent Bit. The URI path is different: it
 * wins over a `uri` property, so it is applied after resolution.
 */
function entriesWithServiceUri(section: ConfigSection, definition: PluginManifest): ConfigEntry[] {
  const uri = section.serviceUri;
  if (uri === undefined || uri.host === undefined) return section.entries;
  const keys = definition.serviceUriKeys;
  if (keys === undefined) {
    throw new ConfigError(
      'WSBIT_CONFIG_BAD_URI',
      `[config] ${definition.kind} plugin '${definition.name}' takes no network address, so '${definition.name}://${uri.host}' is not valid`,
    );
  }
  const prefix: ConfigEntry[] = [{ key: keys.host, value: uri.host }];
  if (uri.port !== undefined) prefix.push({ key: keys.port, value: String(uri.port) });
  if (uri.ipv6 === true && definition.schema.some((spec) => keyOf(spec) === 'ipv6')) prefix.push({ key: 'ipv6', value: 'on' });
  return [...prefix, ...section.entries];
}

/**
 * An output's `upstream` value: the name of a YAML `upstream_servers` entry, or else an upstream file,
 * relative to the directory of the configuration file that names it (Fluent Bit resolves it against
 * the main file's directory; 5.1.1 itself reads every value as a path). Its nodes are checked here, so
 * `-D` catches a missing file or a bad node; the output fills in its default port later.
 */
function resolveUpstream(reference: string, section: ConfigSection, sections: PipelineSections, instance: string): UpstreamSource {
  const origin = section.entries.filter((entry) => entry.key === 'upstream').at(-1)?.origin ?? fileOrigin(section);
  const named = sections.upstreamServers ?? [];
  let source: UpstreamSource | undefined = named.find((upstream) => upstream.name === reference);
  if (source === undefined) {
    try {
      source = readUpstreamFile(reference, fileOrigin(section) === undefined ? undefined : sections.configDir);
    } catch (error) {
      const names = named.length === 0 ? '' : ` names none of upstream_servers (${named.map((upstream) => upstream.name).join(', ')}) and is read as a file path`;
      const reason = `${instance}: upstream '${reference}'${names}: ${errorMessage(error)}`;
      throw new ConfigError('WSBIT_CONFIG_UPSTREAM', configMessage(reason, origin), origin, { cause: error });
    }
  }
  // Any port passes here; a node without one takes the output's default when the output starts.
  upstreamFromSections(source.sections, 1);
  return source;
}

type PlannedFilter = FilterSpec<PlannedPlugins>;

/** `exactOptionalPropertyTypes`-safe: the key only when there are processors. */
const optionalProcessors = (specs: PlannedFilter[] | undefined): { processors?: PlannedFilter[] } => (specs === undefined ? {} : { processors: specs });

/**
 * The typed pipeline of `source`, its parsers registry (loaded by the caller) included. It is checked
 * against the plugins' manifests alone: the loader then loads the code of the plugins it names.
 */
export function buildPipeline(source: PipelineSections, registry: PluginRegistry, parsers: ParserRegistry = new ParserRegistry()): PipelinePlan {
  // Every section is resolved even after an error, so that one run reports all of a file's errors.
  const errors: ConfigError[] = [];
  const collect = (error: unknown): void => {
    if (!(error instanceof ConfigError)) throw error;
    errors.push(error);
  };
  const plugins: PluginOfSection[] = [];
  for (const section of source.sections) {
    try {
      plugins.push(pluginSection(section));
    } catch (error) {
      collect(error);
    }
  }
  const warnings: string[] = [];
  const notices: string[] = [];
  const serviceResult = resolveConfig(serviceSchema, source.serviceEntries, { instance: 'service', kind: 'service', errors });
  warnings.push(...serviceResult.warnings);
  if (serviceResult.config.daemon) warnings.push('service: daemon mode is not supported; wsbit stays in the foreground (use systemd or a container)');
  if (serviceResult.config.plugins_file !== null) warnings.push(`service: plugins_file '${serviceResult.config.plugins_file}' is ignored: wsbit loads no external plugins`);
  const instanceCounters = new Map<string, number>();
  const usedNames = new Set<string>();
  const inputs: InputSpec<PlannedPlugins>[] = [];
  const filters: PlannedFilter[] = [];
  const outputs: OutputSpec<PlannedPlugins>[] = [];
  const routeRule = (config: Record<string, unknown>, instance: string): RouteRule => {
    const matchRegex = config['match_regex'] as string | null;
    return { match: config['match'] as string | null, matchRegex: matchRegex === null ? null : compileMatchRegex(matchRegex, instance) };
  };

  /**
   * A processor is any filter, resolved with the filter schema. Its instance name carries its owner's
   * (`dummy.0.content_modifier.0`) so its logs and metrics are told apart from a shared filter's, and
   * with no Match it applies to every record on that path.
   */
  const processorSpecs = (owner: PluginOfSection, ownerInstance: string): PlannedFilter[] | undefined => {
    if (owner.processors === undefined || owner.processors.length === 0) return undefined;
    const counters = new Map<string, number>();
    return owner.processors.map((processor) => {
      const definition = registry.filter(processor.plugin);
      if (definition === undefined || processor.kind !== 'filter') throw unknownPlugin(processor, registry, 'processor');
      // The processor's own errors are collected; the caller collects what this throws.
      const index = counters.get(definition.name) ?? 0;
      counters.set(definition.name, index + 1);
      const defaultInstance = `${ownerInstance}.${definition.name}.${index}`;
      const resolved = resolveConfig(pluginSchema(definition), processor.section.entries, { instance: defaultInstance, kind: 'filter', errors });
      warnings.push(...resolved.warnings);
      notices.push(...resolved.notices);
      const config = resolved.config as Record<string, unknown>;
      const alias = config['alias'];
      const instance = typeof alias === 'string' && alias !== '' ? alias : defaultInstance;
      const route = routeRule(config, instance);
      if (route.match === null && route.matchRegex === null) route.match = '*';
      return { definition, instance, route, logLevel: (config['log_level'] as LogLevel | null) ?? null, config };
    });
  };

  const addPlugin = (plugin: PluginOfSection): void => {
    const { section } = plugin;
    const definition = registry.get(plugin.kind, plugin.plugin);
    if (definition === undefined) throw unknownPlugin(plugin, registry);
    const counterKey = `${definition.kind}:${definition.name}`;
    const index = instanceCounters.get(counterKey) ?? 0;
    instanceCounters.set(counterKey, index + 1);
    const defaultInstance = `${definition.name}.${index}`;
    const before = errors.length;
    const resolved = resolveConfig(pluginSchema(definition), entriesWithServiceUri(section, definition), {
      instance: defaultInstance,
      kind: definition.kind,
      errors,
    });
    // What follows reads the resolved values: with a bad one among them, its own checks would only
    // add errors that follow from the first.
    if (errors.length > before) return;
    warnings.push(...resolved.warnings);
    notices.push(...resolved.notices);
    const config = resolved.config as Record<string, unknown>;
    if (section.serviceUri?.uri !== undefined && definition.serviceUriKeys?.path !== undefined) {
      config[definition.serviceUriKeys.path] = section.serviceUri.uri;
    }
    const alias = config['alias'];
    const instance = typeof alias === 'string' && alias !== '' ? alias : defaultInstance;
    // Names are unique per kind, as in Fluent Bit: `-i websocket -o websocket` gives an input and an
    // output both named websocket.0 (logs and metrics tell them apart by kind).
    if (usedNames.has(`${definition.kind}:${instance}`)) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: alias '${instance}' is used by another plugin instance`, fileOrigin(section)));
    }
    usedNames.add(`${definition.kind}:${instance}`);
    const logLevel = (config['log_level'] as LogLevel | null) ?? null;

    if (definition.kind === 'input') {
      inputs.push({
        definition,
        instance,
        tag: (config['tag'] as string | null) ?? instance,
        logLevel,
        memBufLimitBytes: config['mem_buf_limit'] as number,
        storageType: config['storage.type'] as 'memory' | 'filesystem',
        config,
        ...optionalProcessors(processorSpecs(plugin, instance)),
      });
    } else if (definition.kind === 'filter') {
      filters.push({ definition, instance, route: routeRule(config, instance), logLevel, config });
    } else {
      outputs.push({
        definition,
        instance,
        route: routeRule(config, instance),
        // The plugin's own default is part of its schema (pluginSchema), so this is already it.
        retryLimit: config['retry_limit'] as RetryLimit,
        workers: config['workers'] as number,
        logLevel,
        config,
        ...optionalProcessors(processorSpecs(plugin, instance)),
        ...(typeof config['upstream'] === 'string' ? { upstream: resolveUpstream(config['upstream'], section, source, instance) } : {}),
      });
    }
  };
  for (const plugin of plugins) {
    try {
      addPlugin(plugin);
    } catch (error) {
      collect(error);
    }
  }

  // Fluent Bit (flb_router_io_set): with exactly one input and one output, an output with no
  // Match gets `*`, so `wsbit -i cpu -o stdout` works without -m.
  const [onlyInput] = inputs;
  const [onlyOutput] = outputs;
  if (inputs.length === 1 && outputs.length === 1 && onlyInput && onlyOutput) {
    if (onlyOutput.route.match === null && onlyOutput.route.matchRegex === null) onlyOutput.route.match = '*';
  } else {
    for (const output of outputs) {
      if (output.route.match === null && output.route.matchRegex === null) {
        warnings.push(`[router] NO match for ${output.instance} output instance: it will receive no records (set Match or Match_Regex)`);
      }
    }
  }
  // A section that failed above still counts as configured: the reader is told about it, not that none is there.
  const configured = (kind: string): boolean => source.sections.some((section) => section.kind === kind);
  // Fluent Bit starts such a configuration and idles; wsbit refuses to start doing nothing.
  const missing = (code: string, kind: 'input' | 'output', remedy: string): void => {
    const reason = `no ${kind} plugin is configured`;
    if (source.checkOnly === true) warnings.push(`${reason}: the configuration is valid, but a start needs ${remedy}`);
    else errors.push(new ConfigError(code, `[config] ${reason}: give ${remedy}`));
  };
  if (!configured('input')) missing('WSBIT_CONFIG_NO_INPUT', 'input', '-i NAME or an [INPUT] section');
  if (!configured('output')) missing('WSBIT_CONFIG_NO_OUTPUT', 'output', '-o NAME or an [OUTPUT] section');
  throwCollected(errors);
  for (const filter of filters) {
    if (filter.route.match === null && filter.route.matchRegex === null) {
      warnings.push(`[router] NO match for ${filter.instance} filter instance: it applies to no records (set Match or Match_Regex)`);
    }
  }
  return { service: serviceResult.config, inputs, filters, outputs, parsers, warnings, notices };
}
