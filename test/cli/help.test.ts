/**
 * Help tells the truth: `-h` and `-J` show each plugin's effective defaults, and `-J` has Fluent Bit's
 * JSON help shape and key spelling, checked against `fluent-bit -i NAME -J` (and -F, -o) from Fluent Bit
 * 5.1.1 for each plugin both have (test/fixtures/fluent-bit/help/, made by make.sh there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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
const fluentBitTypes = new Set(['string', 'integer', 'boolean', 'double', 'time', 'size', 'multiple comma delimited strings', 'space delimited strings (minimum 1)', 'prefixed string']);

/** Keys both know but type differently, on purpose. */
const knownTypeDifferences: Record<string, string> = {
  // Fluent Bit reads these as strings and converts them itself; wsbit declares them as KB integers.
  'input tcp/chunk_size': 'integer',
  'input tcp/buffer_size': 'integer',
  // A rule of several words, which wsbit's own parser splits (quotes kept, errors name the rule);
  // Fluent Bit's type says how many words at least.
  'filter record_modifier/record': 'string',
  'filter rewrite_tag/rule': 'string',
  'filter type_converter/int_key': 'string',
  'filter type_converter/uint_key': 'string',
  'filter type_converter/float_key': 'string',
  'filter type_converter/str_key': 'string',
  // A count of connections, which Fluent Bit declares as a size (so 1K is allowed).
  'input http/max_connections': 'integer',
  'input http/http_server.max_connections': 'integer',
  // Fluent Bit types it 'deprecated'; wsbit takes any text and ignores it, as Fluent Bit does.
  'filter parser/unescape_key': 'string',
  // Fluent Bit's type names the shape (a name and a value); wsbit reads the value as one string and splits it.
  'output forward/add_option': 'string',
  // Fractions of a second are allowed (Fluent Bit's is a string read as a number of seconds).
  'input tail/refresh_interval': 'double',
  // Whole seconds; Fluent Bit also reads units (5m).
  'input tail/rotate_wait': 'integer',
};

function groupsOf(help: JsonPlugin): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [group, options] of Object.entries(help.properties)) {
    for (const option of options) groups.set(option.name.toLowerCase(), [...(groups.get(option.name.toLowerCase()) ?? []), group]);
  }
  return groups;
}

const options = (help: JsonPlugin): Map<string, JsonOption> =>
  new Map(Object.values(help.properties).flat().map((option) => [option.name.toLowerCase(), option]));

/** `fluent-bit -i NAME -J` and the others (help/make.sh), for the plugins wsbit has by the same name. */
const helpFixtures = readdirSync(path.join(fluentBitFixtures, 'help'))
  .map((file) => /^(input|filter|output)\.([a-z_]+)\.json$/.exec(file))
  .filter((match): match is RegExpExecArray => match !== null)
  .map(([file = '', kind = '', name = '']) => ({ file, kind: kind as PluginManifest['kind'], name }))
  .filter(({ kind, name }) => registry.get(kind, name) !== undefined);

test('there is a Fluent Bit -J fixture for every plugin both have', () => {
  const names = helpFixtures.map(({ kind, name }) => `${kind} ${name}`);
  for (const name of ['input tcp', 'input tail', 'filter nest', 'filter parser', 'filter modify', 'output websocket', 'output http']) {
    assert.ok(names.includes(name), name);
  }
});

