/**
 * tail's Docker_Mode (with Parser, and with Docker_Mode_Parser) against Fluent Bit 5.1.1's records
 * for the same files (test/fixtures/fluent-bit/tail-docker-mode/make.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mapEntries, readStr } from '../../src/codec/msgpack-map.js';
import { logValue } from '../../src/plugins/inputs/tail/docker-mode.js';
import { asFluentBitJsonLine, readFluentBitJsonLines, seen } from '../helpers/golden.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';

const fixtures = path.join(fluentBitFixtures, 'tail-docker-mode');

function tailArgs(tag: string, file: string, extra: string[]): string[] {
  return ['-i', 'tail', '-t', tag, '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'docker_mode=on', '-p', 'docker_mode_flush=2', ...extra];
}

test("Docker_Mode joins split lines as Fluent Bit does: kept whole, parsed, and with Docker_Mode_Parser", async (t) => {
  const dir = tempDir('wsbit-docker-mode-');
  for (const file of ['split.log', 'stack.log', 'parsers.conf']) fs.copyFileSync(path.join(fixtures, file), path.join(dir, file));
  const expected = readFluentBitJsonLines(path.join(fixtures, 'expected.txt'));
  const running = await startAgent([
    '-R', path.join(dir, 'parsers.conf'),
    ...tailArgs('raw', path.join(dir, 'split.log'), []),
    ...tailArgs('parsed', path.join(dir, 'split.log'), ['-p', 'parser=docker']),
    ...tailArgs('stack', path.join(dir, 'stack.log'), ['-p', 'parser=docker', '-p', 'docker_mode_parser=dated']),
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  // The unfinished last line of split.log, and stack.log's last message, go out Docker_Mode_Flush after their last piece.
  await running.waitFor(() => seen(running).length >= expected.length, `${expected.length} records`);
  await running.stop();
  const records = seen(running);
  // A line kept whole carries the time it was read; make.sh leaves that out.
  const keys = (body: Buffer) => (mapEntries(body) ?? []).map((entry) => readStr(entry.keyBuf, entry.keyStart));
  const ours = records.map((record) => asFluentBitJsonLine(record.sec, record.nsec, record.body, keys(record.body).length === 1));
  assert.deepEqual([...ours].sort(), [...expected].sort());
  for (const tag of ['raw', 'parsed', 'stack']) {
    const ofTag = records.filter((record) => record.tag === tag).map((record) => ours[records.indexOf(record)]);
    // Each input's records come in Fluent Bit's order (the inputs interleave differently).
    let at = 0;
    for (const line of ofTag) {
      at = expected.indexOf(line as string, at) + 1;
      assert.ok(at > 0, `order of ${tag}: ${line}`);
    }
  }
});

test('the log value of a Docker JSON line is found at the top level only, escapes and all', () => {
  const value = (text: string): string | null => {
    const bytes = Buffer.from(text);
    const range = logValue(bytes);
    return range === null ? null : bytes.subarray(range.start, range.end).toString();
  };
  assert.equal(value('{"log":"a\\"b\\n","stream":"stdout"}'), 'a\\"b\\n');
  assert.equal(value(' { "stream" : "x", "attrs":{"log":"inner"}, "log" : "outer" }'), 'outer');
  assert.equal(value('{"attrs":{"log":"inner"}}'), null);
  assert.equal(value('{"log":12}'), null);
  assert.equal(value('not json'), null);
  assert.equal(value('{"log":"unterminated'), null);
});

test('Docker_Mode is checked at start: not with Multiline On, its parser must exist, multiline.parser makes it moot', async () => {
  const log = path.join(tempDir('wsbit-docker-mode-'), 'a.log');
  fs.writeFileSync(log, '');
  const parsers = path.join(fixtures, 'parsers.conf');
  const both = spawnAgent(['-R', parsers, '-i', 'tail', '-p', `path=${log}`, '-p', 'docker_mode=on', '-p', 'multiline=on', '-p', 'parser_firstline=dated', '-o', 'null', '-D']);
  assert.equal(await both.waitForExit(), 1);
  assert.match(both.stderr(), /tail\.0: docker_mode cannot be on when multiline is on/);
  const unknown = spawnAgent(['-i', 'tail', '-p', `path=${log}`, '-p', 'docker_mode=on', '-p', 'docker_mode_parser=nope', '-o', 'null', '-D']);
  assert.equal(await unknown.waitForExit(), 1);
  assert.match(unknown.stderr(), /nope/);
  const moot = spawnAgent(['-i', 'tail', '-p', `path=${log}`, '-p', 'docker_mode=on', '-p', 'multiline.parser=docker', '-o', 'null', '-D']);
  assert.equal(await moot.waitForExit(), 0, moot.stderr());
  assert.match(moot.stderr(), /'docker_mode on' is ignored: multiline\.parser is set/);
});
