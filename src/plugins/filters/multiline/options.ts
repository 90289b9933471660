import { ConfigError } from '../../../base/errors.js';
import { configMessage, type ResolvedConfig } from '../../../config/schema.js';
import type { MultilineParserDefinition } from '../../../multiline/types.js';
import type { ParserRegistry } from '../../../pipeline/parser-registry.js';
import type { multilineFilterSchema } from './schema.js';

/** flb_ml_auto_flush_init refuses shorter timeouts. */
const MIN_FLUSH_MS = 500;

/** What the multiline filter runs with: the mode, checked against the keys it needs. */
export type MultilineFilterOptions = {
  /** Keep open groups across emits (released by a timer and at stop); off joins within one emit. */
  buffer: boolean;
  /** How long an open group waits for its next line. */
  flushMs: number;
} & (
  | { mode: 'parser'; parsers: readonly MultilineParserDefinition[]; keyContent: string | null }
  | { mode: 'partial_message'; keyContent: string }
);

export function multilineFilterOptions(config: ResolvedConfig<typeof multilineFilterSchema>, instance: string, parsers: ParserRegistry): MultilineFilterOptions {
  const names = config['multiline.parser'].flat();
  const partialMode = config.mode === 'partial_message';
  const keyContent = config['multiline.key_content'];
  if (config.flush_ms < MIN_FLUSH_MS) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: flush_ms ${config.flush_ms} is too low: at least ${MIN_FLUSH_MS}`));
  }
  if (partialMode && keyContent === null) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode partial_message requires multiline.key_content (e.g. log)`));
  }
  if (partialMode && !config.buffer) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode partial_message requires buffer on`));
  }
  if (!partialMode && names.length === 0) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: mode parser requires at least one multiline.parser (e.g. java, python)`));
  }
  const common = { buffer: config.buffer, flushMs: config.flush_ms };
  if (partialMode && keyContent !== null) return { ...common, mode: 'partial_message', keyContent };
  return { ...common, mode: 'parser', parsers: names.map((name) => parsers.requireMultiline(name, instance)), keyContent };
}
