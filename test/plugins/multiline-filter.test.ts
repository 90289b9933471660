import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { repoRoot } from '../helpers/paths.js';
import { readJsonLinesGolden, seen } from '../helpers/golden.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'multiline');

test('golden: tail multiline.parser cri, then the multiline filter with java and python on log (the container-log recipe)', async (t) => {
  const expected = readJsonLinesGolden(path.join(fixtures, 'filter-cri-java-python.fluent-bit.out'));
  const running = await startAgent([
    '-i', 'tail', '-t', 'kube.test', '-p', `path=${path.join(fixtures, 'cri.txt')}`, '-p', 'read_from_head=on', '-p', 'multiline.parser=cri',
    '-F', 'multiline', '-m', '*', '-p', 'multiline.key_content=log', '-p', 'multiline.parser=java, python',
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length >= expected.length, `${expected.length} records`);
  await running.stop();
  const records = seen(running);
  assert.deepEqual(records.map((r) => r.body.toString('utf8')), expected.map((e) => e.body.toString('utf8')));
  assert.deepEqual(records.map((r) => r.body.toString('hex')), expected.map((e) => e.body.toString('hex')));
  assert.deepEqual(records.map((r) => Math.round((r.sec + r.nsec / 1e9) * 1e6)), expected.map((e) => Math.round(e.date * 1e6)));
  assert.ok(records.every((r) => r.tag === 'kube.test'));
});

test('golden: mode partial_message joins the pieces a log driver split, by partial_id', async (t) => {
  const expected = readJsonLinesGolden(path.join(fixtures, 'filter-partial.fluent-bit.out'));
  const running = await startAgent([
    '-R', path.join(fixtures, 'parsers-json.conf'),
    '-i', 'tail', '-p', `path=${path.join(fixtures, 'partial.txt')}`, '-p', 'read_from_head=on', '-p', 'parser=json',
    '-F', 'multiline', '-m', '*', '-p', 'mode=partial_message', '-p', 'multiline.key_content=log',
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await running.waitFor(() => running.events().length >= expected.length, `${expected.length} records`);
  assert.deepEqual(seen(running).map((r) => r.body.toString('utf8')), expected.map((e) => e.body.toString('utf8')));
});

async function send(port: number, lines: readonly string[], together = false): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  if (together) socket.write(lines.map((line) => `${line}\n`).join(''));
  for (const line of together ? [] : lines) {
    socket.write(`${line}\n`);
    // Records that arrive one at a time, each in its own emit.
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}

const trace = [
  '{"log":"Traceback (most recent call last):","n":1}',
  '{"log":"  File \\"/app/x.py\\", line 1, in <module>","n":2}',
  '{"log":"    boom()","n":3}',
];

async function tcpAgent(t: { after(fn: () => unknown): void }, filterProps: string[]): Promise<InProcessAgent> {
  const running = await startAgent(['-i', 'tcp', '-p', 'port=0', '-p', 'listen=127.0.0.1', '-F', 'multiline', '-m', '*', ...filterProps.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  return running;
}

test('buffer on: records arriving one at a time are joined; an open group leaves after flush_ms, the rest at shutdown', async (t) => {
  const running = await tcpAgent(t, ['multiline.key_content=log', 'multiline.parser=python', 'flush_ms=500']);
  await send(running.tcpPort(), trace);
  await running.waitFor(() => running.events().length === 1, 'the group after flush_ms', 15_000);
  const joined = 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>\n    boom()';
  // The first record's other keys stay; key_content holds the joined lines.
  assert.deepEqual(running.events()[0]?.body, { log: joined, n: 1 });
  await send(running.tcpPort(), [...trace, '{"log":"ValueError: bad","n":4}', '{"log":"plain line","n":5}', trace[0] as string]);
  await running.waitFor(() => running.events().length === 3, 'the complete trace and the plain line');
  assert.deepEqual(running.events().slice(1).map((e) => e.body), [{ log: `${joined}\nValueError: bad`, n: 1 }, { log: 'plain line', n: 5 }]);
  await running.stop();
  // The trace that had only begun is emitted at shutdown, not lost.
  assert.deepEqual(running.events().slice(3).map((e) => e.body), [{ log: 'Traceback (most recent call last):', n: 1 }]);
  assert.equal(running.agent.metrics.get('fluentbit_filter_records_total', 'multiline.0'), 9);
});

test('buffer off: lines are joined only within one emit', async (t) => {
  const running = await tcpAgent(t, ['multiline.key_content=log', 'multiline.parser=python', 'buffer=off']);
  await send(running.tcpPort(), trace);
  await running.waitFor(() => running.events().length === 3, 'three records');
  assert.deepEqual(running.events().map((e) => (e.body as { log: string }).log), trace.map((line) => (JSON.parse(line) as { log: string }).log));
  // The same lines in one write arrive in one emit, and are joined there.
  await send(running.tcpPort(), trace, true);
  await running.waitFor(() => running.events().length === 4, 'the joined record');
  assert.deepEqual(running.events()[3]?.body, { log: 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>\n    boom()', n: 1 });
});

test('bad keys: no parser in mode parser, partial_message without key_content, flush_ms too low, unknown parser', async () => {
  const base = ['-i', 'dummy', '-o', 'null', '-m', '*', '-F', 'multiline', '-m', '*'];
  await assert.rejects(startAgent([...base, '-p', 'multiline.key_content=log']), /mode parser requires at least one multiline.parser/);
  await assert.rejects(startAgent([...base, '-p', 'mode=partial_message']), /mode partial_message requires multiline.key_content/);
  await assert.rejects(startAgent([...base, '-p', 'multiline.parser=java', '-p', 'flush_ms=100']), /flush_ms 100 is too low: at least 500/);
  await assert.rejects(startAgent([...base, '-p', 'multiline.parser=jav']), /multiline parser 'jav' is not registered/);
  await assert.rejects(startAgent([...base, '-p', 'multiline.parser=java', '-p', 'mode=lines']), (error: Error & { code?: string }) => {
    assert.match(error.message, /parser, partial_message/);
    return true;
  });
});
