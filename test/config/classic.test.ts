import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/base/errors.js';
import { parseClassicConfigText } from '../../src/config/classic.js';
import { expandVariables, type ConfigDocument, type ConfigSection, type ParseOptions } from '../../src/config/document.js';
import { parseClassicFile as parseClassicConfig } from '../../src/app/config-files.js';

const FIXTURES = path.resolve(process.cwd(), 'test/config/fixtures');
const fixture = (name: string): string => path.join(FIXTURES, name);
const FILE = '/virtual/wsbit.conf';

function parse(lines: readonly string[], options: ParseOptions = {}): ConfigDocument {
  return parseClassicConfigText(lines.join('\n'), FILE, { env: {}, hostname: 'testhost', ...options });
}

/** The sections as `[kind, [key, value, line][]]`, which is what most tests compare. */
function shape(document: ConfigDocument): Array<[string, Array<[string, string, number]>]> {
  return document.sections.map((section: ConfigSection) => [
    section.kind,
    section.entries.map((e): [string, string, number] => [e.key, e.value, e.origin?.line ?? -1]),
  ]);
}

function throwsAt(run: () => unknown, code: string, file: string, line: number, reason: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message, `[config] error in ${file}:${line}: ${reason}`);
    assert.equal(error.code, code);
    assert.deepEqual(error.origin, { file, line });
    return true;
  });
}

const syntaxAt = (lines: readonly string[], line: number, reason: string, options?: ParseOptions): void =>
  throwsAt(() => parse(lines, options), 'WSBIT_CONFIG_SYNTAX', FILE, line, reason);

describe('classic .conf: lines, sections and keys', () => {
  it('splits keys at the first space, lower-cases keys, trims values, counts physical lines', () => {
    const document = parse([
      '# comment',
      '[INPUT]',
      '    Name   dummy',
      '',
      '    Dummy  {"message": "a b"}  ',
      '# comment in column 0 between keys',
      '    Port 80 # not a comment',
      '    Tag\tx y',
    ]);
    assert.deepEqual(shape(document), [
      [
        'input',
        [
          ['name', 'dummy', 3],
          ['dummy', '{"message": "a b"}', 5],
          ['port', '80 # not a comment', 7],
          // Only a space separates: the tab stays inside the key.
          ['tag\tx', 'y', 8],
        ],
      ],
    ]);
    assert.deepEqual(document.warnings, []);
  });

  it('matches section names by case-insensitive prefix', () => {
    const headers = ['SERV', 'in', 'INPUTS', 'F', 'Filters', 'OUT', 'outputs', 'CUSTOMS', 'C', 'PLUG', 'UPSTREAM'];
    const document = parse(headers.flatMap((header) => [`[${header}]`, '    name x']));
    assert.deepEqual(
      document.sections.map((s) => [s.header, s.kind]),
      [
        ['SERV', 'service'],
        ['in', 'input'],
        ['INPUTS', 'input'],
        ['F', 'filter'],
        ['Filters', 'filter'],
        ['OUT', 'output'],
        ['outputs', 'output'],
        ['CUSTOMS', 'custom'],
        ['C', 'custom'],
        ['PLUG', 'plugins'],
        ['UPSTREAM', 'upstream_servers'],
      ],
    );
  });

  it('ignores unknown sections with a warning; text after ] is ignored', () => {
    const document = parse(['[FOO]', '    a b', '[STREAM_PROCESSOR]', '    c d', '[OUTPUT] trailing', '    name null', '[ INPUT]', '    x y']);
    assert.deepEqual(shape(document), [['output', [['name', 'null', 6]]]]);
    assert.deepEqual(document.warnings, [
      `[config] warning in ${FILE}:1: section [FOO] is not supported by wsbit and is ignored`,
      `[config] warning in ${FILE}:3: section [STREAM_PROCESSOR] is not supported by wsbit and is ignored`,
      `[config] warning in ${FILE}:7: section [ INPUT] is not supported by wsbit and is ignored`,
    ]);
  });

  it('merges every [SERVICE] into the first, keeps duplicate keys in order', () => {
    const document = parse([
      '[SERVICE]',
      '    Flush 1',
      '[OUTPUT]',
      '    Name  null',
      '    Match a',
      '    Match b',
      '[SERVICE]',
      '    Flush 2',
      '    Grace 3',
    ]);
    assert.deepEqual(shape(document), [
      ['service', [['flush', '1', 2], ['flush', '2', 8], ['grace', '3', 9]]],
      ['output', [['name', 'null', 4], ['match', 'a', 5], ['match', 'b', 6]]],
    ]);
  });

  it('reads CRLF line endings', () => {
    const document = parseClassicConfigText('[INPUT]\r\n    Name dummy\r\n\r\n    Tag t\r\n', FILE, { env: {} });
    assert.deepEqual(shape(document), [['input', [['name', 'dummy', 2], ['tag', 't', 4]]]]);
  });

  it('reads group lines with double-indented content (Fluent Bit test fixture)', () => {
    const document = parse([
      '[INPUT]',
      '    name      tail',
      '    path      /var/log/containers/*.log',
      '',
      '    [GROUP 1]',
      '        key1  aa',
      '        # comment at group level',
      '        key2  bb',
      '',
      '    [GROUP 2]',
      '        key3  cc',
      '    back  to-section',
    ]);
    const input = document.sections[0];
    assert.ok(input);
    assert.deepEqual(input.entries.map((e) => [e.key, e.value]), [['name', 'tail'], ['path', '/var/log/containers/*.log'], ['back', 'to-section']]);
    assert.deepEqual(
      input.groups.map((g) => [g.name, g.origin.line, g.entries.map((e) => [e.key, e.value, e.origin?.line])]),
      [
        ['GROUP 1', 5, [['key1', 'aa', 6], ['key2', 'bb', 8]]],
        ['GROUP 2', 10, [['key3', 'cc', 11]]],
      ],
    );
  });

  it('takes the indent per file from the first key line, tabs included', () => {
    const document = parse(['[INPUT]', '\tName dummy', '\t# indented comment', '[OUTPUT]', '\tName null']);
    assert.deepEqual(shape(document), [['input', [['name', 'dummy', 2]]], ['output', [['name', 'null', 5]]]]);
  });

  it('warns about a section without keys', () => {
    const document = parse(['[INPUT]', '[OUTPUT]', '    name null']);
    assert.deepEqual(document.warnings, [`[config] warning in ${FILE}:1: section [INPUT] did not have keys`]);
  });

  it('accepts [PARSER] sections only when asked (Parsers_File)', () => {
    const document = parseClassicConfig(fixture('parsers.conf'), { env: {}, allowParsers: true });
    assert.deepEqual(shape(document), [
      ['parser', [['name', 'json', 2], ['format', 'json', 3]]],
      ['multiline_parser', [['name', 'multiline-regex-test', 6], ['type', 'regex', 7]]],
    ]);
  });
});

