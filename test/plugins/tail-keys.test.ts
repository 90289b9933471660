/**
 * tail's path_key and offset_key against Fluent Bit 5.1.1 (test/fixtures/fluent-bit/tail-keys, make.sh
 * there has the commands): relative patterns keep their spelling, offset_key works with
 * multiline.parser, and a parser's keys come before path_key and offset_key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { repoRoot } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'fluent-bit', 'tail-keys');

/** The records of a json_lines text without their `date`, sorted: files are read in no fixed order. */
function records(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => line.replace(/^\{"date":[0-9.]+,/, '{'))
    .sort();
}

const variants: Array<[string, string[]]> = [
  ['multiline', ['-p', 'path=./logs/java*.log', '-p', 'multiline.parser=java']],
  ['parser', ['-p', 'path=logs/json.log', '-p', 'parser=json']],
  ['plain', ['-p', 'path=logs/../logs/j*n.log']],
];

for (const [name, args] of variants) {
  test(`tail path_key and offset_key give Fluent Bit's records (${name})`, async (t) => {
    const expected = records(fs.readFileSync(path.join(fixtures, `${name}.fluent-bit.out`), 'utf8'));
    const agent = spawnAgent(
      ['-q', '-R', 'parsers.conf', '-i', 'tail', '-p', 'read_from_head=on', '-p', 'path_key=file', '-p', 'offset_key=offset', ...args, '-o', 'stdout', '-p', 'format=json_lines', '-f', '0.2'],
      { cwd: fixtures },
    );
    t.after(() => agent.stop());
    // The multiline case waits for java's flush timeout to emit the group open at the end of java-last.log.
    await waitFor(() => records(agent.stdout()).length >= expected.length, `${expected.length} records\n${agent.stdout()}\n${agent.stderr()}`, 30_000);
    assert.deepEqual(records(agent.stdout()), expected);
  });
}
