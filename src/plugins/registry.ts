import { cpuInput } from './inputs/cpu.js';
import { dummyInput } from './inputs/dummy.js';
import { stdinInput } from './inputs/stdin.js';
import { tcpInput } from './inputs/tcp.js';
import { nullOutput } from './outputs/null.js';
import { stdoutOutput } from './outputs/stdout.js';
import { websocketOutput } from './outputs/websocket.js';
import type { InputPluginDefinition, OutputPluginDefinition, PluginDefinition } from './types.js';

/** Every plugin wsbit knows, by kind and name. Tests may register extra ones (the capture output). */
export class PluginRegistry {
  private readonly inputs = new Map<string, InputPluginDefinition>();
  private readonly outputs = new Map<string, OutputPluginDefinition>();

  register(definition: PluginDefinition): this {
    const table: Map<string, PluginDefinition> = definition.kind === 'input' ? this.inputs : this.outputs;
    table.set(definition.name, definition);
    return this;
  }

  input(name: string): InputPluginDefinition | undefined {
    return this.inputs.get(name.toLowerCase());
  }

  output(name: string): OutputPluginDefinition | undefined {
    return this.outputs.get(name.toLowerCase());
  }

  names(kind: 'input' | 'output'): string[] {
    return [...(kind === 'input' ? this.inputs : this.outputs).keys()].sort();
  }

  all(): PluginDefinition[] {
    return [...this.inputs.values(), ...this.outputs.values()];
  }
}

// Plugin definitions are typed by their own schema; the registry only needs the common shape.
const builtins = [dummyInput, stdinInput, tcpInput, cpuInput, stdoutOutput, nullOutput, websocketOutput] as unknown as PluginDefinition[];

export function defaultRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const definition of builtins) registry.register(definition);
  return registry;
}
