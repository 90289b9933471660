import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegexTranslationError, translateOnigmo } from '../../src/regex/onigmo.js';

const matchCases: Array<[pattern: string, text: string, matches: boolean]> = [
  ['^err', 'error', true],
  ['^err', 'an\nerror', true], // Ruby ^ is a line anchor
  ['\\Aerr', 'an\nerror', false],
  ['\\Aan', 'an\nerror', true],
  ['foo\\z', 'foo\n', false],
  ['foo\\Z', 'foo\n', true],
  ['a.b', 'a\nb', false],
  ['^a.b$', 'a\rb', true], // Ruby's . excludes only \n (a JS . also excludes \r)
  ['/a.b/m', 'a\nb', true], // Ruby's m is dot-all
  ['(?m)a.b', 'a\nb', true],
  ['/ERROR/i', 'error', true],
  ['/ERROR/', 'error', false],
  ['(?i)warn', 'WARN', true],
  ['/var/log/.*', '/var/log/x', true], // unknown "options": the whole text is the pattern
  ['/foo/o', '/foo/o', true], // only 'o' is no option at all (check_option): the whole text again
  ['^\\h+$', 'DeadBeef', true],
  ['^\\h+$', 'xyz', false],
  ['^[[:digit:][:upper:]]+$', '42AB', true],
  ['^[[:alpha:]]+$', 'ab1', false],
  ['^[[:alpha:]]+$', 'éa', true], // POSIX brackets are Unicode in Ruby syntax (POSIX_BRACKET_ALL_RANGE)
  ['^[[:space:]]$', '\u3000', true],
  ['^[[:punct:]]+$', '$+<=>^`|~', true],
  ['^\\p{Alpha}$', 'é', true],
  ['^\\p{^Alpha}$', '1', true],
  ['^\\p{Greek}+$', 'αβ', true], // Onigmo's bare script names
  ['^[\\p{Greek}\\d]+$', 'α1', true],
  ['^a{,2}b$', 'aab', true],
  ['^a{,2}b$', 'aaab', false],
  ['^x{2}$', 'xx', true],
  ['^a{2}?$', '', true], // FIXED_INTERVAL_IS_GREEDY_ONLY: a{2}? is (?:a{2})?
  ['^a{2}?$', 'a', false],
  ['^a{1,2}+$', 'aaaaa', true], // not possessive in Ruby syntax: (?:a{1,2})+
  ['^a{2}{2}$', 'aaaa', true],
  ['\\-\\"\\:', '-":', true],
  ['\\y', 'y', true], // an unknown escape is the character itself
  ['a{b', 'a{b', true],
  ['a]b}', 'a]b}', true],
  ["(?'lvl'\\w+):", 'warn:', true],
  ['(?<lvl>\\w+):', 'warn:', true],
  ['a(?#comment)b', 'ab', true],
  ['/a b # comment\n c/x', 'abc', true],
  ['^.$', '😀', true], // code points, as Onigmo on UTF-8
  ['^😀{2}{2}$', '😀😀😀😀', true],
  ['\\p{Lu}', 'É', true],
  ['^\\x{1F600}$', '😀', true],
  ['^\\p{L}{2}$', 'éa', true],
  ['^\\e\\a\\0$', '\x1b\x07\0', true],
  ['^\\101[\\102]$', 'AB', true], // octal, since there are not 101 groups
  ['[]a]', ']', true],
  ['\\R', '\r\n', true],
  ['^\\R\\n$', '\r\n', false], // \R is atomic: it does not give the \n of \r\n back
  ['^\\R+$', '\r\n\n', true],
  ['a+?b', 'aab', true],
  ['(?>a)', 'a', true],
  ['^(?>a+)a', 'aaaa', false], // atomic: never gives an a back
  ['^(?>ab)+$', 'abab', true],
  ['^a++a', 'aaaa', false],
  ['^a*+b$', 'aaab', true],
  ['^(a)(?>b)\\1$', 'aba', true], // \1 is still (a) after the atomic group's helper
  ['^(a)(?>b)\\1$', 'abb', false],
];

test('onigmo: Ruby-syntax patterns translate to RegExps that match the same text', () => {
  for (const [pattern, text, matches] of matchCases) {
    assert.equal(translateOnigmo(pattern).regex.test(text), matches, `${JSON.stringify(pattern)} on ${JSON.stringify(text)}`);
  }
});

test('onigmo: named groups are renamed and mapped back; plain groups beside them do not capture', () => {
  const { regex, names } = translateOnigmo('^(?:(?<a>x)|(?<a>y))(z)(?<b>\\w)\\k<b>$');
  assert.deepEqual(names, [
    { group: 'g0', name: 'a' },
    { group: 'g1', name: 'a' },
    { group: 'g2', name: 'b' },
  ]);
  const match = regex.exec('yzqq');
  assert.deepEqual({ ...match?.groups }, { g0: undefined, g1: 'y', g2: 'q' });
  assert.equal(match?.length, 4, 'three named groups, (z) is not captured');
  assert.equal(translateOnigmo('^(?<x>a{1,2}?)').regex.exec('aa')?.groups?.g0, 'a', '{n,m}? is lazy');
});

test('onigmo: constructs JavaScript cannot express, and patterns Onigmo refuses, are refused', () => {
  const refused = [
    '[a-z&&[^aeiou]]', '\\Gx', '\\Kx', '\\X', '\\g<a>(?<a>x)', '[a[b]]', '[[:^alpha:]]', '[\\P{Alpha}]', '\\p{NoSuchProperty}',
    '(?i:x)', 'a(?i)b', '(?~a)', '(?<1st>x)', '(?<a>x)\\1', '(?<a>x)|(?<a>y)\\k<a>', '\\k<nope>', '*a', '[\\w-.]', '(', ')', '[a', '\\',
  ];
  for (const pattern of refused) {
    assert.throws(() => translateOnigmo(pattern), RegexTranslationError, pattern);
  }
  assert.throws(() => translateOnigmo('(?<a>x)\\G'), /^RegexTranslationError: the escape \\G .*\(at offset 7 of \/\(\?<a>x\)\\G\/\) is not supported/);
  assert.throws(() => translateOnigmo('a(?>b'), /^RegexTranslationError: an unclosed \(/);
});
