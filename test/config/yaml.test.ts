import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { loadPipeline } from '../../src/app/loader.js';
import { parseConfigFile } from '../../src/app/config-files.js';
import { parseClassicConfigText } from '../../src/config/classic.js';
import { isYamlConfig, parseYamlConfigText } from '../../src/config/yaml.js';
import { ConfigError } from '../../src/base/errors.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { upstreamFromSections } from '../../src/upstream/config.js';
import { comparablePipeline } from './yaml-support.js';

const registry = defaultRegistry();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-yaml-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `text` as `name` in the test's temp dir and returns its path. */
function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

function load(file: string, extra: string[] = []) {
  const pipeline = loadPipeline(parseCommandLine([...extra, '-c', file]), registry);
  return { pipeline, parsers: pipeline.parsers, warnings: pipeline.warnings };
}

/** Asserts that loading `text` fails with `code`, at `line:column` of the file, with a message matching `reason`. */
function assertFails(name: string, text: string, code: string, line: number, column: number, reason: RegExp): void {
  const file = write(name, text);
  assert.throws(() => load(file), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(`${file}:${line}:${column}: `), `${error.message} should name ${file}:${line}:${column}`);
    assert.match(error.message, reason);
    assert.deepEqual([error.origin?.line, error.origin?.column], [line, column]);
    return true;
  });
}

const fixtures = path.join(process.cwd(), 'test', 'fixtures', 'yaml');

const MINIMAL_PIPELINE = ['pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: stdout', '      match: "*"', ''].join('\n');