for (const { file, kind, name } of helpFixtures) {
  test(`-${kind[0] === 'f' ? 'F' : kind[0]} ${name} -J has the shape, the groups and the key spelling of Fluent Bit's (help/${file})`, () => {
    const theirs = fluentBit(path.join('help', file));
    const mine = ours(plugin(kind, name));
    assert.deepEqual(Object.keys(mine), Object.keys(theirs));
    assert.equal(mine.type, theirs.type);
    assert.equal(mine.name, theirs.name);
    // Fluent Bit's groups in its order: the network ones for plugins that do network I/O, even where
    // wsbit takes none of their keys yet.
    assert.deepEqual(Object.keys(mine.properties), Object.keys(theirs.properties));
    for (const option of Object.values(mine.properties).flat()) {
      assert.deepEqual(Object.keys(option), ['name', 'description', 'default', 'type'], option.name);
      assert.ok(option.default === null || typeof option.default === 'string', `${option.name} default is text or null`);
      assert.ok(fluentBitTypes.has(option.type), `${option.name}: type ${option.type}`);
    }
    // A key both know sits in the same groups, spelled the same (Key_Name), with the same type.
    const theirGroups = groupsOf(theirs);
    const myGroups = groupsOf(mine);
    const [theirOptions, myOptions] = [options(theirs), options(mine)];
    const shared = [...myGroups.keys()].filter((key) => theirGroups.has(key));
    assert.ok(shared.length >= 3, `keys in common: ${shared.join(', ')}`);
    for (const key of shared) {
      assert.deepEqual(myGroups.get(key), theirGroups.get(key), `groups of ${key}`);
      assert.equal(myOptions.get(key)?.name, theirOptions.get(key)?.name, `spelling of ${key}`);
      const expectedType = knownTypeDifferences[`${kind} ${name}/${key}`] ?? theirOptions.get(key)?.type;
      assert.equal(myOptions.get(key)?.type, expectedType, `type of ${key}`);
    }
  });
}

test('-J without a plugin has the top-level keys of fluent-bit -J', () => {
  const all = JSON.parse(JSON.stringify(helpAsJson(registry, '1.2.3', null))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(all), ['fluent-bit', 'customs', 'inputs', 'processors', 'filters', 'outputs']);
  assert.deepEqual(all['fluent-bit'], { version: '1.2.3', schema_version: '1', os: process.platform });
  // The same first bytes as Fluent Bit's, but for the version.
  const theirs = readFileSync(path.join(fluentBitFixtures, 'help', 'all.head.txt'), 'utf8').replace('"5.1.1"', '"1.2.3"').replace('"linux"', `"${process.platform}"`);
  const head = theirs.slice(0, theirs.indexOf('"customs":[') + '"customs":['.length);
  assert.ok(head.length > 60, head);
  assert.ok(JSON.stringify(all).startsWith(head), head);
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

test("-h shows a plugin's keys in Fluent Bit's groups and spelling, each key once", () => {
  const headings = (text: string): string[] => text.split('\n').filter((line) => /^[A-Z_]+$/.test(line));
  const http = pluginHelp(plugin('output', 'http'));
  assert.deepEqual(headings(http), ['HELP', 'GLOBAL_OPTIONS', 'OPTIONS', 'NETWORKING', 'NETWORK_TLS']);
  // -J lists an output's tls keys twice, as Fluent Bit does; -h once, under NETWORK_TLS.
  assert.equal(http.match(/^tls\.verify +/gm)?.length, 1);
  assert.ok(http.indexOf('\ntls.verify ') > http.indexOf('\nNETWORK_TLS\n'));
  assert.ok(http.indexOf('\nnet.keepalive ') > http.indexOf('\nNETWORKING\n'));
  assert.deepEqual(headings(pluginHelp(plugin('filter', 'grep'))), ['HELP', 'GLOBAL_OPTIONS', 'OPTIONS']);
  assert.match(pluginHelp(plugin('filter', 'parser')), /^Key_Name +string +none +/m);
  assert.match(pluginHelp(plugin('filter', 'nest')), /^Nest_under +string +none +/m);
});

test('an input lists its tls keys only under network_tls, as Fluent Bit lists those of its servers', () => {
  const help = ours(plugin('input', 'websocket'));
  const names = (group: string): string[] => (help.properties[group] ?? []).map((option) => option.name);
  assert.ok(names('network_tls').includes('tls.crt_file'));
  assert.ok(!names('options').some((name) => name === 'tls' || name.startsWith('tls.')), names('options').join(' '));
});
