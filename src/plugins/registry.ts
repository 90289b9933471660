import { cpuManifest } from './inputs/cpu/schema.js';
import { dummyManifest } from './inputs/dummy/schema.js';
import { forwardInputManifest } from './inputs/forward/schema.js';
import { httpInputManifest } from './inputs/http/schema.js';
import { stdinManifest } from './inputs/stdin/schema.js';
import { tailManifest } from './inputs/tail/schema.js';
import { tcpManifest } from './inputs/tcp/schema.js';
import { websocketInputManifest } from './inputs/websocket/schema.js';
import { contentModifierManifest } from './filters/content-modifier/schema.js';
import { grepManifest } from './filters/grep/schema.js';
import { kubernetesManifest } from './filters/kubernetes/schema.js';
import { modifyManifest } from './filters/modify/schema.js';
import { multilineManifest } from './filters/multiline/schema.js';
import { nestManifest } from './filters/nest/schema.js';
import { parserManifest } from './filters/parser/schema.js';
import { recordModifierManifest } from './filters/record-modifier/schema.js';
import { rewriteTagManifest } from './filters/rewrite-tag/schema.js';
import { throttleManifest } from './filters/throttle/schema.js';
import { typeConverterManifest } from './filters/type-converter/schema.js';
import { forwardOutputManifest } from './outputs/forward/schema.js';
import { httpOutputManifest } from './outputs/http/schema.js';
import { nullManifest } from './outputs/null/schema.js';
import { stdoutManifest } from './outputs/stdout/schema.js';
import { websocketServerManifest } from './outputs/websocket-server/schema.js';
import { websocketOutputManifest } from './outputs/websocket/schema.js';
import type {
  FilterPluginDefinition,
  FilterPluginManifest,
  InputPluginDefinition,
  InputPluginManifest,
  OutputPluginDefinition,
  OutputPluginManifest,
  PluginDefinition,
  PluginManifest,
} from '../pipeline/contracts.js';

export type PluginKind = PluginDefinition['kind'];

/** A plugin's definition (its code) by kind. */
export interface DefinitionOf {
  input: InputPluginDefinition;
  filter: FilterPluginDefinition;
  output: OutputPluginDefinition;
}

/** A plugin's manifest by kind. */
export interface ManifestOf {
  input: InputPluginManifest;
  filter: FilterPluginManifest;
  output: OutputPluginManifest;
}

interface Entry {
  manifest: PluginManifest;
  load(): Promise<PluginDefinition>;
}

/**
 * Every plugin wsbit knows, by kind and name. It holds their manifests; a plugin's code (and the
 * libraries only it uses: ws, undici) is imported when a configuration names it, so an agent carries
 * only the plugins it runs. Tests may register extra plugins with their code (the capture output).
 */
export class PluginRegistry {
  private readonly tables = {
    input: new Map<string, Entry>(),
    output: new Map<string, Entry>(),
    filter: new Map<string, Entry>(),
  };

  /** A plugin whose code is already loaded. */
  register(definition: PluginDefinition): this {
    return this.registerLazy(definition, () => Promise.resolve(definition));
  }

  /** A plugin whose code `load` imports the first time a configuration names it. */
  registerLazy(manifest: PluginManifest, load: () => Promise<PluginDefinition>): this {
    let loading: Promise<PluginDefinition> | undefined;
    this.tables[manifest.kind].set(manifest.name, { manifest, load: () => (loading ??= load()) });
    return this;
  }

  get(kind: PluginKind, name: string): PluginManifest | undefined {
    return this.tables[kind].get(name.toLowerCase())?.manifest;
  }

  input(name: string): InputPluginManifest | undefined {
    return this.tables.input.get(name.toLowerCase())?.manifest as InputPluginManifest | undefined;
  }

  output(name: string): OutputPluginManifest | undefined {
    return this.tables.output.get(name.toLowerCase())?.manifest as OutputPluginManifest | undefined;
  }

