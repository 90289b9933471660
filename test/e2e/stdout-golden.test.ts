import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fluentBitFixtures } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The golden files are what Fluent Bit 5.1.1's stdout output printed for the edge-case record fed
 * through its dummy input with a fixed timestamp. The same command line must print the same bytes.
 */
const record = readFileSync(path.join(fluentBitFixtures, 'input-record.json'), 'utf8').trim();

const cases: Array<{ file: string; records: number; props: string[]; nsec?: number }> = [
  { file: 'json_lines.date_double.txt', records: 2, props: ['format=json_lines'] },
  { file: 'json_lines.date_epoch.txt', records: 2, props: ['format=json_lines', 'json_date_format=epoch'] },
  { file: 'json_lines.date_epoch_ms.txt', records: 2, props: ['format=json_lines', 'json_date_format=epoch_ms'] },
  { file: 'json_lines.date_iso8601.txt', records: 2, props: ['format=json_lines', 'json_date_format=iso8601'] },
  { file: 'json_lines.date_java_sql_timestamp.txt', records: 2, props: ['format=json_lines', 'json_date_format=java_sql_timestamp'] },
  { file: 'json_lines.date_key_ts.txt', records: 1, props: ['format=json_lines', 'json_date_key=ts'] },
  { file: 'json_lines.date_double_whole_second.txt', records: 1, props: ['format=json_lines'], nsec: 0 },
  { file: 'json.date_double.txt', records: 2, props: ['format=json'] },
  { file: 'json_stream.date_double.txt', records: 2, props: ['format=json_stream'] },
];

for (const { file, records, props, nsec } of cases) {
  test(`wsbit -i dummy -o stdout prints ${file} byte for byte`, async () => {
    const expected = readFileSync(path.join(fluentBitFixtures, file), 'utf8');
    const agent = spawnAgent([
      '-i', 'dummy', '-p', `dummy=${record}`, '-p', 'rate=4', '-p', `samples=${records}`,
      '-p', 'start_time_sec=1700000000', '-p', `start_time_nsec=${nsec ?? 123456789}`, '-p', 'fixed_timestamp=on',
      '-o', 'stdout', '-m', '*', ...props.flatMap((p) => ['-p', p]), '-f', '0.05',
    ]);
    await waitFor(() => agent.stdout().length >= expected.length, `${expected.length} bytes on stdout`);
    assert.equal(await agent.stop(), 0);
    assert.equal(agent.stdout(), expected);
  });
}

test('json_date_key false leaves the date out (Fluent Bit would print a key named "false")', async () => {
  const agent = spawnAgent(['-i', 'dummy', '-p', 'dummy={"a":1}', '-p', 'samples=1', '-p', 'rate=10', '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_key=false', '-f', '0.05']);
  await agent.waitForOutput('{"a":1}');
  assert.equal(await agent.stop(), 0);
  assert.equal(agent.stdout(), '{"a":1}\n');
});

test('json.escape_unicode off in [SERVICE] writes UTF-8 as is', async () => {
  const { writeFileSync } = await import('node:fs');
  const dir = tempDir('wsbit-esc-');
  const conf = path.join(dir, 'a.conf');
  writeFileSync(conf, '[SERVICE]\n    Flush 0.05\n    json.escape_unicode off\n[INPUT]\n    Name dummy\n    Dummy {"u":"h\\u00e9 \\u2603"}\n    Samples 1\n    Rate 10\n[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n    json_date_key off\n');
  const agent = spawnAgent(['-c', conf]);
  await agent.waitForOutput('"u"');
  assert.equal(await agent.stop(), 0);
  assert.equal(agent.stdout(), '{"u":"hé ☃"}\n');
});

test('stdin: objects stamped now, [time, record] arrays keep their time, other values are rejected', async () => {
  const agent = spawnAgent(['-i', 'stdin', '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_format=epoch', '-f', '0.05'], {
    stdin: '{"a":1}\n[1700000000, {"b":2}]\n"nope"\n[1.5]\n',
  });
  await agent.waitForOutput('"b":2');
  await agent.waitForOutput('[ warn]');
  assert.equal(await agent.stop(), 0);
  const lines = agent.stdout().trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /^\{"date":\d{10},"a":1\}$/);
  assert.equal(lines[1], '{"date":1700000000,"b":2}');
  assert.match(agent.stderr(), /invalid record found, it's not a JSON map or array/);
});
