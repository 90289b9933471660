import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { confDir } from '../helpers/paths.js';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp.js';

test('grep end to end: -F grep -p "regex=level ^err" keeps only the error records and counts the drops', async (t) => {
  const running = await startAgent([
    '-i', 'dummy', '-p', 'dummy={"level":"error","n":1}', '-p', 'rate=50',
    '-i', 'dummy', '-p', 'dummy={"level":"info","n":2}', '-p', 'rate=50',
    '-F', 'grep', '-m', '*', '-p', 'regex=level ^err',
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await waitFor(() => running.events().length >= 3 && running.agent.metrics.get('fluentbit_filter_drop_records_total', 'grep.0') >= 3, 'kept and dropped records');
  assert.ok(running.events().every((event) => (event.body as { level: string }).level === 'error'));
  const seen = running.agent.metrics.get('fluentbit_filter_records_total', 'grep.0');
  assert.ok(seen >= running.agent.metrics.get('fluentbit_filter_drop_records_total', 'grep.0') + 3);
  assert.ok(!running.lines.some((line) => line.includes('[ warn]') || line.includes('[error]')), running.lines.join(''));
});

test('modify end to end: rules change the record, a 64-bit integer and a 3.0 float pass byte-exact', async (t) => {
  const running = await startAgent([
    '-i', 'dummy', '-p', 'dummy={"big":18446744073709551615,"f":3.0,"message":"hi","tmp":1}', '-p', 'rate=50',
    '-F', 'modify', '-m', '*', '-p', 'rename=message msg', '-p', 'set=env prod', '-p', 'remove=tmp',
    '-o', 'capture', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await waitFor(() => running.events().length >= 2, 'two records');
  assert.deepEqual(running.events()[0]?.body, { big: 18446744073709551615n, f: 3, msg: 'hi', env: 'prod' });
  const raw = Buffer.concat(running.chunks.map((chunk) => chunk.data));
  const body = Buffer.concat([
    Buffer.from([0x84]),
    Buffer.from('a3626967cfffffffffffffffff', 'hex'), // "big": uint64 max
    Buffer.from('a166cb4008000000000000', 'hex'), // "f": float64 3.0
    Buffer.from('a36d7367a26869', 'hex'), // "msg": "hi"
    Buffer.from('a3656e76a470726f64', 'hex'), // "env": "prod"
  ]);
  assert.ok(raw.includes(body), raw.toString('hex'));
});

test('record_modifier end to end: a [FILTER] section in a config file run by bin/wsbit', async () => {
  const dir = tempDir('wsbit-filters-');
  const file = path.join(dir, 'record-modifier.conf');
  writeFileSync(
    file,
    [
      '[SERVICE]',
      '    Flush        0.1',
      '[INPUT]',
      '    Name         dummy',
      '    Tag          app',
      '    Dummy        {"user":"ann","Password":"secret","n":18446744073709551615,"f":3.0}',
      '    Rate         20',
      '[FILTER]',
      '    Name         record_modifier',
      '    Match        app',
      '    Remove_key   password',
      '    Record       host web-1',
      '    Record       note "two words"',
      '    Uuid_key     id',
      '[OUTPUT]',
      '    Name         stdout',
      '    Match        app',
      '    Format       json_lines',
      '',
    ].join('\n'),
  );
  const agent = spawnAgent(['-c', file]);
  try {
    await agent.waitForOutput(/"id":"[0-9a-f-]{36}"\}\n/, 'a record with a uuid');
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  const line = agent.stdout().split('\n')[0] ?? '';
  assert.match(line, /^\{"date":\d+\.\d+,"user":"ann","n":18446744073709551615,"f":3\.0,"host":"web-1","note":"two words","id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$/);
  assert.doesNotMatch(agent.stderr(), /\[(error|warn)\]/);
});

test('record_modifier: a Record of unquoted words is refused at start-up, naming the file, line and key', async () => {
  // Fluent Bit splits Record into at most three words (slist_2) and refuses a rule that is not two.
  const dir = tempDir('wsbit-filters-');
  const file = path.join(dir, 'record-words.conf');
  writeFileSync(file, ['[INPUT]', '    Name dummy', '[FILTER]', '    Name record_modifier', '    Match *', '    Record ok "two words"', '    Record plain a b c', '[OUTPUT]', '    Name stdout', '    Match *', ''].join('\n'));
  const agent = spawnAgent(['-c', file, '-D']);
  assert.equal(await agent.waitForExit(), 1);
  assert.match(agent.stderr(), new RegExp(`error in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7: record_modifier\\.0: invalid value 'plain a b c' for 'record': expected KEY VALUE`));
});

test('conf/dummy-filter-to-stdout.conf prints the three error records, reshaped', async () => {
  const agent = spawnAgent(['-c', path.join(confDir, 'dummy-filter-to-stdout.conf')]);
  try {
    await agent.waitForOutput(/(\{"date":[^\n]*\n){3}/, 'three JSON lines');
    // The info input's three samples are due by now too; give a late one a moment to show up.
    await new Promise((resolve) => setTimeout(resolve, 700));
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  const lines = agent.stdout().trim().split('\n');
  assert.equal(lines.length, 3, agent.stdout());
  for (const line of lines) {
    assert.match(line, /^\{"date":\d+\.\d+,"level":"error","msg":"payment declined","order_id":18446744073709551615,"amount":3\.0,"service":"checkout"\}$/);
  }
  assert.doesNotMatch(agent.stderr(), /\[(error|warn)\]/);
});
