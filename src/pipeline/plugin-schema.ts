import { filterCommonKeys, inputCommonKeys, outputCommonKeys } from '../config/common-keys.js';
import { keyOf, withDefaults, type ParamSpec } from '../config/schema.js';
import type { PluginManifest } from './contracts.js';

/** The keys every plugin of a kind takes (Fluent Bit's global options). */
export const commonKeysByKind: Readonly<Record<PluginManifest['kind'], readonly ParamSpec[]>> = {
  input: inputCommonKeys,
  filter: filterCommonKeys,
  output: outputCommonKeys,
};

/** The whole schema of a plugin: the keys shared by its kind, then its own. Help and validation both use it. */
export function pluginSchema(definition: PluginManifest): readonly ParamSpec[] {
  // An output may wait longer than the engine's Retry_Limit of 1 (the websocket output: forever).
  const retryLimit = definition.kind === 'output' ? definition.defaultRetryLimit : undefined;
  const common = retryLimit === undefined ? commonKeysByKind[definition.kind] : withDefaults(outputCommonKeys, { retry_limit: retryLimit });
  const own = new Set(definition.schema.map(keyOf));
  // A plugin may redeclare a shared key; its version wins.
  return [...common.filter((spec) => !own.has(keyOf(spec))), ...definition.schema];
}
