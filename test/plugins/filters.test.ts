import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readEvents, writeEvent } from '../../src/codec/event.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { ConfigError } from '../../src/base/errors.js';
import { grepFilter } from '../../src/plugins/filters/grep.js';
import { modifyFilter } from '../../src/plugins/filters/modify.js';
import { parseRecordAccessor, resolveAccessor } from '../../src/plugins/filters/record-accessor.js';
import { recordModifierFilter } from '../../src/plugins/filters/record-modifier.js';
import { splitKeyValue, splitQuoted } from '../../src/config/words.js';
import type { FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { bodiesOf, eventsOf, makeFilter, msgpackOf, run } from './filters-support.js';

const grep = grepFilter as unknown as FilterPluginDefinition;
const modify = modifyFilter as unknown as FilterPluginDefinition;
const recordModifier = recordModifierFilter as unknown as FilterPluginDefinition;

/** Runs `input` bodies through a filter and compares each output body, byte for byte, with `expected` JSON. */
function check(definition: FilterPluginDefinition, config: readonly string[], input: readonly string[], expected: readonly string[], name: string): void {
  const filter = makeFilter(definition, config);
  const out = run(filter, input);
  assert.deepEqual(
    out.map((body) => body.toString('hex')),
    expected.map((json) => msgpackOf(json).toString('hex')),
    `${name}: ${config.join(' | ')}`,
  );
}

// ---------------------------------------------------------------------------------------------- grep

const grepCases: Array<{ name: string; config: string[]; input: string[]; kept: number[] }> = [
  { name: 'regex keeps matching str values', config: ['Regex level ^err'], input: ['{"level":"error"}', '{"level":"info"}', '{"level":"err"}'], kept: [0, 2] },
  { name: 'a missing key does not match', config: ['Regex level ^err'], input: ['{"msg":"error"}', '{"level":"error"}'], kept: [1] },
  // Fluent Bit's flb_ra_key_regex_match only matches str values: numbers, bools and maps never match.
  { name: 'non-string values never match', config: ['Regex code ^5'], input: ['{"code":500}', '{"code":"500"}', '{"code":true}', '{"code":{"a":"5"}}'], kept: [1] },
  { name: 'exclude drops matching records', config: ['Exclude log deprecated'], input: ['{"log":"Using deprecated option"}', '{"log":"Using option"}', '{"x":1}'], kept: [1, 2] },
  { name: 'several excludes: any drops', config: ['Exclude log deprecated', 'Exclude log hoge'], input: ['{"log":"deprecated"}', '{"log":"hoge"}', '{"log":"fine"}'], kept: [2] },
  { name: 'plain $key works like key', config: ['Regex $level ^err'], input: ['{"level":"error"}', '{"level":"info"}'], kept: [0] },
  {
    name: 'nested record accessor',
    config: ["Regex $kubernetes['labels']['app'] ^web$"],
    input: ['{"kubernetes":{"labels":{"app":"web"}}}', '{"kubernetes":{"labels":{"app":"db"}}}', '{"kubernetes":{"labels":"web"}}', '{"kubernetes":{}}'],
    kept: [0],
  },
  { name: 'accessor with double quotes and an array index', config: ['Regex $a["b"][1] ^y$'], input: ['{"a":{"b":["x","y"]}}', '{"a":{"b":["y","x"]}}', '{"a":{"b":["y"]}}'], kept: [0] },
  // flb_ra_key.c: when the top-level value is not a map or array, the sub-keys are ignored.
  { name: 'sub-keys of a scalar read the scalar (Fluent Bit)', config: ["Regex $log['x'] ^ok"], input: ['{"log":"ok"}', '{"log":{"x":"no"}}'], kept: [0] },
  { name: 'duplicate keys: the last one is matched', config: ['Regex level ^err'], input: ['{"level":"info","level":"error"}', '{"level":"error","level":"info"}'], kept: [0] },
  { name: '/regex/i', config: ['Regex level /^ERR/i'], input: ['{"level":"error"}', '{"level":"info"}'], kept: [0] },
  { name: 'regex with spaces', config: ['Regex log ^a b$'], input: ['{"log":"a b"}', '{"log":"ab"}'], kept: [0] },
  // Legacy (flb_grep_filter_legacy): the first rule that decides wins.
  { name: 'legacy: the first matching Regex keeps, later rules unread', config: ['Regex a ^x', 'Regex b ^y'], input: ['{"a":"x","b":"z"}', '{"a":"z","b":"y"}', '{"a":"x","b":"y"}'], kept: [0, 2] },
  { name: 'legacy: rule order matters', config: ['Regex b ^y', 'Regex a ^x'], input: ['{"a":"x","b":"z"}', '{"a":"z","b":"y"}', '{"a":"x","b":"y"}'], kept: [1, 2] },
  { name: 'legacy: an Exclude before a Regex still drops', config: ['Exclude b ^z', 'Regex a ^x'], input: ['{"a":"x","b":"z"}', '{"a":"x","b":"q"}', '{"a":"q"}'], kept: [1] },
  { name: 'AND: every Regex must match', config: ['Logical_Op AND', 'Regex a ^x', 'Regex b ^y'], input: ['{"a":"x","b":"z"}', '{"a":"z","b":"y"}', '{"a":"x","b":"y"}'], kept: [2] },
  { name: 'OR: any Regex keeps', config: ['Logical_Op or', 'Regex a ^x', 'Regex b ^y'], input: ['{"a":"x","b":"z"}', '{"a":"z","b":"y"}', '{"a":"q","b":"q"}'], kept: [0, 1] },
  { name: 'AND excludes: dropped only if all match', config: ['Logical_Op AND', 'Exclude a ^x', 'Exclude b ^y'], input: ['{"a":"x","b":"z"}', '{"a":"x","b":"y"}'], kept: [0] },
  { name: 'OR excludes: any match drops', config: ['Logical_Op OR', 'Exclude a ^x', 'Exclude b ^y'], input: ['{"a":"x","b":"z"}', '{"a":"q","b":"y"}', '{"a":"q"}'], kept: [2] },
];

for (const { name, config, input, kept } of grepCases) {
  test(`grep: ${name}`, () => {
    const filter = makeFilter(grep, config);
    const out = run(filter, input);
    assert.deepEqual(
      out.map((body) => body.toString('hex')),
      kept.map((i) => msgpackOf(input[i] ?? '').toString('hex')),
    );
  });
}

test('grep: an emit where every record is kept comes back as the same Buffer; drops are counted, not logged', () => {
  const filter = makeFilter(grep, ['Regex level ^err']);
  const input = eventsOf(['{"level":"error"}', '{"level":"error2"}']);
  const same = filter.filter.filter(input, 2, 't');
  assert.equal(same.events, input);
  assert.equal(same.records, 2);

  const mixed = eventsOf(['{"level":"info"}', '{"level":"error"}', '{"level":"debug"}']);
  const out = filter.filter.filter(mixed, 3, 't');
  assert.equal(out.records, 1);
  // The kept event is copied whole: timestamp, metadata and body bytes.
  const second = readEvents(mixed)[1];
  assert.deepEqual(out.events, mixed.subarray(second?.start, second?.end));

  const none = filter.filter.filter(eventsOf(['{"level":"info"}']), 1, 't');
  assert.equal(none.records, 0);
  assert.equal(none.events.length, 0);

  assert.equal(filter.metrics.get('fluentbit_filter_records_total', 'grep.0'), 6);
  assert.equal(filter.metrics.get('fluentbit_filter_drop_records_total', 'grep.0'), 3);
  assert.equal(filter.metrics.get('fluentbit_filter_add_records_total', 'grep.0'), 0);
  assert.deepEqual(filter.logs.filter((line) => /warn|error/.test(line)), []);
});

test('grep: configuration errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['Regex level'], /invalid value 'level' for 'regex': expected a key and a regular expression/],
    [['Regex level \\Ga'], /the escape \\G .* is not supported/],
    [["Regex $a['b ^x"], /a key or record accessor/],
    [['Logical_Op XOR'], /one of legacy, AND, OR/],
    [['Logical_Op AND', 'Regex a x', 'Exclude b y'], /both 'regex' and 'exclude' are set/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(grep, config), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
});

// -------------------------------------------------------------------------------------------- modify

const modifyCases: Array<{ name: string; config: string[]; input: string; output: string }> = [
  { name: 'Set adds a string', config: ['Set b 3'], input: '{"a":1}', output: '{"a":1,"b":"3"}' },
  { name: 'Set replaces every duplicate and moves the key to the end', config: ['Set a x'], input: '{"a":1,"b":2,"a":3}', output: '{"b":2,"a":"x"}' },
  { name: 'Add only when absent', config: ['Add a x', 'Add b y'], input: '{"a":1}', output: '{"a":1,"b":"y"}' },
  { name: 'Add_if_not_present is Add', config: ['Add_if_not_present b y'], input: '{"a":1}', output: '{"a":1,"b":"y"}' },
  { name: 'Remove removes every duplicate', config: ['Remove a'], input: '{"a":1,"b":2,"a":3}', output: '{"b":2}' },
  { name: 'Remove_wildcard by prefix', config: ['Remove_wildcard k'], input: '{"k1":"s1","k2":"s2","a3":"s3"}', output: '{"a3":"s3"}' },
  { name: 'Remove_wildcard with a trailing *', config: ['Remove_wildcard Mem.*'], input: '{"Mem.total":1,"Mem.used":2,"Swap":3}', output: '{"Swap":3}' },
  { name: 'Remove_regex', config: ['Remove_regex ^[a-z][0-9]$'], input: '{"k1":"s1","k2":"s2","A3":"s3"}', output: '{"A3":"s3"}' },
  { name: 'Rename when the new key is absent', config: ['Rename A3 a3'], input: '{"k1":"s1","A3":"s3","k2":"s2"}', output: '{"k1":"s1","a3":"s3","k2":"s2"}' },
  { name: 'Hard_rename replaces the target', config: ['Hard_rename k2 k1'], input: '{"k1":"s1","k2":"s2"}', output: '{"k1":"s2"}' },
  { name: 'Hard_rename without a target', config: ['Hard_rename k2 k3'], input: '{"k1":"s1","k2":"s2"}', output: '{"k1":"s1","k3":"s2"}' },
  { name: 'Copy puts the copy right after its source', config: ['Copy k1 k3'], input: '{"k1":"s1","k2":"s2"}', output: '{"k1":"s1","k3":"s1","k2":"s2"}' },
  { name: 'Hard_copy replaces the target', config: ['Hard_copy k1 k2'], input: '{"k2":"s2","k1":"s1"}', output: '{"k1":"s1","k2":"s1"}' },
  { name: 'Copy keeps the value bytes (a map)', config: ['Copy m n'], input: '{"m":{"x":[1,2.5]}}', output: '{"m":{"x":[1,2.5]},"n":{"x":[1,2.5]}}' },
  { name: 'Move_to_start', config: ['Move_to_start b'], input: '{"a":1,"b1":2,"c":3,"b2":4}', output: '{"b1":2,"b2":4,"a":1,"c":3}' },
  { name: 'Move_to_end', config: ['Move_to_end a*'], input: '{"a":1,"b":2,"ab":3,"c":4}', output: '{"b":2,"c":4,"a":1,"ab":3}' },
  { name: 'quoted key and value', config: ['Set "my key" "hello world"', "Set k 'it\\'s'"], input: '{}', output: '{"my key":"hello world","k":"it\'s"}' },
  { name: 'rules run in config order (Rename then Set)', config: ['Rename a b', 'Set a x'], input: '{"a":1}', output: '{"b":1,"a":"x"}' },
  { name: 'rules run in config order (Set then Rename)', config: ['Set a x', 'Rename a b'], input: '{"a":1}', output: '{"b":"x"}' },
  { name: 'each rule sees the result of the one before', config: ['Copy a b', 'Remove a', 'Rename b a'], input: '{"a":1,"z":2}', output: '{"a":1,"z":2}' },
  { name: 'Condition Key_exists (met)', config: ['Condition Key_exists k1', 'Copy k1 k3_copy'], input: '{"k1":"s1"}', output: '{"k1":"s1","k3_copy":"s1"}' },
  { name: 'Condition Key_exists on a nested key', config: ["Condition Key_exists $a['b']", 'Set hit yes'], input: '{"a":{"b":0}}', output: '{"a":{"b":0},"hit":"yes"}' },
  { name: 'Condition Key_does_not_exist', config: ['Condition Key_does_not_exist cpustats', 'Set cpustats UNKNOWN'], input: '{"Mem.used":1}', output: '{"Mem.used":1,"cpustats":"UNKNOWN"}' },
  { name: 'Condition Key_value_equals', config: ['Condition Key_value_equals level error', 'Set alert true'], input: '{"level":"error"}', output: '{"level":"error","alert":"true"}' },
  { name: 'Condition Key_value_does_not_equal needs the key', config: ['Condition Key_value_does_not_equal level error', 'Set x y'], input: '{"a":1}', output: '{"a":1}' },
  { name: 'Condition Key_value_matches', config: ['Condition Key_value_matches code ^5\\d\\d$', 'Set class server'], input: '{"code":"503"}', output: '{"code":"503","class":"server"}' },
  { name: 'Condition Key_value_matches sees bools as true/false', config: ['Condition Key_value_matches ok ^true$', 'Set x y'], input: '{"ok":true}', output: '{"ok":true,"x":"y"}' },
  { name: 'Condition A_key_matches', config: ['Condition A_key_matches ^k', 'Remove a'], input: '{"a":1,"k9":2}', output: '{"k9":2}' },
  { name: 'Condition No_key_matches (not met)', config: ['Condition No_key_matches ^k', 'Remove a'], input: '{"a":1,"k9":2}', output: '{"a":1,"k9":2}' },
  {
    name: 'Condition Matching_keys_have_matching_values',
    config: ['Condition Matching_keys_have_matching_values ^tag ^ok$', 'Set all_ok yes'],
    input: '{"tag1":"ok","other":"bad","tag2":"ok"}',
    output: '{"tag1":"ok","other":"bad","tag2":"ok","all_ok":"yes"}',
  },
  { name: 'every condition must hold', config: ['Condition Key_exists a', 'Condition Key_exists b', 'Set c 1'], input: '{"a":1}', output: '{"a":1}' },
  { name: 'conditions see the record as it came in', config: ['Condition Key_exists a', 'Remove a', 'Set b 1'], input: '{"a":1}', output: '{"b":"1"}' },
];

for (const { name, config, input, output } of modifyCases) {
  test(`modify: ${name}`, () => check(modify, config, [input], [output], name));
}

test('modify: a 64-bit integer, a 3.0 float and key order survive byte-exact', () => {
  const input = '{"big":18446744073709551615,"neg":-9223372036854775808,"f":3.0,"half":0.5,"nested":{"f":3.0},"s":"x"}';
  const filter = makeFilter(modify, ['Set added v', 'Rename s str']);
  const [out] = run(filter, [input]);
  const expected = Buffer.concat([
    Buffer.from([0x86]),
    Buffer.from('a3626967cfffffffffffffffff', 'hex'), // "big": cf ff×8
    Buffer.from('a36e6567d38000000000000000', 'hex'), // "neg": d3 80 00…
    Buffer.from('a166cb4008000000000000', 'hex'), // "f": cb 3.0 (float64, not an int)
    Buffer.from('a468616c66cb3fe0000000000000', 'hex'), // "half": 0.5
    Buffer.from('a66e657374656481a166cb4008000000000000', 'hex'), // "nested": {"f": 3.0}
    Buffer.from('a3737472a178', 'hex'), // "str": "x" (renamed in place)
  ]);
  // The map header says 7 entries: six original plus "added".
  expected[0] = 0x87;
  assert.equal(out?.toString('hex'), Buffer.concat([expected, Buffer.from('a56164646564a176', 'hex')]).toString('hex'));
});

test('modify: unchanged emits return the same Buffer; metadata and V1 events are kept', () => {
  const filter = makeFilter(modify, ['Rename a b', 'Remove zzz']);
  const untouched = eventsOf(['{"b":1,"a":2}', '{"c":1}']);
  assert.equal(filter.filter.filter(untouched, 2, 't').events, untouched);

  // Metadata bytes are copied as they are.
  const withMeta = eventsOf(['{"a":1}'], '{"m":"x"}');
  const out = filter.filter.filter(withMeta, 1, 't');
  assert.deepEqual(out.events, eventsOf(['{"b":1}'], '{"m":"x"}'));

  // A V1 event ([time, body]) keeps its layout.
  const v1 = Buffer.concat([Buffer.from([0x92, 0xce]), Buffer.from([0x65, 0x53, 0xf1, 0x00]), msgpackOf('{"a":1}')]);
  const v1out = filter.filter.filter(v1, 1, 't');
  assert.equal(v1out.events.toString('hex'), Buffer.concat([v1.subarray(0, 6), msgpackOf('{"b":1}')]).toString('hex'));
});

test('modify: only the changed events of an emit are rewritten, in order', () => {
  const filter = makeFilter(modify, ['Condition Key_exists x', 'Set y 1']);
  const bodies = ['{"a":1}', '{"x":1}', '{"a":2}', '{"a":3}', '{"x":2}', '{"a":4}'];
  const out = filter.filter.filter(eventsOf(bodies), bodies.length, 't');
  assert.deepEqual(out.events, eventsOf(['{"a":1}', '{"x":1,"y":"1"}', '{"a":2}', '{"a":3}', '{"x":2,"y":"1"}', '{"a":4}']));
  assert.equal(out.records, 6);
  assert.equal(filter.metrics.get('fluentbit_filter_records_total', 'modify.0'), 6);
  assert.equal(filter.metrics.get('fluentbit_filter_drop_records_total', 'modify.0'), 0);
});

test('modify: configuration errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['Set a b c'], /'set': expected KEY VALUE \(quote a word that contains spaces/],
    [['Set a'], /'set': expected KEY VALUE/],
    [['Remove a b'], /'remove': expected KEY \(/],
    [['Set "a b'], /every quote closed/],
    [['Remove_regex (?i:x)'], /the group syntax '\(\?i:…' .* is not supported/],
    [['Condition Key_is_cool a'], /expected a condition: one of key_exists/],
    [['Condition Key_value_equals a'], /'Key_value_equals KEY VALUE'/],
    [['Sett a b'], /unknown configuration property 'sett' \(did you mean 'set'\?\)/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(modify, config), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
});

// ----------------------------------------------------------------------------------- record_modifier

const recordModifierCases: Array<{ name: string; config: string[]; input: string; output: string | null }> = [
  { name: 'Record appends strings in order, even over an existing key', config: ['Record host web-1', 'Record a "two words"'], input: '{"a":1}', output: '{"a":1,"host":"web-1","a":"two words"}' },
  { name: 'Record with a quoted value', config: ['Record "the key" "quoted value"'], input: '{}', output: '{"the key":"quoted value"}' },
  { name: 'Remove_key ignores ASCII case', config: ['Remove_key Password'], input: '{"user":"u","PASSWORD":"p","password":"q"}', output: '{"user":"u"}' },
  { name: 'Remove_key with a prefix', config: ['Remove_key tmp_*'], input: '{"tmp_a":1,"keep":2,"TMP_b":3,"tmp":4}', output: '{"keep":2,"tmp":4}' },
  { name: 'Allowlist_key keeps only those keys', config: ['Allowlist_key a', 'Allowlist_key k*'], input: '{"a":1,"b":2,"k1":3,"K2":4}', output: '{"a":1,"k1":3,"K2":4}' },
  { name: 'Whitelist_key is Allowlist_key', config: ['Whitelist_key b'], input: '{"a":1,"b":2}', output: '{"b":2}' },
  { name: 'a record left with no keys is dropped', config: ['Allowlist_key nothing'], input: '{"a":1}', output: null },
  { name: 'big ints and floats survive', config: ['Remove_key x', 'Record r v'], input: '{"x":0,"big":18446744073709551615,"f":3.0}', output: '{"big":18446744073709551615,"f":3.0,"r":"v"}' },
];

for (const { name, config, input, output } of recordModifierCases) {
  test(`record_modifier: ${name}`, () => check(recordModifier, config, [input], output === null ? [] : [output], name));
}

test('record_modifier: Uuid_key adds a fresh UUID v4 to each record; unchanged emits are the same Buffer', () => {
  const filter = makeFilter(recordModifier, ['Uuid_key id']);
  const out = filter.filter.filter(eventsOf(['{"a":1}', '{"a":2}']), 2, 't');
  const bodies = decodeEvents(out.events).map((event) => event.body as { a: number; id: string });
  assert.deepEqual(bodies.map((body) => Object.keys(body)), [['a', 'id'], ['a', 'id']]);
  const uuids = bodies.map((body) => body.id);
  for (const uuid of uuids) assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(uuids[0], uuids[1]);

  const remover = makeFilter(recordModifier, ['Remove_key absent']);
  const input = eventsOf(['{"a":1}']);
  assert.equal(remover.filter.filter(input, 1, 't').events, input);
});

test('record_modifier: Remove_key and Allowlist_key cannot be mixed; Record needs a value', () => {
  assert.throws(() => makeFilter(recordModifier, ['Remove_key a', 'Whitelist_key b']), /remove_key and allowlist_key are exclusive/);
  assert.throws(() => makeFilter(recordModifier, ['Record lonely']), /'record': expected KEY VALUE/);
  assert.throws(() => makeFilter(recordModifier, ['Record plain a b c']), /invalid value 'plain a b c' for 'record': expected KEY VALUE.*double quotes/);
});

// --------------------------------------------------------------------------------- shared machinery

test('rule arguments split as Fluent Bit splits them', () => {
  assert.deepEqual(splitQuoted('a b', 3), ['a', 'b']);
  assert.deepEqual(splitQuoted('  a   b  ', 3), ['a', 'b']);
  assert.deepEqual(splitQuoted('"a b" \'c d\'', 3), ['a b', 'c d']);
  assert.deepEqual(splitQuoted('"say \\"hi\\"" x\\y', 3), ['say "hi"', 'x\\y']);
  assert.deepEqual(splitQuoted('a b c d e', 3), ['a', 'b', 'c', 'd e']);
  assert.equal(splitQuoted('"open', 3), null);
  // Fluent Bit refuses a Record of more than two words (slist_2), and knows no single quotes there.
  assert.equal(splitKeyValue('k a b  c'), null);
  assert.equal(splitKeyValue("k 'a b'"), null);
  assert.equal(splitKeyValue('k "a b" c'), null);
  assert.deepEqual(splitKeyValue('k "a b  c"'), ['k', 'a b  c']);
  assert.deepEqual(splitKeyValue('  k   v  '), ['k', 'v']);
  assert.deepEqual(splitKeyValue('"k 1" "v 1"'), ['k 1', 'v 1']);
  assert.equal(splitKeyValue('k'), null);
});

test('record accessor: parse and resolve on bytes', () => {
  const body = msgpackOf('{"a":{"b":[10,{"c":"x"}]},"a":{"b":[20,{"c":"y"}]},"s":"t"}');
  const at = (text: string): string | null => {
    const accessor = parseRecordAccessor(text);
    assert.ok(accessor, text);
    const range = resolveAccessor(body, 0, body.length, accessor);
    return range === null ? null : body.subarray(range.start, range.end).toString('hex');
  };
  assert.equal(at("$a['b'][1]['c']"), msgpackOf('"y"').toString('hex')); // the last "a" wins
  assert.equal(at('$a["b"][0]'), '14');
  assert.equal(at('s'), msgpackOf('"t"').toString('hex'));
  assert.equal(at("$a['b'][2]"), null);
  assert.equal(at("$a['x']"), null);
  assert.equal(at('$missing'), null);
  assert.equal(parseRecordAccessor("$a['b"), null);
  assert.equal(parseRecordAccessor('$'), null);
});

test('filters skip events they cannot change and pass a malformed emit to the agent as an error', () => {
  const filter = makeFilter(grep, ['Regex a ^x']);
  const writer = new MsgpackWriter();
  writeEvent(writer, 1, 0, null, msgpackOf('{"a":"x"}'));
  const good = writer.bytes();
  assert.throws(() => filter.filter.filter(good.subarray(0, good.length - 1), 1, 't'), /malformed msgpack chunk/);
  assert.deepEqual(bodiesOf(filter.filter.filter(good, 1, 't').events), [msgpackOf('{"a":"x"}')]);
});
