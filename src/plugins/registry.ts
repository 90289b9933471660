import { contentModifierFilter } from './filters/content-modifier.js';
import { grepFilter } from './filters/grep.js';
import { modifyFilter } from './filters/modify.js';
import { nestFilter } from './filters/nest.js';
import { typeConverterFilter } from './filters/type-converter.js';
import { rewriteTagFilter } from './filters/rewrite-tag.js';
import { throttleFilter } from './filters/throttle.js';
import { multilineFilter } from './filters/multiline.js';
import { parserFilter } from './filters/parser.js';
import { recordModifierFilter } from './filters/record-modifier.js';
import { cpuInput } from './inputs/cpu.js';
import { dummyInput } from './inputs/dummy.js';
import { forwardInput } from './inputs/forward.js';
import { httpInput } from './inputs/http.js';
import { stdinInput } from './inputs/stdin.js';
import { tailInput } from './inputs/tail.js';
import { tcpInput } from './inputs/tcp.js';
import { websocketInput } from './inputs/websocket.js';
import { forwardOutput } from './outputs/forward.js';
import { httpOutput } from './outputs/http.js';
import { nullOutput } from './outputs/null.js';
import { stdoutOutput } from './outputs/stdout.js';
import { websocketServerOutput } from './outputs/websocket-server.js';
import { websocketOutput } from './outputs/websocket.js';
import type { FilterPluginDefinition, InputPluginDefinition, OutputPluginDefinition, PluginDefinition } from '../pipeline/contracts.js';

export type PluginKind = PluginDefinition['kind'];

/** Every plugin wsbit knows, by kind and name. Tests may register extra ones (the capture output). */
export class PluginRegistry {
  private readonly tables = {
    input: new Map<string, InputPluginDefinition>(),
    output: new Map<string, OutputPluginDefinition>(),
    filter: new Map<string, FilterPluginDefinition>(),
  };

  register(definition: PluginDefinition): this {
    const table: Map<string, PluginDefinition> = this.tables[definition.kind];
    table.set(definition.name, definition);
    return this;
  }

  get(kind: PluginKind, name: string): PluginDefinition | undefined {
    return this.tables[kind].get(name.toLowerCase());
  }

  input(name: string): InputPluginDefinition | undefined {
    return this.tables.input.get(name.toLowerCase());
  }

  output(name: string): OutputPluginDefinition | undefined {
    return this.tables.output.get(name.toLowerCase());
  }

  filter(name: string): FilterPluginDefinition | undefined {
    return this.tables.filter.get(name.toLowerCase());
  }

  names(kind: PluginKind): string[] {
    return [...this.tables[kind].keys()].sort();
  }

  all(): PluginDefinition[] {
    return [...this.tables.input.values(), ...this.tables.filter.values(), ...this.tables.output.values()];
  }
}

// Plugin definitions are typed by their own schema; the registry only needs the common shape.
const builtins = [dummyInput, stdinInput, tcpInput, cpuInput, forwardInput, httpInput, tailInput, websocketInput, grepFilter, modifyFilter, recordModifierFilter, contentModifierFilter, nestFilter, typeConverterFilter, rewriteTagFilter, throttleFilter, parserFilter, multilineFilter, stdoutOutput, nullOutput, httpOutput, forwardOutput, websocketOutput, websocketServerOutput] as unknown as PluginDefinition[];

export function defaultRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const definition of builtins) registry.register(definition);
  return registry;
}
