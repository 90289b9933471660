/**
 * Every key Fluent Bit 5.1.1 accepts for a plugin wsbit has is known to wsbit's schema: a working key,
 * or one declared as accepted without effect (noEffect: one info line at start) or accepted at its
 * default only (onlyDefault: another value is a clear error). The keys come from Fluent Bit's own
 * `-J` help, captured by test/fixtures/fluent-bit/help/make.sh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/base/errors.js';
import { keyOf, resolveConfig, type ParamSpec } from '../../src/config/schema.js';
import { pluginSchema } from '../../src/pipeline/plugin-schema.js';
import { defaultRegistry, type PluginKind } from '../../src/plugins/registry.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';

interface JsonHelp {
  type: PluginKind;
  name: string;
  properties: Record<string, { name: string; type: string }[]>;
}

const registry = defaultRegistry();
const keysDir = path.join(fluentBitFixtures, 'help');
const helps: JsonHelp[] = readdirSync(keysDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => JSON.parse(readFileSync(path.join(keysDir, file), 'utf8')) as JsonHelp);

/** wsbit's own plugins, which Fluent Bit lacks (content_modifier is a processor there, with no `-F` help). */
const WSBIT_ONLY = ['input websocket', 'output websocket_server', 'filter content_modifier'];

function knownKey(schema: readonly ParamSpec[], name: string, type: string): ParamSpec | undefined {
  const key = name.toLowerCase();
  // A `prefixed` key in Fluent Bit's help (`parser_`) stands for Parser_1, Parser_2, ….
  return schema.find((spec) => keyOf(spec) === key && (type !== 'prefixed' || spec.prefixed === true));
}

function unknownKeys(): string[] {
  const missing: string[] = [];
  for (const help of helps) {
    const manifest = registry.get(help.type, help.name);
    assert.ok(manifest !== undefined, `wsbit has no ${help.type} ${help.name}, yet help/ holds its help`);
    const schema = pluginSchema(manifest);
    for (const option of Object.values(help.properties).flat()) {
      if (knownKey(schema, option.name, option.type) === undefined) missing.push(`${help.type} ${help.name} ${option.name.toLowerCase()}`);
    }
  }
  return [...new Set(missing)].sort();
}

test("help/ holds Fluent Bit's help of every plugin wsbit shares with it", () => {
  const captured = helps.map((help) => `${help.type} ${help.name}`).sort();
  const ours = (['input', 'filter', 'output'] as const).flatMap((kind) => registry.names(kind).map((name) => `${kind} ${name}`));
  assert.deepEqual(captured, ours.filter((plugin) => !WSBIT_ONLY.includes(plugin)).sort());
  assert.ok(helps.every((help) => Object.values(help.properties).flat().length > 0));
});

test('every key of Fluent Bit 5.1.1 is known to the schema of the same wsbit plugin', () => {
  const missing = unknownKeys();
  assert.deepEqual(missing, [], `keys Fluent Bit accepts and wsbit would refuse:\n${missing.join('\n')}`);
});

test('a key that does nothing here logs one info line with the reason; a repeat adds none', () => {
  const dummy = registry.input('dummy');
  assert.ok(dummy !== undefined);
  const resolved = resolveConfig(
    pluginSchema(dummy),
    [
      { key: 'Threaded', value: 'on' },
      { key: 'threaded', value: 'off' },
      { key: 'log_suppress_interval', value: '5s' },
    ],
    { instance: 'dummy.0', kind: 'input' },
  );
  assert.deepEqual(resolved.notices, [
    "dummy.0: 'threaded' is accepted and does nothing here: wsbit runs every input on one event loop, with no input threads",
    "dummy.0: 'log_suppress_interval' is accepted and does nothing here: wsbit does not fold repeated log lines; set log_level to hear less from an instance",
  ]);
  const plain = resolveConfig(pluginSchema(dummy), [{ key: 'rate', value: '2' }], { instance: 'dummy.0', kind: 'input' });
  assert.deepEqual(plain.notices, []);
});

