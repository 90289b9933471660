import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { repoRoot } from '../helpers/paths.js';
import { readJsonLinesGolden, seen } from '../helpers/golden.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'multiline');

async function tailFixture(t: { after(fn: () => unknown): void }, file: string, parsers: string, extra: string[] = []): Promise<InProcessAgent> {
  const running = await startAgent([
    ...extra,
    '-i', 'tail', '-p', `path=${path.join(fixtures, file)}`, '-p', 'read_from_head=on', '-p', `multiline.parser=${parsers}`,
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  return running;
}

const cases = [
  ['java.txt', 'java', 'tail-java'],
  ['python.txt', 'python', 'tail-python'],
  ['go.txt', 'go', 'tail-go'],
  ['ruby.txt', 'ruby', 'tail-ruby'],
  ['mixed.txt', 'java,python,go,ruby', 'tail-mixed'],
  ['cri.txt', 'cri', 'tail-cri'],
  ['docker.txt', 'docker,cri', 'tail-docker'],
] as const;

for (const [file, parsers, golden] of cases) {
  test(`golden: tail ${file} with multiline.parser ${parsers} gives Fluent Bit's records byte for byte`, async (t) => {
    const expected = readJsonLinesGolden(path.join(fixtures, `${golden}.fluent-bit.out`));
    const running = await tailFixture(t, file, parsers);
    await running.waitFor(() => running.events().length >= expected.length, `${expected.length} records`);
    await running.stop();
    const records = seen(running);
    assert.deepEqual(records.map((r) => r.body.toString('utf8')), expected.map((e) => e.body.toString('utf8')));
    assert.deepEqual(records.map((r) => r.body.toString('hex')), expected.map((e) => e.body.toString('hex')));
    if (parsers.startsWith('cri') || parsers.startsWith('docker')) {
      // Container logs keep the time of their first piece, as Fluent Bit's `date` shows.
      assert.deepEqual(records.map((r) => Math.round((r.sec + r.nsec / 1e9) * 1e6)), expected.map((e) => Math.round(e.date * 1e6)));
    }
  });
}

test('golden: a [MULTILINE_PARSER] from a parsers file (Fluent Bit\'s documentation example)', async (t) => {
  const expected = readJsonLinesGolden(path.join(fixtures, 'tail-custom.fluent-bit.out'));
  const running = await tailFixture(t, 'custom.txt', 'multiline-regex-test', ['-R', path.join(fixtures, 'parsers_multiline.conf')]);
  await running.waitFor(() => running.events().length >= expected.length, `${expected.length} records`);
  assert.deepEqual(seen(running).map((r) => r.body.toString('utf8')), expected.map((e) => e.body.toString('utf8')));
});

function tempDir(t: { after(fn: () => unknown): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-multiline-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a group still open is flushed after flush_timeout, and one open at shutdown is emitted, not lost', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'parsers.conf'), [
    '[MULTILINE_PARSER]', '    name          quick', '    type          regex', '    flush_timeout 3000',
    '    rule "start_state" "/^\\S/" "cont"', '    rule "cont" "/^\\s+at /" "cont"', '',
  ].join('\n'));
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, '');
  const db = path.join(dir, 'tail.db');
  const running = await startAgent(['-R', path.join(dir, 'parsers.conf'), '-i', 'tail', '-p', `path=${file}`, '-p', `db=${db}`, '-p', 'multiline.parser=quick', '-o', 'capture', '-m', '*', '-f', '0.05']);
  /** The db records the offset of what tail has read: the whole file once it is through. */
  const readToEnd = (): boolean => {
    try {
      return fs.readFileSync(db, 'utf8').includes(`"offset":${fs.statSync(file).size}`);
    } catch {
      return false;
    }
  };
  t.after(() => running.stop());
  fs.appendFileSync(file, 'Error: first\n  at a()\n  at b()\n');
  // Nothing comes until the group has waited flush_timeout for another line.
  await running.waitFor(() => running.events().length === 1, 'the first group, after its timeout', 15_000);
  assert.deepEqual(running.events()[0]?.body, { log: 'Error: first\n  at a()\n  at b()\n' });
  fs.appendFileSync(file, 'Error: second\n  at c()\n');
  await running.waitFor(readToEnd, 'tail to read the second group');
  // Stopped before the timeout fires: the open group must still arrive.
  assert.equal(running.events().length, 1);
  await running.stop();
  assert.deepEqual(running.events().map((e) => e.body), [{ log: 'Error: first\n  at a()\n  at b()\n' }, { log: 'Error: second\n  at c()\n' }]);
});