describe('the YAML front end', () => {
  it('reads every section into the same pipeline as the classic file it mirrors', () => {
    const classic = write('same.conf', [
      '[SERVICE]', '    Flush 2', '    Log_Level debug',
      '[INPUT]', '    Name dummy', '    Tag app', '    Rate 3',
      '[FILTER]', '    Name modify', '    Match app', '    Add a 1', '    Add b 2',
      '[OUTPUT]', '    Name websocket', '    Match app', '    Host 127.0.0.1', '    Port 9', '    Header X-A one', '    Header X-B two', '',
    ].join('\n'));
    const yaml = write('same.yaml', [
      'service:', '  Flush: 2', '  log_level: debug',
      'pipeline:',
      '  inputs:', '    - Name: dummy', '      tag: app', '      rate: 3',
      '  filters:', '    - name: modify', '      match: app', '      add:', '        - a 1', '        - b 2',
      '  outputs:', '    - name: websocket', '      match: app', '      host: 127.0.0.1', '      port: 9',
      '      header: [X-A one, X-B two]', '',
    ].join('\n'));
    const fromClassic = load(classic).pipeline;
    const fromYaml = load(yaml).pipeline;
    assert.deepEqual(comparablePipeline(fromYaml), comparablePipeline(fromClassic));
    assert.deepEqual(fromYaml.outputs[0]?.config['header'], fromClassic.outputs[0]?.config['header']);
    assert.equal(fromYaml.service.flush, 2);
  });

  it('a key that takes one value also takes a one-item list or a scalar, and a scalar for a multi-value key', () => {
    const file = write('scalar.yaml', MINIMAL_PIPELINE.replace('    - name: stdout', '    - name: websocket\n      header: X-One 1\n      port: 9'));
    assert.equal((load(file).pipeline.outputs[0]?.config['header'] as unknown[]).length, 1);
  });

  it('env variables work anywhere, with the environment as fallback and an env entry winning over it', () => {
    process.env['WSBIT_YAML_TEST_TAG'] = 'from-environment';
    process.env['WSBIT_YAML_TEST_RATE'] = '9';
    try {
      const file = write('env.yaml', [
        'env:', '  RATE: 4', '  WSBIT_YAML_TEST_RATE: 5',
        'service:', '  flush: ${RATE}',
        'pipeline:', '  inputs:', '    - name: dummy', '      tag: ${WSBIT_YAML_TEST_TAG}', '      rate: ${WSBIT_YAML_TEST_RATE}',
        '  outputs:', '    - name: stdout', '      match: "*"', '',
      ].join('\n'));
      const { pipeline } = load(file);
      assert.equal(pipeline.service.flush, 4);
      assert.equal(pipeline.inputs[0]?.tag, 'from-environment');
      assert.equal(pipeline.inputs[0]?.config['rate'], 5);
    } finally {
      delete process.env['WSBIT_YAML_TEST_TAG'];
      delete process.env['WSBIT_YAML_TEST_RATE'];
    }
  });

  it('includes are relative to the including file, in order, and loops are detected', () => {
    write('inc/outputs.yaml', ['pipeline:', '  outputs:', '    - name: null', '      match: "*"', ''].join('\n'));
    write('inc/nested/input.yaml', ['includes:', '  - ../outputs.yaml', 'pipeline:', '  inputs:', '    - name: dummy', '      tag: t', ''].join('\n'));
    const main = write('inc/main.yaml', ['includes:', '  - nested/input.yaml', 'service:', '  flush: 3', ''].join('\n'));
    const { pipeline } = load(main);
    assert.deepEqual([pipeline.inputs.map((i) => i.tag), pipeline.outputs.map((o) => o.definition.name), pipeline.service.flush], [['t'], ['null'], 3]);

    write('loop/a.yaml', ['includes:', '  - b.yaml', ''].join('\n'));
    write('loop/b.yaml', ['pipeline:', '  inputs:', '    - name: dummy', 'includes:', '  - a.yaml', ''].join('\n'));
    assert.throws(() => load(path.join(dir, 'loop/a.yaml')), (error: ConfigError) => {
      assert.equal(error.code, 'WSBIT_CONFIG_INCLUDE');
      assert.match(error.message, /loop\/b\.yaml:5:5: Read twice\. path=.*loop\/a\.yaml/);
      return true;
    });
  });

  it('inline parsers are registered and service.parsers_file is read, YAML or classic', () => {
    write('parsers/extra.yaml', ['parsers:', '  - name: from_yaml_file', '    format: json', ''].join('\n'));
    write('parsers/extra.conf', ['[PARSER]', '    Name from_classic_file', '    Format logfmt', ''].join('\n'));
    const file = write('parsers/main.yaml', [
      'service:', '  parsers_file:', '    - extra.yaml', '    - extra.conf',
      'parsers:', '  - name: inline_regex', '    format: regex', "    regex: '^(?<word>\\w+)$'",
      'multiline_parsers:', '  - name: ml', '    type: regex', '    rules:',
      "      - state: start_state", "        regex: '/^start/'", '        next_state: cont',
      "      - state: cont", "        regex: '/^ /'", '        next_state: cont',
      MINIMAL_PIPELINE,
    ].join('\n'));
    const { parsers } = load(file);
    assert.deepEqual(parsers.names(), ['from_classic_file', 'from_yaml_file', 'inline_regex']);
    assert.ok(parsers.get('inline_regex') !== undefined);
    assert.equal(parsers.requireMultiline('ml', 'test').name, 'ml');
    const sections = parseConfigFile(file).sections;
    // The rules stay structured: no front end quotes a rule for another to split.
    const rule = sections.find((section) => section.kind === 'multiline_parser')?.rules?.[0];
    assert.deepEqual(rule === undefined ? undefined : [rule.state, rule.regex, rule.nextState], ['start_state', '/^start/', 'cont']);
  });

  it('unknown sections and signals other than logs are warnings naming file, line and column', () => {
    const file = write('unknown.yaml', `${MINIMAL_PIPELINE}stream_processor:\n  - x: 1\n`);
    const { warnings } = load(file);
    assert.ok(warnings.some((w) => w.includes(`${file}:7:1: unknown section 'stream_processor' is ignored`)), warnings.join('\n'));
  });

  it('an output names an upstream_servers entry; its nodes reach the output, ${VAR}s substituted', () => {
    const file = write('upstream.yaml', [
      'env:', '  SECOND_PORT: "43001"',
      'upstream_servers:', '  - name: balancing', '    nodes:',
      '      - name: node-1', '        host: 127.0.0.1', '        port: 43000', '        uri: /one', '        header: [X-Node one, X-Other 1]',
      '      - name: node-2', '        host: 127.0.0.1', '        port: ${SECOND_PORT}', '        tls: on', '        tls.verify: off',
      '      - host: 127.0.0.2',
      'pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: websocket', '      upstream: balancing', '',
    ].join('\n'));
    const [output] = load(file).pipeline.outputs;
    assert.ok(output?.upstream !== undefined);
    assert.match(output.upstream.from, /upstream_servers 'balancing'/);
    const { nodes } = upstreamFromSections(output.upstream.sections, 80);
    assert.deepEqual(
      nodes.map((node) => [node.name, node.host, node.port, node.uri, node.headers.map((h) => `${h.name}=${h.value}`), node.tls?.verify ?? null]),
      [
        ['node-1', '127.0.0.1', 43000, '/one', ['X-Node=one', 'X-Other=1'], null],
        ['node-2', '127.0.0.1', 43001, null, [], false],
        ['127.0.0.2:80', '127.0.0.2', 80, null, [], null],
      ],
    );
  });

  it('an upstream that is no upstream_servers name is a file, relative to the configuration file', () => {
    write('nested/up/nodes.conf', ['[UPSTREAM]', '    name from-file', '[NODE]', '    name a', '    host 127.0.0.1', '    port 4500', ''].join('\n'));
    const yamlFile = write('nested/by-path.yaml', ['pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: http', '      upstream: up/nodes.conf', ''].join('\n'));
    const classicFile = write('nested/by-path.conf', ['[INPUT]', '    Name dummy', '[OUTPUT]', '    Name forward', '    Upstream up/nodes.conf', ''].join('\n'));
    // The working directory is not the file's: the path must still be found beside the file.
    assert.notEqual(process.cwd(), path.join(dir, 'nested'));
    for (const file of [yamlFile, classicFile]) {
      const upstream = load(file).pipeline.outputs[0]?.upstream;
      assert.equal(upstream?.from, path.join(dir, 'nested/up/nodes.conf'), file);
      assert.deepEqual(upstreamFromSections(upstream.sections, 24224).nodes.map((node) => `${node.name}:${node.port}`), ['a:4500']);
    }
  });

  it("a relative upstream path starts at the configuration file's directory, as Fluent Bit 5.1.1 resolves it", () => {
    // Fluent Bit, run on fixtures/yaml/upstream-name.yaml in /tmp/fbup2, looked for the value beside the file.
    const fluentBit = fs.readFileSync(path.join(fixtures, 'upstream-name.fluent-bit.out'), 'utf8');
    assert.equal(/file=(\S+)/.exec(fluentBit)?.[1], path.join('/tmp/fbup2', 'forward-balancing'));
    // wsbit takes the name first (an extension); a value naming no entry is a path, resolved the same way.
    const text = fs.readFileSync(path.join(fixtures, 'upstream-name.yaml'), 'utf8');
    const byName = write('fb/upstream-name.yaml', text);
    assert.equal(load(byName).pipeline.outputs[0]?.upstream?.from.startsWith("upstream_servers 'forward-balancing'"), true);
    const byPath = write('fb/upstream-path.yaml', text.replace('upstream: forward-balancing', 'upstream: missing-nodes'));
    assert.throws(() => load(byPath), (error: unknown) => error instanceof ConfigError && error.message.includes(path.join(dir, 'fb', 'missing-nodes')));
  });

  it('an unknown upstream name is an error at the key, listing the names defined', () => {
    const text = [
      'upstream_servers:', '  - name: balancing', '    nodes:', '      - host: 127.0.0.1',
      'pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: websocket', '      upstream: balancer', '',
    ].join('\n');
    assertFails('unknown-upstream.yaml', text, 'WSBIT_CONFIG_UPSTREAM', 10, 7, /websocket\.0: upstream 'balancer' names none of upstream_servers \(balancing\) and is read as a file path: upstream file: could not open .*balancer/);
  });

  it('upstream_servers problems name file, line and column: no name, a twin, a node without host', () => {
    const pipelineWith = (reference: string): string[] => ['pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: forward', `      upstream: ${reference}`, ''];
    assertFails('no-name.yaml', ['upstream_servers:', '  - nodes:', '      - host: 127.0.0.1', ...pipelineWith('x')].join('\n'), 'WSBIT_CONFIG_UPSTREAM', 2, 5, /needs a 'name'/);
    assertFails(
      'twin.yaml',
      ['upstream_servers:', '  - name: a', '    nodes: [{host: 127.0.0.1}]', '  - name: a', '    nodes: [{host: 127.0.0.2}]', ...pipelineWith('a')].join('\n'),
      'WSBIT_CONFIG_UPSTREAM', 4, 5, /'a' is already defined at .*twin\.yaml:2:5/,
    );
    assertFails('no-host.yaml', ['upstream_servers:', '  - name: a', '    nodes:', '      - name: n1', '        port: 1', ...pipelineWith('a')].join('\n'), 'WSBIT_CONFIG_UPSTREAM', 4, 9, /'host' is required/);
  });

  it('plugins is an error: wsbit has no shared-object plugins', () => {
    assertFails('plugins.yaml', `plugins:\n  - /opt/out_gstdout.so\n${MINIMAL_PIPELINE}`, 'WSBIT_CONFIG_NOT_SUPPORTED', 1, 1, /no shared-object plugins|does not have/);
  });

  it('processors on a filter are an error; on an input or output they are kept in the pipeline', () => {
    const file = write('processors.yaml', [
      'pipeline:', '  inputs:', '    - name: dummy', '      processors:', '        logs:',
      '          - name: content_modifier', '            action: insert', '            key: a', '            value: b',
      '          - name: grep', '            regex: message x',
      '  outputs:', '    - name: stdout', '      match: "*"', '      processors:', '        logs:', '          - name: record_modifier', '            record: c d',
      '        metrics:', '          - name: grep', '            regex: a b', '',
    ].join('\n'));
    const { pipeline, warnings } = load(file);
    assert.deepEqual(pipeline.inputs[0]?.processors?.map((p) => [p.instance, p.route.match]), [
      ['dummy.0.content_modifier.0', '*'],
      ['dummy.0.grep.0', '*'],
    ]);
    assert.deepEqual(pipeline.outputs[0]?.processors?.map((p) => p.instance), ['stdout.0.record_modifier.0']);
    assert.ok(warnings.some((w) => /processors\.metrics of this output are ignored/.test(w)), warnings.join('\n'));
    assertFails(
      'filter-processors.yaml',
      `${MINIMAL_PIPELINE}  filters:\n    - name: grep\n      processors:\n        logs: []\n`,
      'WSBIT_CONFIG_SYNTAX', 9, 7, /'processors' belong to an input or an output/,
    );
    assertFails(
      'unknown-processor.yaml',
      MINIMAL_PIPELINE.replace('    - name: dummy', '    - name: dummy\n      processors:\n        logs:\n          - name: sql'),
      'WSBIT_CONFIG_UNKNOWN_PLUGIN', 6, 13, /unknown processor plugin 'sql'\. Available processors: .*content_modifier.*grep/,
    );
  });

  it('bad YAML is an error with file, line and column', () => {
    assertFails('tabs.yaml', 'service:\n\tflush: 1\n', 'WSBIT_CONFIG_SYNTAX', 2, 1, /invalid YAML: Tabs are not allowed as indentation \(indent with spaces/);
    assertFails('duplicate.yaml', 'service:\n  flush: 1\n  log_level: info\n  flush: 2\n', 'WSBIT_CONFIG_SYNTAX', 4, 3, /Map keys must be unique/);
    assertFails('list-for-map.yaml', 'service:\n  - flush: 1\n', 'WSBIT_CONFIG_SYNTAX', 2, 3, /'service' must be a map of keys, but this is a list/);
    assertFails('map-for-list.yaml', 'pipeline:\n  inputs:\n    name: dummy\n', 'WSBIT_CONFIG_SYNTAX', 3, 5, /pipeline\.inputs must be a list \(items start with '- '\), but this is a map/);
    assertFails('map-for-value.yaml', MINIMAL_PIPELINE.replace('match: "*"', 'match:\n        a: b'), 'WSBIT_CONFIG_SYNTAX', 7, 9, /'match' takes a value or a list of values, but this is a map/);
    assertFails('unknown-plugin.yaml', MINIMAL_PIPELINE.replace('name: stdout', 'name: kafka'), 'WSBIT_CONFIG_UNKNOWN_PLUGIN', 5, 7, /unknown output plugin 'kafka'\. Available outputs: .*stdout/);
    assertFails('missing-include.yaml', `includes:\n  - nowhere.yaml\n${MINIMAL_PIPELINE}`, 'WSBIT_CONFIG_INCLUDE', 2, 5, /include 'nowhere\.yaml': could not open included file .*nowhere\.yaml: no such file/);
    assertFails('bad-type.yaml', MINIMAL_PIPELINE.replace('    - name: dummy', '    - name: dummy\n      rate: often'), 'WSBIT_CONFIG_BAD_VALUE', 4, 7, /dummy\.0: invalid value 'often' for 'rate': expected an integer/);
    assertFails('bad-enum.yaml', MINIMAL_PIPELINE.replace('match: "*"', 'match: "*"\n      format: xml'), 'WSBIT_CONFIG_BAD_VALUE', 7, 7, /invalid value 'xml' for 'format': expected one of .*json_lines/);
    assertFails('unknown-key.yaml', MINIMAL_PIPELINE.replace('    - name: dummy', '    - name: dummy\n      rat: 1'), 'WSBIT_CONFIG_UNKNOWN_KEY', 4, 7, /'rat' \(did you mean 'rate'\?\)\. The following properties are allowed/);
    // With an output, so that the missing name is the file's one error (without, "no output" is listed too).
    assertFails('no-name.yaml', 'pipeline:\n  inputs:\n    - tag: x\n  outputs:\n    - name: stdout\n      match: "*"\n', 'WSBIT_CONFIG_NO_NAME', 3, 7, /\[pipeline\.inputs\] section has no 'Name' key/);
    assertFails('alias.yaml', 'service:\n  flush: &one 1\n  grace: *one\n', 'WSBIT_CONFIG_SYNTAX', 3, 10, /'grace' must be a single value, but this is an alias \(\*one\)/);
    // Nesting deep enough to exhaust the parser's stack is an error on line 2 (the column depends on the stack size), not a crash.
    const deep = write('deep.yaml', `service:\n  flush: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    assert.throws(() => load(deep), (error: ConfigError) => error.code === 'WSBIT_CONFIG_SYNTAX' && error.origin?.line === 2 && /nested too deeply/.test(error.message));
    assertFails('not-a-map.yaml', '- service\n', 'WSBIT_CONFIG_SYNTAX', 1, 1, /a YAML configuration file must be a map of keys, but this is a list/);
  });

  it('-p and -o on the command line go beside -c file.yaml, CLI sections first as in classic mode', () => {
    const file = write('cli.yaml', MINIMAL_PIPELINE);
    const { pipeline } = load(file, ['-o', 'null', '-m', 'x', '-p', 'alias=from_cli']);
    assert.deepEqual(pipeline.outputs.map((o) => o.instance), ['from_cli', 'stdout.0']);
  });

  it('is chosen by extension, or by content for a file named otherwise', () => {
    assert.equal(isYamlConfig('x.yml', '[SERVICE]'), true);
    assert.equal(isYamlConfig('fluent-bit.conf', '# comment\n\nservice:\n  flush: 1\n'), true);
    assert.equal(isYamlConfig('fluent-bit.conf', '---\npipeline:\n'), true);
    assert.equal(isYamlConfig('fluent-bit.conf', '# comment\n[SERVICE]\n    Flush 1\n'), false);
    assert.equal(isYamlConfig('fluent-bit.conf', '@INCLUDE x.conf\n'), false);
    const disguised = write('disguised.conf', MINIMAL_PIPELINE);
    assert.equal(load(disguised).pipeline.inputs[0]?.definition.name, 'dummy');
  });

  it('FILE:LINE:COLUMN appears in warnings too, and classic origins keep FILE:LINE', () => {
    const file = write('repeat.yaml', MINIMAL_PIPELINE.replace('match: "*"', 'match: "*"\n      Match: x'));
    assert.ok(load(file).warnings.some((w) => w.includes(`Overwriting with 'x' (${file}:7:7)`)));
    const classic = parseClassicConfigText('[INPUT]\n    Name dummy\n', '/virtual/a.conf', { env: {} });
    assert.equal(classic.sections[0]?.entries[0]?.origin?.column, undefined);
  });
});

describe("Fluent Bit docs' YAML examples run unchanged", () => {
  for (const name of ['docs-websocket-cpu.yaml', 'docs-websocket-tcp.yaml', 'docs-tail-syslog.yaml']) {
    it(name, () => {
      const { pipeline } = load(path.join(fixtures, name));
      assert.ok(pipeline.inputs.length === 1 && pipeline.outputs.length === 1);
    });
  }
  it('the websocket example keeps its keys', () => {
    const { pipeline } = load(path.join(fixtures, 'docs-websocket-tcp.yaml'));
    const output = pipeline.outputs[0];
    assert.deepEqual([output?.definition.name, output?.config['host'], output?.config['port'], output?.config['format'], output?.workers], ['websocket', '127.0.0.1', 8080, 'json', 4]);
    assert.equal(output?.config['net.keepalive_idle_timeout'], 30);
  });
});
