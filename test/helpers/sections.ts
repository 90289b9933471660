import type { ConfigSection } from '../../src/config/document.js';
import type { ConfigEntry } from '../../src/config/schema.js';

/** A plugin section as a file writes it: its `name`, then `entries`. */
export function pluginSection(kind: 'input' | 'filter' | 'output', plugin: string, entries: ConfigEntry[] = []): ConfigSection {
  const origin = { file: 'test.conf', line: 1 };
  return { kind, header: kind.toUpperCase(), origin, entries: [{ key: 'name', value: plugin, origin }, ...entries], groups: [] };
}