test('CRI P pieces at the end of a file are joined and emitted at shutdown (Fluent Bit 5.1.1 crashes here)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'pod.log');
  fs.writeFileSync(file, '2026-11-22T10:00:02.000000000Z stdout P a partial line \n2026-11-22T10:00:02.000000001Z stdout P at the end of the file\n');
  const running = await startAgent(['-i', 'tail', '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'multiline.parser=cri', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  await running.waitForLog(/following 1 file/);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await running.stop();
  assert.deepEqual(running.events().map((e) => e.body), [
    { time: '2026-11-22T10:00:02.000000000Z', stream: 'stdout', _p: 'P', log: 'a partial line at the end of the file' },
  ]);
});

test('a group over the 2 MiB buffer limit is cut, marked multiline_truncated in its metadata, and counted', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'big.log');
  const piece = 'x'.repeat(30_000);
  const lines = Array.from({ length: 80 }, () => `2026-11-22T10:00:00.000000000Z stderr P ${piece}`);
  fs.writeFileSync(file, `${lines.join('\n')}\n2026-11-22T10:00:00.000000000Z stderr F end\n`);
  const running = await startAgent(['-i', 'tail', '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'multiline.parser=cri', '-p', 'buffer_max_size=64k', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length >= 1, 'the cut record', 20_000);
  const first = seen(running)[0];
  assert.ok(first !== undefined);
  assert.ok(first.metadata.includes(Buffer.from('multiline_truncated')), first.metadata.toString('hex'));
  const log = (running.events()[0]?.body as { log: string }).log;
  assert.equal(log.length, 2 * 1024 * 1024);
  assert.ok((running.agent.metrics.get('fluentbit_input_multiline_truncated_total', 'tail.0') ?? 0) >= 1);
});

test('bad keys: an unknown multiline parser names the known ones; a bad rule regex names file and line', async (t) => {
  await assert.rejects(startAgent(['-i', 'tail', '-p', 'path=/nonexistent/*.log', '-p', 'multiline.parser=cri,javaa', '-o', 'null', '-m', '*']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WSBIT_CONFIG_UNKNOWN_PARSER');
    assert.match(error.message, /multiline parser 'javaa' is not registered \(known multiline parsers: docker, cri, java, go, ruby, python/);
    return true;
  });
  const dir = tempDir(t);
  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, ['[MULTILINE_PARSER]', '    name bad', '    type regex', '    rule "start_state" "/(?<open/" "cont"', ''].join('\n'));
  await assert.rejects(startAgent(['-R', bad, '-i', 'dummy', '-o', 'null', '-m', '*']), new RegExp(`error in ${bad.replace(/[/.]/g, '\\$&')}:1: \\[multiline_parser\\] .*rule #1 regex`));
  fs.writeFileSync(bad, ['[MULTILINE_PARSER]', '    name bad', '    type regex', '    rule "start_state" "/a/" "nowhere"', ''].join('\n'));
  await assert.rejects(startAgent(['-R', bad, '-i', 'dummy', '-o', 'null', '-m', '*']), /to_state 'nowhere' is not the from-state of any rule/);
  fs.writeFileSync(bad, ['[MULTILINE_PARSER]', '    name bad', '    type sometimes', ''].join('\n'));
  await assert.rejects(startAgent(['-R', bad, '-i', 'dummy', '-o', 'null', '-m', '*']), /invalid type 'sometimes' for 'bad': expected one of regex, endswith, equal/);
  fs.writeFileSync(bad, ['[MULTILINE_PARSER]', '    name withparser', '    type endswith', '    match_string \\', '    parser missing', ''].join('\n'));
  await assert.rejects(
    startAgent(['-R', bad, '-i', 'tail', '-p', 'path=/nonexistent/*.log', '-p', 'multiline.parser=withparser', '-o', 'null', '-m', '*']),
    /multiline parser 'withparser' points to an undefined parser 'missing'/,
  );
});
