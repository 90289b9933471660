import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigSection } from '../../src/config/document.js';
import { decode as decodeMsgpack } from '@msgpack/msgpack';
import { MultilineEngine, type MultilineRecord } from '../../src/multiline/engine.js';
import { splitTokens } from '../../src/config/words.js';
import { ParserRegistry, registerParserSections } from '../../src/pipeline/parser-registry.js';

const origin = { file: 'parsers.yaml', line: 3 };

function section(entries: Array<[string, string]>, groups: ConfigSection['groups'] = []): ConfigSection {
  return { kind: 'multiline_parser', header: 'multiline_parser', origin, entries: entries.map(([key, value]) => ({ key, value, origin })), groups };
}

function run(registry: ParserRegistry, name: string, lines: readonly string[]): unknown[] {
  const out: MultilineRecord[] = [];
  let now = 0;
  const engine = new MultilineEngine([registry.requireMultiline(name, 'test.0')], { bufferLimitBytes: 1 << 20, nowMs: () => now, onRecord: (_s, record) => out.push(record) });
  for (const line of lines) {
    now += 1;
    engine.appendText('s', Buffer.from(line), null);
  }
  engine.flushAll();
  return out.map((record) => decodeMsgpack(record.body));
}

test('registerParserSections registers [MULTILINE_PARSER] sections from any front end: rule entries or rules groups', () => {
  const registry = new ParserRegistry();
  const warnings = registerParserSections([
    section([['name', 'from-entries'], ['type', 'regex'], ['flush_timeout', '1000'], ['rule', '"start_state" "/^\\S/" "cont"'], ['rule', '"cont" "/^\\s+at /" "cont"']]),
    section([['name', 'from-groups'], ['type', 'regex']], [
      { name: 'rules', origin, entries: [{ key: 'state', value: 'start_state' }, { key: 'regex', value: '/^\\S/' }, { key: 'next_state', value: 'cont' }] },
      { name: 'rules', origin, entries: [{ key: 'state', value: 'cont' }, { key: 'regex', value: '/^\\s+at /' }, { key: 'next_state', value: 'cont' }] },
    ]),
  ], registry);
  assert.deepEqual(warnings, []);
  for (const name of ['from-entries', 'from-groups']) {
    assert.equal(registry.requireMultiline(name, 'tail.0').flushTimeoutMs, name === 'from-entries' ? 1000 : 4000);
    assert.deepEqual(run(registry, name, ['Error: x', '  at a()', '  at b()', 'next']), [{ log: 'Error: x\n  at a()\n  at b()\n' }, { log: 'next\n' }]);
  }
  assert.throws(() => registerParserSections([section([['name', 'java'], ['type', 'regex'], ['rule', '"start_state" "/x/"']])], registry), /parser named 'java' already exists \(a built-in one\)/);
  assert.throws(() => registerParserSections([section([['name', 'from-groups'], ['type', 'regex'], ['rule', '"start_state" "/x/"']])], registry), /already exists \(first defined at parsers\.yaml:3\)/);
});

test('endswith and equal parsers, negate, and a rule whose quotes hold spaces and \\"', () => {
  assert.deepEqual(splitTokens('"start_state, other"   "/say \\"hi\\" +/"  cont', 0, 'blanks'), ['start_state, other', '/say "hi" +/', 'cont']);
  const registry = new ParserRegistry();
  registerParserSections([
    section([['name', 'backslash'], ['type', 'endswith'], ['match_string', '\\']]),
    section([['name', 'until-end'], ['type', 'equal'], ['match_string', 'END']]),
    section([['name', 'not-indented'], ['type', 'endswith'], ['match_string', ';'], ['negate', 'on']]),
  ], registry);
  // A line ending with the match string ends the group (docker's "\n").
  assert.deepEqual(run(registry, 'backslash', ['a \\', 'b \\', 'c']), [{ log: 'a \\\n' }, { log: 'b \\\n' }, { log: 'c\n' }]);
  assert.deepEqual(run(registry, 'until-end', ['one', 'two', 'END', 'three']), [{ log: 'one\ntwo\nEND\n' }, { log: 'three\n' }]);
  assert.deepEqual(run(registry, 'not-indented', ['x = 1;', 'y = 2', 'z;']), [{ log: 'x = 1;\ny = 2\n' }, { log: 'z;\n' }]);
});