test('a prefixed key (tail Parser_1, Parser_2) is taken under its prefix, in the order written', () => {
  const tail = registry.input('tail');
  assert.ok(tail !== undefined);
  const entries = [
    { key: 'path', value: '/x' },
    { key: 'Parser_2', value: 'b' },
    { key: 'Parser_1', value: 'a' },
  ];
  const resolved = resolveConfig(pluginSchema(tail), entries, { instance: 'tail.0', kind: 'input' });
  assert.deepEqual((resolved.config as Record<string, unknown>)['parser_'], ['b', 'a']);
  assert.throws(
    () => resolveConfig(pluginSchema(tail), [{ key: 'parserx', value: 'x' }], { instance: 'tail.0', kind: 'input' }),
    (error: unknown) => error instanceof ConfigError && error.code === 'WSBIT_CONFIG_UNKNOWN_KEY' && /'parserx'/.test(error.message),
  );
});

test('a key whose behaviour wsbit lacks is accepted at its default and refused otherwise, with the reason', () => {
  const dummy = registry.input('dummy');
  const tail = registry.input('tail');
  const http = registry.output('http');
  assert.ok(dummy !== undefined && tail !== undefined && http !== undefined);
  const atDefault = resolveConfig(pluginSchema(dummy), [{ key: 'rate_gate', value: 'off' }, { key: 'routable', value: 'true' }], { instance: 'dummy.0', kind: 'input' });
  assert.deepEqual(atDefault.notices, []);
  for (const [manifest, key, value, reason] of [
    [dummy, 'rate_gate', 'on', /'rate_gate on' is not supported: wsbit has no input rate gate/],
    [tail, 'unicode.encoding', 'UTF-16LE', /'unicode\.encoding UTF-16LE' is not supported: not supported yet/],
    [http, 'oauth2.enable', 'on', /'oauth2\.enable on' is not supported: OAuth2 is not supported: send a token with header/],
  ] as const) {
    assert.throws(
      () => resolveConfig(pluginSchema(manifest), [{ key, value, origin: { file: 'a.conf', line: 3 } }], { instance: `${manifest.name}.0`, kind: manifest.kind }),
      (error: unknown) => error instanceof ConfigError && error.code === 'WSBIT_CONFIG_UNSUPPORTED_VALUE' && reason.test(error.message) && /a\.conf:3/.test(error.message),
    );
  }
});

test('wsbit -D logs each key that does nothing here once, at info level, and loads', async () => {
  const agent = spawnAgent(['-i', 'dummy', '-p', 'threaded=on', '-p', 'rate_window=5s', '-o', 'null', '-p', 'format=json', '-p', 'tls.windows.certstore_name=My', '-D']);
  assert.equal(await agent.waitForExit(), 0, agent.stderr());
  const lines = agent.stderr().split('\n');
  const about = (key: string): string[] => lines.filter((line) => line.includes(`'${key}' is accepted and does nothing here`));
  assert.equal(about('threaded').length, 1, agent.stderr());
  assert.match(about('threaded')[0] ?? '', /\[ info\].*dummy\.0: 'threaded' is accepted and does nothing here: wsbit runs every input on one event loop/);
  assert.equal(about('rate_window').length, 1);
  assert.match(about('format')[0] ?? '', /null\.0: 'format' is accepted and does nothing here: the null output writes nothing/);
  assert.match(about('tls.windows.certstore_name')[0] ?? '', /null\.0: .*Windows only/);
  assert.equal(lines.filter((line) => line.includes('is accepted and does nothing here')).length, 4);
});

test('routable off: the input\'s records are counted and thrown away, as Fluent Bit 5.1.1 does (no record reaches an output)', async (t) => {
  const running = await startAgent(['-i', 'dummy', '-p', 'samples=2', '-p', 'rate=20', '-p', 'routable=off', '-i', 'dummy', '-p', 'samples=1', '-t', 'kept', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  await running.waitFor(() => running.agent.metrics.get('fluentbit_input_records_total', 'dummy.0') === 2, 'two records counted');
  await running.waitFor(() => running.chunks.length > 0, "the routable input's record");
  await running.stop();
  assert.deepEqual(running.chunks.map((chunk) => chunk.tag), ['kept']);
  assert.match(running.logs(), /routable off: the records of this input are counted and discarded/);
});
