import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { parseCommandLine } from '../../src/cli/args.js';
import { loadPipeline } from '../../src/app/loader.js';
import { convertConfigFile } from '../../src/app/config-files.js';
import { configFileReader } from '../../src/app/read-file.js';
import { main } from '../../src/cli/main.js';
import { parseYamlConfigText } from '../../src/config/yaml.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { confDir } from '../helpers/paths.js';
import { comparablePipeline } from './yaml-support.js';

const registry = defaultRegistry();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-convert-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = (file: string) => {
  const pipeline = loadPipeline(parseCommandLine(['-c', file]), registry);
  return { pipeline, parsers: pipeline.parsers };
};
const examples = fs.readdirSync(confDir).filter((name) => name.endsWith('.conf') && !name.startsWith('parsers'));

describe('wsbit --convert', () => {
  // The converted files sit beside copies of conf/ (subdirectories too), so `Parsers_File parsers.conf`
  // and `Upstream upstream/...` resolve as they do there.
  fs.cpSync(confDir, dir, { recursive: true });

  for (const name of examples) {
    it(`conf/${name}: classic → --convert → YAML gives the same pipeline and parsers`, () => {
      const classicFile = path.join(dir, name);
      const yamlFile = path.join(dir, `${name}.converted.yaml`);
      fs.writeFileSync(yamlFile, convertConfigFile(classicFile));
      const classic = load(classicFile);
      const yaml = load(yamlFile);
      assert.deepEqual(comparablePipeline(yaml.pipeline), comparablePipeline(classic.pipeline));
      assert.deepEqual(yaml.parsers.names(), classic.parsers.names());
    });
  }

  for (const name of examples) {
    it(`conf/${name.replace(/\.conf$/, '.yaml')}, the shipped twin, gives the same pipeline and parsers as conf/${name}`, () => {
      const classic = load(path.join(confDir, name));
      const twin = load(path.join(confDir, name.replace(/\.conf$/, '.yaml')));
      // Twins name conf/parsers.yaml where the classic files name conf/parsers.conf: the parsers are compared instead.
      const withoutParsersFile = (pipeline: typeof classic.pipeline) => ({ ...pipeline, service: { ...pipeline.service, parsers_file: [] } });
      assert.deepEqual(comparablePipeline(withoutParsersFile(twin.pipeline)), comparablePipeline(withoutParsersFile(classic.pipeline)));
      assert.deepEqual(twin.parsers.names(), classic.parsers.names());
    });
  }

  it('conf/parsers.conf converts to parsers: with the same parsers as conf/parsers.yaml', () => {
    const converted = parse(convertConfigFile(path.join(confDir, 'parsers.conf'))) as { parsers: Array<{ name: string }> };
    const shipped = parse(fs.readFileSync(path.join(confDir, 'parsers.yaml'), 'utf8')) as { parsers: Array<{ name: string }> };
    assert.deepEqual(converted, shipped);
    assert.ok(converted.parsers.some((parser) => parser.name === 'nginx'));
  });

  it('@SET becomes env, @INCLUDE becomes includes, repeated keys become lists, ${VAR}s and comments stay', () => {
    fs.writeFileSync(path.join(dir, 'outputs.conf'), '[OUTPUT]\n    Name null\n    Match *\n');
    const file = path.join(dir, 'features.conf');
    fs.writeFileSync(file, [
      '@SET RATE=4',
      '@INCLUDE outputs.conf',
      '# the service',
      '[SERVICE]',
      '    Flush ${RATE}',
      '[INPUT]',
      '    Name dummy',
      '    # a sample record',
      '    Dummy {"a":1}',
      '[FILTER]',
      '    Name modify',
      '    Match *',
      '    Add x 1',
      '    Add y 2',
      '[MULTILINE_PARSER]',
      '    Name ml',
      '    Type regex',
      '    Rule "start_state" "/^\\d+ start/" "cont"',
      '    Rule "cont" "/^\\s+/" "cont"',
      '',
    ].join('\n'));
    const text = convertConfigFile(file);
    assert.deepEqual(parse(text, { schema: 'failsafe' }), {
      env: { RATE: '4' },
      includes: ['outputs.yaml'],
      service: { flush: '${RATE}' },
      multiline_parsers: [{ name: 'ml', type: 'regex', rules: [
        { state: 'start_state', regex: '/^\\d+ start/', next_state: 'cont' },
        { state: 'cont', regex: '/^\\s+/', next_state: 'cont' },
      ] }],
      pipeline: {
        inputs: [{ name: 'dummy', dummy: '{"a":1}' }],
        filters: [{ name: 'modify', match: '*', add: ['x 1', 'y 2'] }],
      },
    });
    assert.match(text, /# the service\nservice:/);
    assert.match(text, /# a sample record\n\s+dummy:/);
    // The YAML reads back to the same entries, and to the same structured multiline rules.
    fs.writeFileSync(path.join(dir, 'outputs.yaml'), convertConfigFile(path.join(dir, 'outputs.conf')));
    const back = parseYamlConfigText(text, path.join(dir, 'features.yaml'), { env: {}, reader: configFileReader });
    const rules = back.sections.find((section) => section.kind === 'multiline_parser')?.rules;
    assert.deepEqual(rules?.map((rule) => [rule.state, rule.regex, rule.nextState]), [['start_state', '/^\\d+ start/', 'cont'], ['cont', '/^\\s+/', 'cont']]);
    assert.deepEqual(back.sections.map((section) => section.kind), ['output', 'service', 'multiline_parser', 'input', 'filter']);
    assert.equal(back.sections[1]?.entries[0]?.value, '4');
    assert.doesNotMatch(text, /^# \[convert\]/m);

    // An @INCLUDE after a section moves to the top in YAML; the converter says so.
    fs.writeFileSync(file, '[INPUT]\n    Name dummy\n@INCLUDE outputs.conf\n');
    assert.match(convertConfigFile(file), /^# \[convert\] .*features\.conf:3: @INCLUDE outputs\.conf comes after a section/m);
  });

  it('is a CLI flag that prints to stdout, and a bad file is an error naming it', async () => {
    let out = '';
    let err = '';
    const io = { stdout: (text: string) => (out += text), stderr: (text: string) => (err += text) };
    assert.equal(await main(['--convert', path.join(confDir, 'dummy-to-stdout.conf')], io, registry), 0);
    assert.match(out, /^pipeline:\n {2}inputs:\n {4}- name: dummy/m);
    assert.equal(await main(['--convert', path.join(dir, 'missing.conf')], io, registry), 1);
    assert.match(err, /could not open configuration file .*missing\.conf: no such file/);
  });
});
