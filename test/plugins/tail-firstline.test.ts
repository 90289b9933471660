/**
 * tail's older multiline (Multiline On, Parser_Firstline, Parser_N, Multiline_Flush) against Fluent
 * Bit 5.1.1's records for the same files and parsers (test/fixtures/fluent-bit/tail-multiline/make.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mapEntries, readStr } from '../../src/codec/msgpack-map.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { asFluentBitJsonLine, readFluentBitJsonLines, seen } from '../helpers/golden.js';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';

const fixtures = path.join(fluentBitFixtures, 'tail-multiline');

function tailArgs(tag: string, file: string, firstline: string, extra: string[] = []): string[] {
  return ['-i', 'tail', '-t', tag, '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'multiline=on', '-p', `parser_firstline=${firstline}`, '-p', 'multiline_flush=2', ...extra];
}

function keysOf(body: Buffer): Array<string | null> {
  return (mapEntries(body) ?? []).map((entry) => readStr(entry.keyBuf, entry.keyStart));
}

test("Multiline On with Parser_Firstline and Parser_1 gives Fluent Bit's records", async (t) => {
  const dir = tempDir('wsbit-firstline-');
  for (const file of ['app.log', 'code.log', 'parsers.conf']) fs.copyFileSync(path.join(fixtures, file), path.join(dir, file));
  const expected = readFluentBitJsonLines(path.join(fixtures, 'expected.txt'));
  const running = await startAgent([
    '-R', path.join(dir, 'parsers.conf'),
    ...tailArgs('app', path.join(dir, 'app.log'), 'first', ['-p', 'parser_1=frame']),
    ...tailArgs('code', path.join(dir, 'code.log'), 'first_code'),
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  // The last group of each file goes out Multiline_Flush after its first line: no later line closes it.
  await running.waitFor(() => seen(running).length >= expected.length, `${expected.length} records`);
  await running.stop();
  const records = seen(running);
  // Fluent Bit emits a joined record at once and a line of its own with the rest of the read; the
  // order between the two kinds differs, each kind's order is the file's.
  // Lines that belong to no message carry the time they were read; make.sh leaves theirs out.
  const ours = records.map((record) => asFluentBitJsonLine(record.sec, record.nsec, record.body, keysOf(record.body).includes('log')));
  assert.deepEqual([...ours].sort(), [...expected].sort());
  const joined = (list: string[]) => list.filter((line) => !line.startsWith('{"log"'));
  assert.deepEqual(joined(ours).filter((line) => line.includes('"level"')), joined(expected).filter((line) => line.includes('"level"')));
  // Fluent Bit keeps both `frame` fields of the group (its msgpack print shows them); JSON shows the last.
  const next = records.find((record) => record.body.includes(Buffer.from('next')));
  assert.ok(next !== undefined);
  assert.deepEqual(keysOf(next.body), ['level', 'message', 'frame', 'frame']);
  const frames = (mapEntries(next.body) ?? []).slice(2).map((entry) => readStr(entry.valueBuf, entry.valueStart));
  assert.deepEqual(frames, ['com.example.A.run(A.java:1)\nafter the frame', 'com.example.B.run(B.java:2)']);
});

test('Multiline On is checked at start: Parser_Firstline is required and must exist; parser or multiline.parser makes it moot', async () => {
  const log = path.join(tempDir('wsbit-firstline-'), 'a.log');
  fs.writeFileSync(log, '');
  const parsers = path.join(fixtures, 'parsers.conf');
  const missing = spawnAgent(['-i', 'tail', '-p', `path=${log}`, '-p', 'multiline=on', '-o', 'null', '-D']);
  assert.equal(await missing.waitForExit(), 1);
  assert.match(missing.stderr(), /tail\.0: multiline on needs parser_firstline/);
  const unknown = spawnAgent(['-R', parsers, '-i', 'tail', '-p', `path=${log}`, '-p', 'multiline=on', '-p', 'parser_firstline=first', '-p', 'parser_1=nope', '-o', 'null', '-D']);
  assert.equal(await unknown.waitForExit(), 1);
  assert.match(unknown.stderr(), /nope/);
  const moot = spawnAgent(['-R', parsers, '-i', 'tail', '-p', `path=${log}`, '-p', 'multiline=on', '-p', 'parser_firstline=first', '-p', 'parser=frame', '-o', 'null', '-D']);
  assert.equal(await moot.waitForExit(), 0, moot.stderr());
  assert.match(moot.stderr(), /'multiline on' is ignored: parser is set/);
});
