import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPipeline } from '../../src/app/builder.js';
import { pluginSection } from '../helpers/sections.js';
import { parseCommandLine } from '../../src/cli/args.js';
import { defaultRegistry } from '../../src/plugins/registry.js';

const registry = defaultRegistry();
const build = (argv: string[]) => {
  const line = parseCommandLine(argv);
  return buildPipeline({ serviceEntries: line.serviceEntries, sections: line.sections }, registry);
};

test('instances are numbered per plugin and tags default to the instance name', () => {
  const pipeline = build(['-i', 'dummy', '-i', 'dummy', '-t', 'custom', '-o', 'stdout', '-m', '*']);
  assert.deepEqual(pipeline.inputs.map((i) => [i.instance, i.tag]), [
    ['dummy.0', 'dummy.0'],
    ['dummy.1', 'custom'],
  ]);
  assert.equal(pipeline.outputs[0]?.instance, 'stdout.0');
});

test('one input and one output without Match get match *; otherwise nothing is forced', () => {
  assert.equal(build(['-i', 'dummy', '-o', 'stdout']).outputs[0]?.route.match, '*');
  const two = build(['-i', 'dummy', '-i', 'cpu', '-o', 'stdout']);
  assert.equal(two.outputs[0]?.route.match, null);
  assert.ok(two.warnings.some((w) => w.includes('NO match for stdout.0')));
});

test('Retry_Limit words are parsed; the engine default is 1', () => {
  assert.deepEqual(build(['-i', 'dummy', '-o', 'stdout']).outputs[0]?.retryLimit, { kind: 'limit', retries: 1 });
  assert.deepEqual(build(['-i', 'dummy', '-o', 'stdout', '-p', 'retry_limit=no_limits']).outputs[0]?.retryLimit, { kind: 'unlimited' });
  assert.deepEqual(build(['-i', 'dummy', '-o', 'stdout', '-p', 'Retry_Limit=False']).outputs[0]?.retryLimit, { kind: 'unlimited' });
  assert.deepEqual(build(['-i', 'dummy', '-o', 'stdout', '-p', 'retry_limit=no_retries']).outputs[0]?.retryLimit, { kind: 'limit', retries: 0 });
  assert.deepEqual(build(['-i', 'dummy', '-o', 'stdout', '-p', 'retry_limit=3']).outputs[0]?.retryLimit, { kind: 'limit', retries: 3 });
  assert.throws(() => build(['-i', 'dummy', '-o', 'stdout', '-p', 'retry_limit=sometimes']), /stdout\.0: invalid value 'sometimes' for 'retry_limit': expected .*no_limits/);
});

test('an unknown plugin names the available ones', () => {
  assert.throws(() => build(['-i', 'dummy', '-o', 'kafka']), /unknown output plugin 'kafka'. Available outputs: .*stdout/);
  assert.throws(() => build(['-i', 'nope', '-o', 'stdout']), /unknown input plugin 'nope'/);
});

test('an unknown key lists the allowed keys of that plugin', () => {
  assert.throws(() => build(['-i', 'dummy', '-p', 'rat=3', '-o', 'stdout']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_UNKNOWN_KEY');
    assert.match(error.message, /dummy\.0: unknown configuration property 'rat' \(did you mean 'rate'\?\)\. The following properties are allowed: .*samples/);
    return true;
  });
});

test('-t on an output is an unknown property, as in Fluent Bit', () => {
  assert.throws(() => build(['-i', 'dummy', '-o', 'stdout', '-t', 'x']), /stdout\.0: unknown configuration property 'tag'/);
});

test('a service URI on an input maps to listen and port; -p overrides it', () => {
  const pipeline = build(['-i', 'tcp://127.0.0.1:6000', '-p', 'port=7000', '-o', 'null']);
  assert.equal(pipeline.inputs[0]?.config['listen'], '127.0.0.1');
  assert.equal(pipeline.inputs[0]?.config['port'], 7000);
});

test('a URI on a plugin without a network address is rejected', () => {
  assert.throws(() => build(['-i', 'dummy', '-o', 'stdout://host:1']), /takes no network address/);
});

test('alias renames the instance and must be unique', () => {
  assert.equal(build(['-i', 'dummy', '-p', 'alias=gen', '-o', 'null']).inputs[0]?.instance, 'gen');
  assert.throws(() => build(['-i', 'dummy', '-o', 'null', '-p', 'alias=x', '-o', 'stdout', '-p', 'alias=x']), /alias 'x' is used by another plugin instance/);
});

test('an input and an output may share a name, as in Fluent Bit (-i websocket -o websocket)', () => {
  const pipeline = build(['-i', 'websocket', '-o', 'websocket', '-p', 'port=8090']);
  assert.equal(pipeline.inputs[0]?.instance, 'websocket.0');
  assert.equal(pipeline.outputs[0]?.instance, 'websocket.0');
});

test('an unknown filter names the available ones', () => {
  const sections = [pluginSection('input', 'dummy'), pluginSection('filter', 'nope'), pluginSection('output', 'null')];
  assert.throws(() => buildPipeline({ serviceEntries: [], sections }, registry), /unknown filter plugin 'nope'. Available filters: /);
});
