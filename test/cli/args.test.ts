import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';

test('-p, -t and -m apply to the plugin given last, in order', () => {
  const line = parseCommandLine(['-i', 'dummy', '-p', 'Rate=5', '-t', 'app', '-o', 'stdout', '-m', 'app*', '-p', 'format = json_lines ']);
  assert.equal(line.sections.length, 2);
  const [input, output] = line.sections;
  // The plugin is the section's `name`, as in a file.
  assert.deepEqual(input?.entries.map((e) => [e.key, e.value]), [
    ['name', 'dummy'],
    ['rate', '5'],
    ['tag', 'app'],
  ]);
  assert.deepEqual(output?.entries.map((e) => [e.key, e.value]), [
    ['name', 'stdout'],
    ['match', 'app*'],
    ['format', 'json_lines'],
  ]);
});

test('a value may contain = signs; only the first splits', () => {
  const line = parseCommandLine(['-i', 'dummy', '-p', 'dummy={"a":"b=c"}']);
  assert.deepEqual(line.sections[0]?.entries[1], { key: 'dummy', value: '{"a":"b=c"}', origin: { file: 'command line', line: 0, flag: '-p', text: '-i dummy -p dummy={"a":"b=c"}' } });
});

test('service URIs give host, port and path', () => {
  const line = parseCommandLine(['-i', 'cpu', '-o', 'websocket://10.0.0.5:8080/ingest?x=1', '-m', '*']);
  assert.deepEqual(line.sections[1]?.serviceUri, { plugin: 'websocket', host: '10.0.0.5', port: 8080, uri: '/ingest?x=1' });
});

test('-m after an input is ignored with a warning, as Fluent Bit ignores it', () => {
  const line = parseCommandLine(['-i', 'cpu', '-m', '*']);
  assert.deepEqual(line.sections[0]?.entries.map((e) => e.key), ['name']);
  assert.match(line.warnings[0] ?? '', /ignored/);
});

test('-p before any plugin is an error naming the flag', () => {
  assert.throws(() => parseCommandLine(['-p', 'a=b']), /-p 'a=b' must come after the -i, -o or -F/);
  assert.throws(() => parseCommandLine(['-i', 'cpu', '-p', 'novalue']), /expected key=value/);
});

test('-v counts, -vv is trace, -q and -D and -f are read', () => {
  assert.equal(parseCommandLine(['-vv']).verbosity, 2);
  assert.equal(parseCommandLine(['-v', '-v', '-v']).verbosity, 3);
  const line = parseCommandLine(['-q', '-D', '-f', '0.5', '-l', '/tmp/x.log', '-c', 'a.conf']);
  assert.equal(line.quiet, true);
  assert.equal(line.dryRun, true);
  assert.equal(line.configFile, 'a.conf');
  assert.deepEqual(line.serviceEntries.map((e) => [e.key, e.value]), [
    ['flush', '0.5'],
    ['log_file', '/tmp/x.log'],
  ]);
});

test('-h alone asks for the main help; after a plugin, for that plugin', () => {
  assert.deepEqual(parseCommandLine(['-h']).help, { kind: 'main' });
  const help = parseCommandLine(['-o', 'websocket', '-h']).help;
  assert.equal(help?.kind, 'plugin');
  assert.equal(help?.kind === 'plugin' ? help.plugin.plugin : '', 'websocket');
});

test('an unknown flag is a usage error', () => {
  assert.throws(() => parseCommandLine(['--bogus']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CLI_USAGE');
    assert.match(error.message, /unknown option '--bogus'/);
    return true;
  });
});
