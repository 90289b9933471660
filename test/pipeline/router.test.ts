import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMatchRegex, routeMatches, wildcardMatches } from '../../src/pipeline/router.js';

const wildcardCases: Array<[string, string, boolean]> = [
  ['*', 'anything.at.all', true],
  ['*', '', true],
  ['app.*', 'app.web', true],
  ['app.*', 'app.', true],
  ['app.*', 'app', false],
  ['app.*', 'App.web', false],
  ['*.log', 'var.log', true],
  ['*.log', 'var.log.gz', false],
  ['a*b*c', 'aXXbYYc', true],
  ['a*b*c', 'abcab', false],
  ['a**c', 'abc', true],
  ['cpu', 'cpu', true],
  ['cpu', 'cpu.local', false],
  ['kube.*.nginx', 'kube.ns.pod.nginx', true],
  ['?', 'a', false],
];

for (const [pattern, tag, expected] of wildcardCases) {
  test(`Match '${pattern}' ${expected ? 'covers' : 'does not cover'} tag '${tag}'`, () => {
    assert.equal(wildcardMatches(pattern, tag), expected);
  });
}

test('Match_Regex is anchored at the start only and needs a non-empty match', () => {
  const rule = (source: string) => ({ match: null, matchRegex: compileMatchRegex(source, 'x.0') });
  assert.equal(routeMatches(rule('app'), 'app.web'), true);
  assert.equal(routeMatches(rule('web'), 'app.web'), false);
  assert.equal(routeMatches(rule('a*'), 'bbb'), false, 'an empty match does not count');
  assert.equal(routeMatches(rule('^(app|sys)\\.'), 'sys.kernel'), true);
});

test('an invalid Match_Regex is a config error naming the instance', () => {
  assert.throws(() => compileMatchRegex('(', 'stdout.0'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_BAD_VALUE');
    assert.match(error.message, /stdout\.0: invalid value '\(' for 'match_regex'/);
    return true;
  });
});
