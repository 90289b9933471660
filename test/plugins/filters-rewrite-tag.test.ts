import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/base/errors.js';
import { rewriteTagFilter } from '../../src/plugins/filters/rewrite-tag.js';
import { parseTagTemplate } from '../../src/plugins/filters/tag-template.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { defineInput, type EmitterOptions, type FilterEmitter, type FilterPluginDefinition } from '../../src/pipeline/contracts.js';
import { launchAgent } from '../helpers/pipeline.js';
import { caseEvents, describeEvents, golden, goldenCases, type GoldenCase } from './filters-golden-support.js';
import { eventsOf, makeFilter } from './filters-support.js';

const rewriteTag = rewriteTagFilter as unknown as FilterPluginDefinition;

/** An emitter that keeps what it is given, for tests of the filter alone. */
function recordingEmitter(ready = true) {
  const emitted: Array<{ tag: string; records: number; events: Buffer }> = [];
  const options: EmitterOptions[] = [];
  const createEmitter = (given: EmitterOptions): FilterEmitter => {
    options.push(given);
    return { instance: given.name, ready: () => ready, emit: (events, records, tag) => emitted.push({ tag, records, events: Buffer.from(events) }) };
  };
  return { emitted, options, createEmitter };
}

/**
 * A test-only input that emits fixed events once started: the case's records with their own
 * timestamps, as Fluent Bit's stdin input read them for the golden output.
 */
function injectInput(events: Buffer, records: number, emits = 1) {
  return defineInput({
    kind: 'input',
    name: 'inject',
    description: 'Emits fixed events (tests only)',
    schema: [],
    create(context) {
      return {
        start: async () => {
          for (let i = 0; i < emits; i++) context.emit(events, records);
        },
        stop: async () => undefined,
        pause: () => undefined,
        resume: () => undefined,
      };
    },
  });
}

function argvOf(c: GoldenCase & { more?: Array<{ filter: string; match: string; params: Array<[string, string]> }> }): string[] {
  const argv = ['-i', 'inject', '-t', c.tag ?? 'test', '-F', c.filter, '-m', '*'];
  for (const [key, value] of c.params) argv.push('-p', `${key}=${value}`);
  for (const more of c.more ?? []) {
    argv.push('-F', more.filter, '-m', more.match);
    for (const [key, value] of more.params) argv.push('-p', `${key}=${value}`);
  }
  return [...argv, '-o', 'capture', '-m', '*', '-f', '0.05'];
}

for (const c of goldenCases('rewrite_tag')) {
  test(`rewrite_tag: the same records reach the same tags as in Fluent Bit 5.1.1: ${c.name}`, async (t) => {
    const expected = golden(c);
    const expectedByTag = new Map(Object.entries(expected.outputs).map(([tag, hex]) => [tag, describeEvents(Buffer.from(hex, 'hex')).sort()]));
    const total = [...expectedByTag.values()].reduce((sum, events) => sum + events.length, 0);
    const registry = defaultRegistry();
    registry.register(injectInput(caseEvents(c), c.input.length) as never);
    const running = await launchAgent(argvOf(c), { registry });
    t.after(() => running.stop());
    await running.waitFor(() => running.events().length >= total, `${total} records`);
    const byTag = new Map<string, string[]>();
    for (const chunk of running.chunks) byTag.set(chunk.tag, [...(byTag.get(chunk.tag) ?? []), ...describeEvents(chunk.data)]);
    for (const events of byTag.values()) events.sort();
    assert.deepEqual(Object.fromEntries(byTag), Object.fromEntries(expectedByTag), expected.command);
    assert.ok(!running.lines.some((line) => line.includes('[ warn]') || line.includes('[error]')), running.logs());
  });
}

test('rewrite_tag: NEW_TAG templates are read as Fluent Bit reads them', () => {
  const kinds = (template: string) => {
    const parts = parseTagTemplate(template);
    if (!Array.isArray(parts)) return parts;
    return parts.map((part) => (part.kind === 'text' ? `'${part.text}'` : part.kind === 'key' ? `key:${part.accessor.text}` : part.kind === 'capture' ? `$${part.id}` : part.kind === 'tagPart' ? `tag[${part.index}]` : 'tag'));
  };
  assert.deepEqual(kinds('new.$TAG'), ["'new.'", 'tag']);
  assert.deepEqual(kinds('$TAG[1].x.$1'), ['tag[1]', "'.x.'", '$1']);
  assert.deepEqual(kinds("k8s.$kubernetes['labels']['app'].x"), ["'k8s.'", "key:$kubernetes['labels']['app']", "'.x'"]);
  assert.deepEqual(kinds("$a['b.c'].d"), ["key:$a['b.c']", "'.d'"]);
  assert.deepEqual(kinds('plain'), ["'plain'"]);
  assert.deepEqual(kinds('$0-$2'), ['$0', "'-'", '$2']);
  assert.deepEqual(kinds("$a['b"), { badKey: "$a['b" });
});

