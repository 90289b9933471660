/**
 * Configuration errors, all at once: the loader resolves every section of a file and throws one
 * ConfigErrorList ("N errors in FILE", then `FILE:LINE: reason` each, at most 20); a range check
 * (`port 99999`) names its line like any bad value; a command-line value names its flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { loadPipeline } from '../../src/app/loader.js';
import { ConfigError } from '../../src/base/errors.js';
import { ConfigErrorList } from '../../src/config/schema.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { tempDir } from '../helpers/temp.js';

const registry = defaultRegistry();
const dir = tempDir('wsbit-config-errors-');

/** Loads `argv` (with `-c FILE` when `text` is given) and returns the ConfigError it throws. */
function failure(argv: string[], file?: { name: string; text: string }): ConfigError {
  const extra: string[] = [];
  if (file !== undefined) {
    writeFileSync(path.join(dir, file.name), file.text);
    extra.push('-c', path.join(dir, file.name));
  }
  try {
    loadPipeline(parseCommandLine([...argv, ...extra]), registry);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('the configuration was accepted');
}

test('a classic file with four errors in two sections: all four, each with its line, in file order', () => {
  const text = ['[INPUT]', '    Name  dummy', '    Rate  often', '    Bogus 1', '[OUTPUT]', '    Name   websocket', '    Match  *', '    Port   99999', '    Format xml', ''].join('\n');
  const error = failure([], { name: 'four.conf', text });
  const file = path.join(dir, 'four.conf');
  assert.ok(error instanceof ConfigErrorList);
  assert.equal(error.code, 'WSBIT_CONFIG_ERRORS');
  assert.deepEqual(error.errors.map((each) => [each.code, each.origin?.line]), [
    ['WSBIT_CONFIG_BAD_VALUE', 3],
    ['WSBIT_CONFIG_UNKNOWN_KEY', 4],
    ['WSBIT_CONFIG_BAD_VALUE', 8],
    ['WSBIT_CONFIG_BAD_VALUE', 9],
  ]);
  const lines = error.message.split('\n');
  assert.equal(lines[0], `[config] 4 errors in ${file}:`);
  assert.equal(lines[1], `  ${file}:3: dummy.0: invalid value 'often' for 'rate': expected an integer`);
  assert.match(lines[2] ?? '', new RegExp(`^  ${file}:4: dummy\\.0: unknown configuration property 'bogus'\\. The following properties are allowed: `));
  assert.equal(lines[3], `  ${file}:8: websocket.0: invalid value '99999' for 'port': expected 1 to 65535`);
  assert.match(lines[4] ?? '', new RegExp(`^  ${file}:9: websocket\\.0: invalid value 'xml' for 'format': expected one of msgpack, json`));
  assert.equal(lines.length, 5);
});

test('a YAML file with errors in the service and two plugins: each with line and column', () => {
  const text = ['service:', '  flush: soon', 'pipeline:', '  inputs:', '    - name: nosuch', '  outputs:', '    - name: stdout', '      match: "*"', '      format: xml', ''].join('\n');
  const error = failure([], { name: 'three.yaml', text });
  const file = path.join(dir, 'three.yaml');
  assert.ok(error instanceof ConfigErrorList);
  const lines = error.message.split('\n');
  assert.equal(lines[0], `[config] 3 errors in ${file}:`);
  // In file order, although the service is resolved after the plugin sections are read.
  assert.match(lines[1] ?? '', new RegExp(`^  ${file}:2:3: service: invalid value 'soon' for 'flush'`));
  assert.match(lines[2] ?? '', new RegExp(`^  ${file}:5:7: unknown input plugin 'nosuch'\\. Available inputs: `));
  assert.match(lines[3] ?? '', new RegExp(`^  ${file}:9:7: stdout\\.0: invalid value 'xml' for 'format'`));
  assert.equal(lines.length, 4);
});

test('more than 20 errors: the first 20 are listed, then "… and N more"', () => {
  const text = ['[INPUT]', '    Name dummy', ...Array.from({ length: 23 }, (_, i) => `    Bad${i} 1`), '[OUTPUT]', '    Name stdout', '    Match *', ''].join('\n');
  const error = failure([], { name: 'many.conf', text });
  assert.ok(error instanceof ConfigErrorList);
  assert.equal(error.errors.length, 23);
  const lines = error.message.split('\n');
  assert.equal(lines[0], `[config] 23 errors in ${path.join(dir, 'many.conf')}:`);
  assert.equal(lines.length, 1 + 20 + 1);
  assert.match(lines[20] ?? '', /many\.conf:22: dummy\.0: unknown configuration property 'bad19'/);
  assert.equal(lines[21], '  … and 3 more');
});

test('one error keeps its one-line message: port 99999 inside a file names its file and line', () => {
  const text = ['[INPUT]', '    Name dummy', '[OUTPUT]', '    Name  websocket', '    Match *', '    Port  99999', ''].join('\n');
  const error = failure([], { name: 'port.conf', text });
  assert.equal(error.code, 'WSBIT_CONFIG_BAD_VALUE');
  assert.equal(error.message, `[config] error in ${path.join(dir, 'port.conf')}:6: websocket.0: invalid value '99999' for 'port': expected 1 to 65535`);
});

test('a command-line value names the flags that set it, not "command line:0"', () => {
  const bad = failure(['-i', 'dummy', '-o', 'websocket', '-p', 'port=abc']);
  assert.equal(bad.message, "[config] error in command line: -o websocket -p port=abc: websocket.0: invalid value 'abc' for 'port': expected an integer");
  const range = failure(['-i', 'dummy', '-o', 'websocket', '-p', 'port=99999']);
  assert.equal(range.message, "[config] error in command line: -o websocket -p port=99999: websocket.0: invalid value '99999' for 'port': expected 1 to 65535");
  const flush = failure(['-i', 'dummy', '-o', 'stdout', '-f', 'soon']);
  assert.match(flush.message, /^\[config\] error in command line: -f soon: service: invalid value 'soon' for 'flush'/);
});

test('errors on the command line and in the file are listed together', () => {
  const text = ['[INPUT]', '    Name dummy', '    Rate often', ''].join('\n');
  const error = failure(['-o', 'stdout', '-m', '*', '-p', 'format=xml'], { name: 'both.conf', text });
  assert.ok(error instanceof ConfigErrorList);
  const lines = error.message.split('\n');
  assert.equal(lines[0], `[config] 2 errors in ${path.join(dir, 'both.conf')} and the command line:`);
  assert.match(lines[1] ?? '', /^ {2}command line: -o stdout -p format=xml: stdout\.0: invalid value 'xml' for 'format'/);
  assert.match(lines[2] ?? '', /both\.conf:3: dummy\.0: invalid value 'often' for 'rate'/);
});

test('a listening port out of range names its line for every input and server that listens', () => {
  const cases: Array<[plugin: string, kind: 'INPUT' | 'OUTPUT', port: string]> = [
    ['tcp', 'INPUT', '70000'],
    ['forward', 'INPUT', '-1'],
    ['http', 'INPUT', '65536'],
    ['websocket', 'INPUT', '99999'],
    ['websocket_server', 'OUTPUT', '65536'],
  ];
  for (const [plugin, kind, port] of cases) {
    const other = kind === 'INPUT' ? ['[OUTPUT]', '    Name  null', '    Match *'] : ['[INPUT]', '    Name  dummy'];
    const text = [`[${kind}]`, `    Name  ${plugin}`, ...(kind === 'OUTPUT' ? ['    Match *'] : []), `    Port  ${port}`, ...other, ''].join('\n');
    const name = `port-${plugin}.conf`;
    const error = failure([], { name, text });
    const line = kind === 'OUTPUT' ? 4 : 3;
    assert.equal(error.message, `[config] error in ${path.join(dir, name)}:${line}: ${plugin}.0: invalid value '${port}' for 'port': expected 0 to 65535`);
  }
});