describe('classic .conf: errors name FILE:LINE', () => {
  const tooLow = 'invalid indentation level: indentation level is too low (this file indents keys with 4 spaces, as on line 2)';

  it('indentation less than the first key', () => {
    syntaxAt(['[INPUT]', '    Name dummy', '  Tag x'], 3, tooLow);
  });

  it('an unindented key after indented ones', () => {
    syntaxAt(['[INPUT]', '    Name dummy', 'Tag x'], 3, tooLow);
  });

  it('an unindented first key', () => {
    syntaxAt(['[INPUT]', 'Name dummy'], 2, 'invalid indentation level: keys must be indented, e.g. with 4 spaces');
  });

  it('mixed tab and space', () => {
    const reason =
      'invalid indentation level: inconsistent use of tab and space (this file indents keys with 4 spaces, as on line 2)';
    syntaxAt(['[INPUT]', '    Name dummy', '\tTag x'], 3, reason);
    syntaxAt(['[INPUT]', '    Name dummy', '  \tTag x'], 3, reason);
  });

  it('extra indentation that is not exactly double (Fluent Bit indent_level_error.conf)', () => {
    syntaxAt(
      ['[INPUT]', '    Name dummy', '', '[OUTPUT]', '      Name stdout', '      Match *'],
      5,
      'invalid indentation level: extra indentation level found (this file indents keys with 4 spaces, as on line 2)',
    );
  });

  it('a whitespace-only line shorter than the indent', () => {
    syntaxAt(
      ['[INPUT]', '    Name dummy', '  ', '    Tag x'],
      3,
      'invalid indentation level: indentation level is too low (this file indents keys with 4 spaces, as on line 2; ' +
        'a blank line must be empty or indented like the keys)',
    );
  });

  it('a whitespace-only line sets the indent if it comes first (Fluent Bit quirk)', () => {
    syntaxAt(
      ['[INPUT]', '   ', '    Name dummy'],
      3,
      'invalid indentation level: extra indentation level found (this file indents keys with 3 spaces, as on line 2)',
    );
  });

  it('a # comment not in column 0 must be indented like the keys', () => {
    syntaxAt(['[INPUT]', '    Name dummy', '  # comment'], 3, tooLow);
    assert.equal(parse(['[INPUT]', '    Name dummy', '    # comment', '# comment']).sections[0]?.entries.length, 1);
  });

  it('a key without a value', () => {
    syntaxAt(['[INPUT]', '    Name dummy', '    Tag'], 3, 'undefined value - check config is in valid classic format');
  });

  it('a key separated from its value by a tab', () => {
    syntaxAt(
      ['[INPUT]', '    Name\tdummy'],
      2,
      'undefined value - check config is in valid classic format (a key and its value are separated by a space; a tab does not count)',
    );
  });

  it('a key with an empty or whitespace-only value', () => {
    syntaxAt(['[INPUT]', '    Name dummy', '    Tag '], 3, 'key has an empty value');
    syntaxAt(['[INPUT]', '    Name dummy', '    Tag  \t '], 3, 'key has an empty value');
  });

  it('a key before any section', () => {
    syntaxAt(['# leading comment', '    Name dummy', '[INPUT]'], 2, "key 'name' is not inside a section such as [INPUT]");
  });

  it('a bad section header', () => {
    syntaxAt(['[INPUT', '    Name dummy'], 1, 'bad header definition');
    syntaxAt(['[]', '    Name dummy'], 1, 'bad header definition: the section name is empty');
  });

  it('[PARSER] or [MULTILINE_PARSER] in the main file', () => {
    const reason =
      "Sections 'multiline_parser' and 'parser' are not valid in the main configuration file. " +
      "They belong to the 'parsers_file' configuration files.";
    syntaxAt(['[INPUT]', '    Name dummy', '[PARSER]', '    Name json'], 3, reason);
    syntaxAt(['[MULTILINE_PARSER]', '    Name x'], 1, reason);
  });

  it('groups: no name, no parent section, previous group without keys', () => {
    syntaxAt(['[INPUT]', '    Name dummy', '    [GROUP x'], 3, 'expected a valid group name: [..]');
    syntaxAt(['    [GROUP] x'], 1, "current group don't have a parent section");
    // Fluent Bit checks this only for a group line at group-content depth: a group line at the
    // section's depth closes the current group first.
    syntaxAt(['[INPUT]', '    Name dummy', '    [A]', '        [B] x'], 4, 'previous group [A] did not have keys');
    assert.deepEqual(
      parse(['[INPUT]', '    Name dummy', '    [A]', '    [B]', '        k v']).sections[0]?.groups.map((g) => [g.name, g.entries.length]),
      [['A', 0], ['B', 1]],
    );
  });

  it('bad @ commands', () => {
    syntaxAt(['@SET'], 1, "invalid command '@SET': expected @SET KEY=VALUE or @INCLUDE FILE");
    syntaxAt(['@SET novalue'], 1, "invalid @SET 'novalue': expected @SET KEY=VALUE");
    syntaxAt(['@SET =x'], 1, "invalid @SET '=x': expected @SET KEY=VALUE");
    throwsAt(() => parse(['[INPUT]', '@INCLUDE ']), 'WSBIT_CONFIG_INCLUDE', FILE, 2, '@INCLUDE needs a file name');
    const document = parse(['@FOO bar', '[INPUT]', '    name x']);
    assert.deepEqual(document.warnings, [`[config] warning in ${FILE}:1: unknown command '@FOO' is ignored`]);
  });
});

