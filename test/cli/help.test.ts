/**
 * Help tells the truth: `-h` and `-J` show each plugin's effective defaults, and `-J` has Fluent Bit's
 * JSON help shape, checked against `fluent-bit -o websocket -J` and `fluent-bit -i tcp -J` from
 * Fluent Bit 5.1.1 (test/fixtures/fluent-bit/help.*.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { helpAsJson, pluginHelp, pluginHelpJson } from '../../src/cli/help.js';
import { buildPipeline } from '../../src/app/builder.js';
import { pluginSection } from '../helpers/sections.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import type { PluginManifest } from '../../src/pipeline/contracts.js';
import { fluentBitFixtures } from '../helpers/paths.js';

interface JsonOption {
  name: string;
  description: string;
  default: string | null;
  type: string;
}
interface JsonPlugin {
  type: string;
  name: string;
  description: string;
  properties: Record<string, JsonOption[]>;
}

const registry = defaultRegistry();
const plugin = (kind: PluginManifest['kind'], name: string): PluginManifest => {
  const definition = registry.get(kind, name);
  assert.ok(definition !== undefined, `${kind} ${name}`);
  return definition;
};
const fluentBit = (file: string): JsonPlugin => JSON.parse(readFileSync(path.join(fluentBitFixtures, file), 'utf8')) as JsonPlugin;
// A round trip through JSON text, as a tool reading `wsbit -J` sees it.
const ours = (definition: PluginManifest): JsonPlugin => JSON.parse(JSON.stringify(pluginHelpJson(definition))) as JsonPlugin;

/** The type names Fluent Bit's -J uses (flb_config_map types). */
const fluentBitTypes = new Set(['string', 'integer', 'boolean', 'double', 'time', 'size', 'multiple comma delimited strings', 'space delimited strings (minimum 1)']);

/** Keys both know but type differently, on purpose. */
const knownTypeDifferences: Record<string, string> = {
  // Fluent Bit reads these as strings and converts them itself; wsbit declares them as KB integers.
  'tcp/chunk_size': 'integer',
  'tcp/buffer_size': 'integer',
};

function groupsOf(help: JsonPlugin): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [group, options] of Object.entries(help.properties)) {
    for (const option of options) groups.set(option.name, [...(groups.get(option.name) ?? []), group]);
  }
  return groups;
}

for (const [kind, name, file] of [['output', 'websocket', 'help.output.websocket.json'], ['input', 'tcp', 'help.input.tcp.json']] as const) {
  test(`-${kind === 'output' ? 'o' : 'i'} ${name} -J has the shape of Fluent Bit's (${file})`, () => {
    const theirs = fluentBit(file);
    const mine = ours(plugin(kind, name));
    assert.deepEqual(Object.keys(mine), Object.keys(theirs));
    assert.equal(mine.type, theirs.type);
    assert.equal(mine.name, theirs.name);
    // Groups in Fluent Bit's order; the network groups only when the plugin has such keys.
    const groupNames = Object.keys(mine.properties);
    assert.deepEqual(groupNames, Object.keys(theirs.properties).filter((group) => groupNames.includes(group)));
    assert.ok(groupNames.includes('global_options') && groupNames.includes('options'));
    for (const options of Object.values(mine.properties)) {
      for (const option of options) {
        assert.deepEqual(Object.keys(option), ['name', 'description', 'default', 'type'], option.name);
        assert.ok(option.default === null || typeof option.default === 'string', `${option.name} default is text or null`);
        assert.ok(fluentBitTypes.has(option.type), `${option.name}: type ${option.type}`);
      }
    }
    // A key both know sits in the same groups, with the same type.
    const theirGroups = groupsOf(theirs);
    const myGroups = groupsOf(mine);
    const theirTypes = new Map(Object.values(theirs.properties).flat().map((option) => [option.name, option.type]));
    const shared = [...myGroups.keys()].filter((key) => theirGroups.has(key));
    assert.ok(shared.length >= 10, `keys in common: ${shared.join(', ')}`);
    for (const key of shared) {
      assert.deepEqual(myGroups.get(key), theirGroups.get(key), `groups of ${key}`);
      const type = Object.values(mine.properties).flat().find((option) => option.name === key)?.type;
      assert.equal(type, knownTypeDifferences[`${name}/${key}`] ?? theirTypes.get(key), `type of ${key}`);
    }
  });
}

test('-J without a plugin has the top-level keys of fluent-bit -J', () => {
  const all = JSON.parse(JSON.stringify(helpAsJson(registry, '1.2.3', null))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(all), ['fluent-bit', 'customs', 'inputs', 'processors', 'filters', 'outputs']);
  assert.deepEqual(all['fluent-bit'], { version: '1.2.3', schema_version: '1', os: process.platform });
  const outputs = all['outputs'] as JsonPlugin[];
  assert.deepEqual(outputs.map((output) => output.name), registry.names('output'));
});

test('the websocket output shows its effective defaults: retry_limit no_limits, host 127.0.0.1, port 80 (443 with tls on)', () => {
  const websocket = plugin('output', 'websocket');
  const options = Object.values(ours(websocket).properties).flat();
  const option = (key: string) => options.find((entry) => entry.name === key)?.default;
  assert.equal(option('retry_limit'), 'no_limits');
  assert.equal(option('host'), '127.0.0.1');
  assert.equal(option('port'), '80 (443 with tls on)');
  const text = pluginHelp(websocket);
  assert.match(text, /^retry_limit +string +no_limits +/m);
  assert.match(text, /^port +int +80 \(443 with tls on\) +/m);
  // Another output keeps the engine's default.
  assert.equal(Object.values(ours(plugin('output', 'stdout')).properties).flat().find((entry) => entry.name === 'retry_limit')?.default, '1');
});

test('what help shows as the retry_limit default is what the pipeline uses', () => {
  const pipeline = buildPipeline(
    {
      serviceEntries: [],
      sections: [
        pluginSection('input', 'dummy'),
        pluginSection('output', 'websocket', [{ key: 'match', value: '*' }]),
        pluginSection('output', 'stdout', [{ key: 'match', value: '*' }]),
        pluginSection('output', 'websocket', [{ key: 'match', value: '*' }, { key: 'retry_limit', value: '3' }]),
      ],
    },
    registry,
  );
  assert.deepEqual(
    pipeline.outputs.map((output) => output.retryLimit),
    [{ kind: 'unlimited' }, { kind: 'limit', retries: 1 }, { kind: 'limit', retries: 3 }],
  );
});