test('rewrite_tag: KEEP, first matching rule wins, and the emitter gets one batch per new tag', () => {
  const emitter = recordingEmitter();
  const filter = makeFilter(rewriteTag, ['Rule $a ^x(\\d)$ one.$1 false', 'Rule $a ^x ignored true', 'Rule $b ^y$ two.$TAG true'], { createEmitter: emitter.createEmitter });
  assert.deepEqual(emitter.options, [{ name: 'emitter_for_rewrite_tag.0', memBufLimitBytes: 10_000_000, storageType: 'memory' }]);
  const out = filter.filter.filter(eventsOf(['{"a":"x1"}', '{"b":"y"}', '{"a":"x2"}', '{"a":"x1","b":"y"}', '{"c":1}']), 5, 'in');
  assert.deepEqual(describeEvents(out.events).map((line) => line.split(' ')[2]), describeEvents(eventsOf(['{"b":"y"}', '{"c":1}'])).map((line) => line.split(' ')[2]));
  assert.equal(out.records, 2);
  assert.deepEqual(emitter.emitted.map((batch) => [batch.tag, batch.records]), [['one.1', 2], ['two.in', 1], ['one.2', 1]]);
  // Emitted records keep their timestamps and bytes.
  const sent = describeEvents(eventsOf(['{"a":"x1"}', '{"b":"y"}', '{"a":"x2"}', '{"a":"x1","b":"y"}']));
  assert.deepEqual(describeEvents(emitter.emitted[0]?.events ?? Buffer.alloc(0)), [sent[0], sent[3]]);
  assert.equal(filter.metrics.get('fluentbit_filter_drop_records_total', 'rewrite_tag.0'), 3);
});

test('rewrite_tag: while the emitter is paused, matching records keep their tag and one warning says so', () => {
  const emitter = recordingEmitter(false);
  const filter = makeFilter(rewriteTag, ['Rule $a ^x$ new false', 'Emitter_Name my_emitter', 'Emitter_Mem_Buf_Limit 1M', 'Emitter_Storage.type filesystem'], { createEmitter: emitter.createEmitter });
  assert.deepEqual(emitter.options, [{ name: 'my_emitter', memBufLimitBytes: 1_000_000, storageType: 'filesystem' }]);
  const input = eventsOf(['{"a":"x"}', '{"a":"x"}']);
  const out = filter.filter.filter(input, 2, 't');
  filter.filter.filter(input, 2, 't');
  assert.equal(out.events, input);
  assert.equal(emitter.emitted.length, 0);
  assert.equal(filter.logs.filter((line) => line.includes('is paused')).length, 1, filter.logs.join(''));
});

test('rewrite_tag: a key holding an array, an empty tag or one over 1024 bytes: the record keeps its tag', () => {
  const emitter = recordingEmitter();
  const filter = makeFilter(rewriteTag, ['Rule $a ^x$ t.$list false', 'Rule $a ^$ $a false', 'Rule $a ^y+$ $a false'], { createEmitter: emitter.createEmitter });
  const input = eventsOf(['{"a":"x","list":[1]}', '{"a":""}', `{"a":"${'y'.repeat(1025)}"}`, `{"a":"${'y'.repeat(1024)}"}`]);
  const out = filter.filter.filter(input, 4, 't');
  assert.equal(out.records, 3);
  assert.deepEqual(emitter.emitted.map((batch) => batch.tag.length), [1024]);
  for (const why of ['holds an array', 'the new tag is empty', 'longer than 1024 bytes']) {
    assert.ok(filter.logs.some((line) => line.includes(why)), filter.logs.join(''));
  }
});

