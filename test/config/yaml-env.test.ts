/**
 * YAML `env:` as Fluent Bit 5.1.1 reads it, a map or a list of name/value items, and `telemetry:`
 * (a map, accepted and ignored with a warning). The end-to-end record is checked against Fluent Bit's
 * own output in test/e2e/conf-yaml-env.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/base/errors.js';
import { parseYamlConfigText } from '../../src/config/yaml.js';

const pipeline = ['pipeline:', '  inputs:', '    - name: dummy', '      tag: ${A}', '  outputs:', '    - name: stdout'];
const parse = (lines: string[]) => parseYamlConfigText([...lines, ...pipeline, ''].join('\n'), '/virtual/env.yaml', { env: {} });
const tagOf = (lines: string[]): string | undefined => parse(lines).sections.find((section) => section.kind === 'input')?.entries.find((entry) => entry.key === 'tag')?.value;

function assertFails(lines: string[], line: number, reason: RegExp): void {
  assert.throws(() => parse(lines), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.code, 'WSBIT_CONFIG_SYNTAX');
    assert.ok(error.message.includes(`/virtual/env.yaml:${line}:`), error.message);
    assert.match(error.message, reason);
    return true;
  });
}

describe('YAML env', () => {
  it('a map and a list of name/value items set the same variables', () => {
    assert.equal(tagOf(['env:', '  A: from-map']), 'from-map');
    assert.equal(tagOf(['env:', '  - name: A', '    value: from-list']), 'from-list');
    assert.equal(tagOf(['env:', '  - { name: A, value: flow }']), 'flow');
    // Keys of an item in any case, as Fluent Bit's YAML keys are.
    assert.equal(tagOf(['env:', '  - Name: A', '    Value: cased']), 'cased');
  });

  it('an item without a value sets an empty one; a name given twice keeps the last', () => {
    assert.equal(tagOf(['env:', '  - name: A']), '');
    assert.equal(tagOf(['env:', '  - name: A', '    value: one', '  - name: A', '    value: two']), 'two');
  });

  it('an item without name, and keys other than name and value, are skipped with a warning naming the line', () => {
    const document = parse(['env:', '  - value: lost', '  - name: A', '    value: kept', '    vaule: typo']);
    assert.equal(document.sections.find((section) => section.kind === 'input')?.entries.find((entry) => entry.key === 'tag')?.value, 'kept');
    assert.ok(document.warnings.some((warning) => warning.includes('/virtual/env.yaml:2:') && warning.includes("an env item without 'name' is ignored")), document.warnings.join('\n'));
    assert.ok(document.warnings.some((warning) => warning.includes('/virtual/env.yaml:5:') && warning.includes("'vaule' in an env item is ignored")), document.warnings.join('\n'));
  });

  it('a value, a scalar item or a list as a value is an error naming the line, as in Fluent Bit', () => {
    assertFails(['env: x'], 1, /'env' must be a map of NAME: value, or a list of name\/value items, but this is a value/);
    assertFails(['env:', '  - A'], 2, /each item of 'env' must be a map of keys, but this is a value/);
    assertFails(['env:', '  - name: A', '    value: [a, b]'], 3, /an env item's value must be a single value, but this is a list/);
  });
});

describe('YAML telemetry', () => {
  it('a map is accepted and ignored, with a warning saying so', () => {
    const document = parse(['telemetry:', '  enabled: true', '  endpoint: http://127.0.0.1:4318']);
    assert.equal(document.warnings.filter((warning) => warning.includes("'telemetry' is accepted and ignored")).length, 1, document.warnings.join('\n'));
  });

  it('a value or a list is an error, as in Fluent Bit', () => {
    assertFails(['telemetry: 3'], 1, /'telemetry' must be a map of keys, but this is a value/);
    assertFails(['telemetry:', '  - a'], 2, /'telemetry' must be a map of keys, but this is a list/);
  });
});
