import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { readEvents } from '../../src/codec/event.js';
import { readJsonLinesGolden, type GoldenRecord } from '../helpers/golden.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'filters', 'parser');

const golden = (variant: string): GoldenRecord[] => readJsonLinesGolden(path.join(fixtures, `${variant}.fluent-bit.out`));

async function runVariant(t: { after(fn: () => unknown): void }, preserve: string, reserve: string, extra: string[] = []): Promise<InProcessAgent> {
  const running = await startAgent([
    '-R', path.join(fixtures, 'parsers.conf'),
    '-i', 'tail', '-t', 'app', '-p', `path=${path.join(fixtures, 'input.txt')}`, '-p', 'parser=json_lines', '-p', 'read_from_head=on',
    '-F', 'parser', '-m', '*', '-p', 'key_name=log', '-p', 'parser=inner_json', '-p', 'parser=inner_logfmt', '-p', 'parser=inner_regex',
    '-p', `preserve_key=${preserve}`, '-p', `reserve_data=${reserve}`, ...extra,
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  return running;
}

for (const [variant, preserve, reserve] of [['plain', 'off', 'off'], ['preserve', 'on', 'off'], ['reserve', 'off', 'on'], ['both', 'on', 'on']] as const) {
  test(`golden: Preserve_Key ${preserve}, Reserve_Data ${reserve} gives Fluent Bit's records byte for byte (${variant})`, async (t) => {
    const expected = golden(variant);
    const running = await runVariant(t, preserve, reserve);
    await running.waitFor(() => running.events().length === expected.length, `${expected.length} records`);
    const chunks = running.chunks.map((chunk) => chunk.data);
    const bodies = chunks.flatMap((data) => readEvents(data).map((event) => ({ body: Buffer.from(data.subarray(event.bodyStart, event.bodyEnd)), sec: event.sec, nsec: event.nsec })));
    assert.deepEqual(bodies.map((b) => b.body.toString('hex')), expected.map((e) => e.body.toString('hex')));
    // The third line's time comes from inner_regex (2026-11-22T10:00:01.250Z), as in Fluent Bit.
    const third = bodies[2];
    assert.equal(third?.sec, Math.floor(expected[2]?.date ?? 0));
    assert.equal(third?.nsec, 250_000_000);
    assert.equal(running.agent.metrics.get('fluentbit_filter_records_total', 'parser.0'), expected.length);
  });
}

test('a record accessor Key_Name reaches a nested string; unparsed records pass unchanged', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-parser-filter-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'in.log');
  fs.writeFileSync(file, '{"k":{"inner":"a=1 b=two"},"x":1}\n{"k":{"inner":7}}\n');
  const running = await startAgent([
    '-R', path.join(fixtures, 'parsers.conf'),
    '-i', 'tail', '-p', `path=${file}`, '-p', 'parser=json_lines', '-p', 'read_from_head=on',
    '-F', 'parser', '-m', '*', '-p', "key_name=$k['inner']", '-p', 'parser=inner_logfmt', '-p', 'reserve_data=on',
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length === 2, 'two records');
  assert.deepEqual(running.events().map((e) => e.body), [{ a: '1', b: 'two', k: { inner: 'a=1 b=two' }, x: 1 }, { k: { inner: 7 } }]);
});

test('bad keys: an unknown parser, a missing key_name or parser, and an unknown key are errors naming them', async () => {
  const base = ['-R', path.join(fixtures, 'parsers.conf'), '-i', 'dummy', '-o', 'null', '-m', '*'];
  await assert.rejects(startAgent([...base, '-F', 'parser', '-m', '*', '-p', 'key_name=log', '-p', 'parser=nope']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_UNKNOWN_PARSER');
    assert.match(error.message, /parser 'nope' is not registered \(known parsers: .*inner_json/);
    return true;
  });
  await assert.rejects(startAgent([...base, '-F', 'parser', '-m', '*', '-p', 'parser=inner_json']), /missing 'key_name'/);
  await assert.rejects(startAgent([...base, '-F', 'parser', '-m', '*', '-p', 'key_name=log']), /no 'parser' given/);
  await assert.rejects(startAgent([...base, '-F', 'parser', '-m', '*', '-p', 'key_name=log', '-p', 'parser=inner_json', '-p', 'reserve=on']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_UNKNOWN_KEY');
    assert.match(error.message, /reserve/);
    assert.match(error.message, /reserve_data/);
    return true;
  });
  await assert.rejects(startAgent([...base, '-F', 'parser', '-m', '*', '-p', "key_name=$k['x", '-p', 'parser=inner_json']), /invalid record accessor pattern/);
});