describe('classic .conf: @SET and ${VAR}', () => {
  it('applies @SET before any value, wherever it is; the last @SET wins', () => {
    const document = parse(['[OUTPUT]', '    Name ${PLUGIN}', '    Port ${PORT}', '@SET PORT=1', '@SET PLUGIN=websocket', '@SET PORT=8080']);
    assert.deepEqual(shape(document), [['output', [['name', 'websocket', 2], ['port', '8080', 3]]]]);
    assert.deepEqual([...document.variables], [['PORT', '8080'], ['PLUGIN', 'websocket']]);
  });

  it('does not trim @SET keys and values', () => {
    const document = parse(['@SET a = b', '[INPUT]', '    x ${a }', '    y [${a}]']);
    assert.deepEqual([...document.variables], [['a ', ' b']]);
    assert.deepEqual(shape(document), [['input', [['x', ' b', 3], ['y', '[]', 4]]]]);
  });

  it('looks up @SET, then the environment, with ${VAR:-default}', () => {
    const document = parse(
      ['@SET S=set', '[INPUT]', '    a ${S}', '    b ${E}', '    c ${U:-fallback}', '    d ${E:-fallback}', '    e ${EMPTY:-fallback}', '    f ${S}-${E}/${E}'],
      { env: { E: 'env', S: 'from-env', EMPTY: '' } },
    );
    assert.deepEqual(
      document.sections[0]?.entries.map((e) => [e.key, e.value]),
      [['a', 'set'], ['b', 'env'], ['c', 'fallback'], ['d', 'env'], ['e', 'fallback'], ['f', 'set-env/env']],
    );
    assert.deepEqual(document.warnings, []);
  });

  it('turns an unset variable into an empty string with a warning; an empty env var is unset', () => {
    const document = parse(['[INPUT]', '    name dummy', '    tag ${NOPE}', '    alias x${EMPTY}y'], { env: { EMPTY: '' } });
    assert.deepEqual(shape(document), [['input', [['name', 'dummy', 2], ['tag', '', 3], ['alias', 'xy', 4]]]]);
    assert.deepEqual(document.warnings, [
      `[env] variable \${NOPE} is used but not set (${FILE}:3)`,
      `[env] variable \${EMPTY} is used but not set (${FILE}:4)`,
    ]);
  });

  it('presets ${HOSTNAME} unless the environment has it', () => {
    assert.equal(parse(['[INPUT]', '    tag ${HOSTNAME}']).sections[0]?.entries[0]?.value, 'testhost');
    assert.equal(parse(['[INPUT]', '    tag ${HOSTNAME}'], { env: { HOSTNAME: 'envhost' } }).sections[0]?.entries[0]?.value, 'envhost');
    assert.equal(parse(['@SET HOSTNAME=sethost', '[INPUT]', '    tag ${HOSTNAME}']).sections[0]?.entries[0]?.value, 'sethost');
  });

  it('expandVariables leaves text that is not a variable alone, and does not recurse', () => {
    const lookup = (name: string): string | undefined => ({ A: '${B}', B: 'b' })[name];
    const unset: string[] = [];
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['plain', 'plain'],
      ['a$b', 'a$b'],
      ['${', '${'],
      ['x${A', 'x${A'],
      ['${}', '${}'],
      ['${A}', '${B}'],
      ['${B}${B}', 'bb'],
      ['}${B}', '}b'],
      ['${X:-}', ''],
      ['${X:-a:-b}', 'a:-b'],
    ];
    for (const [input, expected] of cases) assert.equal(expandVariables(input, lookup, (name) => unset.push(name)), expected, input);
    assert.deepEqual(unset, []);
  });
});