test('rewrite_tag: configuration errors name the problem', () => {
  const emitter = recordingEmitter();
  const cases: Array<[string[], RegExp]> = [
    [['Rule $a ^x$ new'], /'rule': expected \$KEY REGEX NEW_TAG KEEP/],
    [['Rule $a ^x$ new false extra'], /'rule': expected \$KEY REGEX NEW_TAG KEEP/],
    [['Rule a ^x$ new false'], /a KEY such as \$log .*not 'a'/],
    [['Rule $a \\Gx new false'], /the escape \\G .* is not supported/],
    [["Rule $a ^x$ t.$k['x false"], /whose keys are record accessors; '\$k\['x' is not one/],
    [['Rule $a ^x$ new maybe'], /KEEP as true or false, not 'maybe'/],
    [['Rule $a ^x$ new false', 'Emitter_Storage.type disk'], /memory, filesystem/],
    [['Rules $a ^x$ new false'], /unknown configuration property 'rules' \(did you mean 'rule'\?\)/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => makeFilter(rewriteTag, config, { createEmitter: emitter.createEmitter }), (error: unknown) => error instanceof ConfigError && message.test(error.message), config.join(' | '));
  }
  assert.throws(() => makeFilter(rewriteTag, ['Rule $a ^x$ new false']), /runs only as a \[FILTER\], not as a processor/);
});

test('rewrite_tag in a pipeline: an emitter name already taken, or filesystem storage without storage.path, is refused', async () => {
  await assert.rejects(
    launchAgent(['-i', 'dummy', '-F', 'rewrite_tag', '-m', '*', '-p', 'rule=$a ^x$ new false', '-p', 'emitter_name=dummy.0', '-o', 'null', '-m', '*']),
    /emitter_name 'dummy.0' already exists/,
  );
  await assert.rejects(
    launchAgent(['-i', 'dummy', '-F', 'rewrite_tag', '-m', '*', '-p', 'rule=$a ^x$ new false', '-p', 'emitter_storage.type=filesystem', '-o', 'null', '-m', '*']),
    /emitter_storage.type filesystem needs a filesystem path/,
  );
});

test('rewrite_tag in a pipeline: two filters that re-tag each other stop after a bounded depth, and nothing is lost', async (t) => {
  const registry = defaultRegistry();
  registry.register(injectInput(eventsOf(['{"a":"x"}']), 1) as never);
  const running = await launchAgent(
    ['-i', 'inject', '-t', 'ping', '-F', 'rewrite_tag', '-m', 'ping', '-p', 'rule=$a ^x$ pong false', '-F', 'rewrite_tag', '-m', 'pong', '-p', 'rule=$a ^x$ ping false', '-o', 'capture', '-m', '*', '-f', '0.05'],
    { registry },
  );
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length >= 1, 'the record');
  await running.waitForLog('nested too deep');
  assert.equal(running.events().length, 1);
  assert.ok(['ping', 'pong'].includes(running.chunks[0]?.tag ?? ''), running.chunks[0]?.tag);
  // Each hop went through the other filter's emitter: the inputs counted every one.
  assert.equal(running.agent.metrics.get('fluentbit_input_records_total', 'emitter_for_rewrite_tag.0') + running.agent.metrics.get('fluentbit_input_records_total', 'emitter_for_rewrite_tag.1'), 8);
});

test('rewrite_tag in a pipeline: emitter_storage.type filesystem keeps re-tagged records in storage.path', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-rewrite-tag-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const registry = defaultRegistry();
  registry.register(injectInput(eventsOf(['{"a":"x"}', '{"a":"y"}']), 2) as never);
  const running = await launchAgent(
    ['-i', 'inject', '-t', 'in', '-F', 'rewrite_tag', '-m', 'in', '-p', 'rule=$a ^x$ out false', '-p', 'emitter_storage.type=filesystem', '-o', 'capture', '-m', '*', '-f', '0.05'],
    { registry, service: { 'storage.path': dir } },
  );
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length >= 2, 'two records');
  assert.deepEqual(running.chunks.map((chunk) => [chunk.tag, chunk.inputInstance]).sort(), [['in', 'inject.0'], ['out', 'emitter_for_rewrite_tag.0']]);
});

test('rewrite_tag in a pipeline: once the emitter reaches Emitter_Mem_Buf_Limit, matching records keep their tag and nothing is lost', async (t) => {
  const registry = defaultRegistry();
  const bodies = Array.from({ length: 20 }, (_, i) => `{"a":"x","pad":"${'p'.repeat(40)}","n":${i}}`);
  registry.register(injectInput(eventsOf(bodies), 20, 2) as never);
  const running = await launchAgent(
    ['-i', 'inject', '-t', 'in', '-F', 'rewrite_tag', '-m', 'in', '-p', 'rule=$a ^x$ out false', '-p', 'emitter_mem_buf_limit=1K', '-o', 'capture', '-m', '*', '-f', '30'],
    { registry },
  );
  t.after(() => running.stop());
  // The first emit fills the emitter past 1,000 bytes and pauses it; the second finds it paused.
  await running.waitForLog('is paused (emitter_mem_buf_limit reached)');
  assert.equal(running.agent.metrics.get('fluentbit_input_records_total', 'emitter_for_rewrite_tag.0'), 20);
  assert.equal(running.countLines(/\[input\] emitter_for_rewrite_tag.0 paused/), 1, running.logs());
  await running.stop();
  const tags = running.chunks.flatMap((chunk) => Array.from({ length: chunk.records }, () => chunk.tag));
  assert.deepEqual([tags.filter((tag) => tag === 'out').length, tags.filter((tag) => tag === 'in').length], [20, 20]);
});