  filter(name: string): FilterPluginManifest | undefined {
    return this.tables.filter.get(name.toLowerCase())?.manifest as FilterPluginManifest | undefined;
  }

  names(kind: PluginKind): string[] {
    return [...this.tables[kind].keys()].sort();
  }

  all(): PluginManifest[] {
    return [...this.tables.input.values(), ...this.tables.filter.values(), ...this.tables.output.values()].map((entry) => entry.manifest);
  }

  /** The code of a plugin this registry holds, imported on first use. */
  async load<Kind extends PluginKind>(kind: Kind, name: string): Promise<DefinitionOf[Kind]> {
    const entry = this.tables[kind].get(name.toLowerCase());
    if (entry === undefined) throw new Error(`internal: no ${kind} plugin '${name}' to load`);
    const definition = await entry.load();
    // The manifest was validated against; the code must be of the same plugin, with the same keys.
    if (definition.kind !== kind || definition.name !== entry.manifest.name || definition.schema !== entry.manifest.schema) {
      throw new Error(`internal: the code loaded for ${kind} plugin '${entry.manifest.name}' is not that plugin's`);
    }
    return definition as DefinitionOf[Kind];
  }
}

/**
 * The built-in plugins: each manifest with the import of its code. Each import names its module
 * literally, so a bundler makes every plugin's code a chunk of its own.
 */
const builtins: [PluginManifest, () => Promise<unknown>][] = [
  [dummyManifest, async () => (await import('./inputs/dummy.js')).dummyInput],
  [stdinManifest, async () => (await import('./inputs/stdin.js')).stdinInput],
  [tcpManifest, async () => (await import('./inputs/tcp.js')).tcpInput],
  [cpuManifest, async () => (await import('./inputs/cpu.js')).cpuInput],
  [forwardInputManifest, async () => (await import('./inputs/forward.js')).forwardInput],
  [httpInputManifest, async () => (await import('./inputs/http.js')).httpInput],
  [tailManifest, async () => (await import('./inputs/tail.js')).tailInput],
  [websocketInputManifest, async () => (await import('./inputs/websocket.js')).websocketInput],
  [grepManifest, async () => (await import('./filters/grep.js')).grepFilter],
  [modifyManifest, async () => (await import('./filters/modify.js')).modifyFilter],
  [recordModifierManifest, async () => (await import('./filters/record-modifier.js')).recordModifierFilter],
  [contentModifierManifest, async () => (await import('./filters/content-modifier.js')).contentModifierFilter],
  [nestManifest, async () => (await import('./filters/nest.js')).nestFilter],
  [typeConverterManifest, async () => (await import('./filters/type-converter.js')).typeConverterFilter],
  [rewriteTagManifest, async () => (await import('./filters/rewrite-tag.js')).rewriteTagFilter],
  [throttleManifest, async () => (await import('./filters/throttle.js')).throttleFilter],
  [parserManifest, async () => (await import('./filters/parser.js')).parserFilter],
  [multilineManifest, async () => (await import('./filters/multiline.js')).multilineFilter],
  [kubernetesManifest, async () => (await import('./filters/kubernetes.js')).kubernetesFilter],
  [stdoutManifest, async () => (await import('./outputs/stdout.js')).stdoutOutput],
  [nullManifest, async () => (await import('./outputs/null.js')).nullOutput],
  [httpOutputManifest, async () => (await import('./outputs/http.js')).httpOutput],
  [forwardOutputManifest, async () => (await import('./outputs/forward.js')).forwardOutput],
  [websocketOutputManifest, async () => (await import('./outputs/websocket.js')).websocketOutput],
  [websocketServerManifest, async () => (await import('./outputs/websocket-server.js')).websocketServerOutput],
];

export function defaultRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  // Plugin definitions are typed by their own schema; the registry only needs the common shape.
  for (const [manifest, load] of builtins) registry.registerLazy(manifest, load as () => Promise<PluginDefinition>);
  return registry;
}