describe('classic .conf: @INCLUDE', () => {
  it('includes globs (sorted, hidden files skipped) and relative files in place', () => {
    const document = parseClassicConfig(fixture('main.conf'), { env: {} });
    assert.deepEqual(
      document.sections.map((s) => [s.kind, s.origin.file, s.origin.line, s.entries.map((e) => [e.key, e.value, e.origin?.file, e.origin?.line])]),
      [
        [
          'service',
          fixture('main.conf'),
          3,
          [
            ['flush', '1', fixture('main.conf'), 4],
            ['log_level', 'info', fixture('main.conf'), 5],
            ['grace', '7', fixture('main.conf'), 11],
          ],
        ],
        ['input', fixture('inputs/a.conf'), 1, [['name', 'dummy', fixture('inputs/a.conf'), 2], ['tag', 'a', fixture('inputs/a.conf'), 3]]],
        ['input', fixture('inputs/b.conf'), 2, [['name', 'dummy', fixture('inputs/b.conf'), 3], ['tag', 'b', fixture('inputs/b.conf'), 4]]],
        [
          'output',
          fixture('outputs.conf'),
          1,
          [
            ['name', 'websocket', fixture('outputs.conf'), 2],
            ['match', '*', fixture('outputs.conf'), 3],
            ['port', '9090', fixture('outputs.conf'), 4],
          ],
        ],
      ],
    );
    assert.deepEqual(document.files, [fixture('main.conf'), fixture('inputs/a.conf'), fixture('inputs/b.conf'), fixture('outputs.conf')]);
    assert.deepEqual(document.warnings, []);
  });

  it('an include that includes itself', () => {
    const file = fixture('self-include.conf');
    throwsAt(
      () => parseClassicConfig(file, { env: {} }),
      'WSBIT_CONFIG_INCLUDE',
      file,
      3,
      `Read twice. path=${file} (the file is already part of this configuration; an include loop?)`,
    );
  });

  it('a glob that matches the including file (Fluent Bit recursion.conf)', () => {
    const file = fixture('glob-self/recursion.conf');
    throwsAt(
      () => parseClassicConfig(file, { env: {} }),
      'WSBIT_CONFIG_INCLUDE',
      file,
      1,
      `Read twice. path=${file} (the file is already part of this configuration; an include loop?)`,
    );
  });

  it('an include loop through two files', () => {
    throwsAt(
      () => parseClassicConfig(fixture('loop/a.conf'), { env: {} }),
      'WSBIT_CONFIG_INCLUDE',
      fixture('loop/b.conf'),
      4,
      `Read twice. path=${fixture('loop/a.conf')} (the file is already part of this configuration; an include loop?)`,
    );
  });

  it('a missing include', () => {
    throwsAt(
      () => parseClassicConfig(fixture('missing-include.conf'), { env: {} }),
      'WSBIT_CONFIG_INCLUDE',
      fixture('missing-include.conf'),
      4,
      `@INCLUDE 'does-not-exist.conf': no such file (tried 'does-not-exist.conf' and '${fixture('does-not-exist.conf')}')`,
    );
  });

  it('a glob include with no match', () => {
    throwsAt(
      () => parseClassicConfig(fixture('nomatch/glob-no-match.conf'), { env: {} }),
      'WSBIT_CONFIG_INCLUDE',
      fixture('nomatch/glob-no-match.conf'),
      3,
      `@INCLUDE 'conf.d/*.conf': glob: [${fixture('nomatch/conf.d/*.conf')}] no match`,
    );
  });

  it('an error inside an included file names that file and line', () => {
    throwsAt(
      () => parseClassicConfig(fixture('broken/main.conf'), { env: {} }),
      'WSBIT_CONFIG_SYNTAX',
      fixture('broken/bad-indent.conf'),
      5,
      'invalid indentation level: extra indentation level found (this file indents keys with 4 spaces, as on line 2)',
    );
  });

  it('a missing main file', () => {
    const file = fixture('nope.conf');
    assert.throws(
      () => parseClassicConfig(file),
      (error: unknown) =>
        error instanceof ConfigError && error.code === 'WSBIT_CONFIG_NOT_FOUND' && error.message === `could not open configuration file ${file}: no such file`,
    );
  });

  it('refuses an oversized file before reading it, naming its size', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-big-conf-'));
    try {
      const file = path.join(dir, 'huge.conf');
      // A sparse file: 1 GiB by its size, no disk used, and reading it whole would take 1 GiB of memory.
      fs.closeSync(fs.openSync(file, 'w'));
      fs.truncateSync(file, 1024 * 1024 * 1024);
      assert.throws(
        () => parseClassicConfig(file),
        (error: unknown) =>
          error instanceof ConfigError && error.code === 'WSBIT_CONFIG_TOO_LARGE' && error.message.includes(file) && error.message.includes('1.0 GiB'),
      );
      const main = path.join(dir, 'main.conf');
      fs.writeFileSync(main, '@INCLUDE huge.conf\n[SERVICE]\n    Flush 1\n');
      assert.throws(
        () => parseClassicConfig(main),
        (error: unknown) => error instanceof ConfigError && error.code === 'WSBIT_CONFIG_INCLUDE' && error.message.includes('1.0 GiB'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
