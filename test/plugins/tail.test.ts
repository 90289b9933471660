import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { decodeEvents, type DecodedEvent } from '../../src/codec/msgpack.js';
import { composeTag, composeTagWithRegex, patternRegExp } from '../../src/plugins/inputs/tail/paths.js';
import { translateOnigmo } from '../../src/regex/onigmo.js';
import { tempDir as makeTempDir } from '../helpers/temp.js';

function tempDir(): string {
  return makeTempDir('wsbit-tail-');
}

const tailArgs = (...props: string[]): string[] => ['-i', 'tail', ...props.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05'];

async function tail(t: { after(fn: () => unknown): void }, ...props: string[]): Promise<InProcessAgent> {
  const running = await startAgent(tailArgs(...props));
  t.after(() => running.stop());
  return running;
}

type Tagged = DecodedEvent & { tag: string };

function tagged(running: InProcessAgent): Tagged[] {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => ({ ...event, tag: chunk.tag })));
}

function logs(running: InProcessAgent): string[] {
  return tagged(running).map((event) => String((event.body as Record<string, unknown>)['log']));
}

test('appends: lines written after start become records; read_from_head off skips what was there', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, 'old line\n');
  const running = await tail(t, `path=${file}`, 'path_key=file');
  fs.appendFileSync(file, 'first\r\nsecond\n\nthird without newline yet');
  await waitFor(() => tagged(running).length === 3, 'three records');
  fs.appendFileSync(file, ' ... done\n');
  await waitFor(() => tagged(running).length === 4, 'the completed line');
  // path_key comes first, as in_tail packs it; the CR of CRLF is dropped; an empty line is a record.
  assert.deepEqual(tagged(running).map((e) => e.body), [
    { file, log: 'first' },
    { file, log: 'second' },
    { file, log: '' },
    { file, log: 'third without newline yet ... done' },
  ]);
  assert.equal(tagged(running)[0]?.tag, 'tail.0');
});

test('read_from_head on reads existing lines; skip_empty_lines drops empty ones; offset_key and key', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, 'one\n\ntwo\n');
  const running = await tail(t, `path=${file}`, 'read_from_head=on', 'skip_empty_lines=on', 'key=message', 'offset_key=off');
  await waitFor(() => tagged(running).length === 2, 'two records');
  assert.deepEqual(tagged(running).map((e) => e.body), [{ off: 0, message: 'one' }, { off: 5, message: 'two' }]);
});

test('several files through a glob, exclude_path, a * tag from each path, and a new file found by refresh_interval', async (t) => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'a.log'), 'a1\n');
  fs.writeFileSync(path.join(dir, 'b.log'), 'b1\n');
  fs.writeFileSync(path.join(dir, 'c.skip.log'), 'c1\n');
  fs.writeFileSync(path.join(dir, 'd.txt'), 'd1\n');
  const running = await tail(t, `path=${dir}/*.log`, 'exclude_path=*.skip.log', 'read_from_head=on', 'refresh_interval=0.2');
  await waitFor(() => tagged(running).length === 2, 'a and b');
  fs.writeFileSync(path.join(dir, 'e.log'), 'e1\ne2\n');
  await waitFor(() => tagged(running).length === 4, 'the new file, read from its head');
  const byTag = new Map<string, string[]>();
  for (const event of tagged(running)) byTag.set(event.tag, [...(byTag.get(event.tag) ?? []), String((event.body as { log: string }).log)]);
  assert.deepEqual(Object.fromEntries(byTag), { 'tail.0': ['a1', 'b1', 'e1', 'e2'] });
  await running.stop();

  const tagged2 = await startAgent(['-i', 'tail', '-t', 'logs.*', '-p', `path=${dir}/*.log`, '-p', 'read_from_head=on', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => tagged2.stop());
  await waitFor(() => tagged(tagged2).length === 5, 'five records');
  const expected = (name: string): string => `logs${`${dir}/${name}`.replace(/\//g, '.')}`;
  assert.deepEqual([...new Set(tagged(tagged2).map((e) => e.tag))].sort(), [expected('a.log'), expected('b.log'), expected('c.skip.log'), expected('e.log')].sort());
});

test('rotation by rename: the old file is read to its end, the new one from its head; nothing lost or repeated', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, '');
  const running = await tail(t, `path=${file}`, 'rotate_wait=1', 'refresh_interval=60');
  fs.appendFileSync(file, 'before 1\nbefore 2\n');
  await waitFor(() => tagged(running).length === 2, 'lines before the rotation');
  fs.renameSync(file, `${file}.1`);
  // A writer that still holds the old file finishes its last lines there.
  fs.appendFileSync(`${file}.1`, 'late to the old file\n');
  fs.writeFileSync(file, 'after 1\n');
  fs.appendFileSync(file, 'after 2\n');
  await waitFor(() => tagged(running).length === 5, 'all five lines');
  await sleep(1500);
  fs.appendFileSync(file, 'after 3\n');
  await waitFor(() => tagged(running).length === 6, 'a line after the old file was closed');
  assert.deepEqual(logs(running).sort(), ['after 1', 'after 2', 'after 3', 'before 1', 'before 2', 'late to the old file']);
  assert.ok(running.lines.some((line) => /handle rotation\(\): .*app\.log => .*app\.log\.1/.test(line)), running.lines.join(''));
});

test('rotation by truncation (copytruncate): reading starts over at the beginning', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, '');
  const running = await tail(t, `path=${file}`);
  fs.appendFileSync(file, 'a long first line\nsecond\n');
  await waitFor(() => tagged(running).length === 2, 'two lines');
  fs.truncateSync(file, 0);
  fs.appendFileSync(file, 'x\n');
  await waitFor(() => tagged(running).length === 3, 'the line after truncation');
  assert.deepEqual(logs(running), ['a long first line', 'second', 'x']);
  assert.ok(running.lines.some((line) => /file truncated .*app\.log/.test(line)), running.lines.join(''));
});

test('db: a restart resumes where the last run stopped: no line lost, none repeated', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  const db = path.join(dir, 'offsets.json');
  fs.writeFileSync(file, 'seen before the first start\n');
  const first = await startAgent(tailArgs(`path=${file}`, `db=${db}`, 'read_from_head=on'));
  for (let i = 1; i <= 5; i++) fs.appendFileSync(file, `line ${i}\n`);
  await waitFor(() => tagged(first).length === 6, 'six records');
  fs.appendFileSync(file, 'half a li');
  await sleep(200);
  await first.stop();
  const saved = JSON.parse(fs.readFileSync(db, 'utf8')) as { files: Array<{ name: string; offset: number }> };
  assert.deepEqual(saved.files.map((entry) => [entry.name, entry.offset]), [[file, fs.statSync(file).size - 'half a li'.length]]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['app.log', 'offsets.json'], 'no temporary file left behind');

  fs.appendFileSync(file, 'ne\nline 7\n');
  // read_from_head does not matter once the db knows the file.
  const second = await startAgent(tailArgs(`path=${file}`, `db=${db}`, 'read_from_head=on'));
  t.after(() => second.stop());
  await waitFor(() => tagged(second).length === 2, 'the two new lines');
  await sleep(300);
  assert.deepEqual(logs(first), ['seen before the first start', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  assert.deepEqual(logs(second), ['half a line', 'line 7']);
});

test('db: a file that is not a wsbit offsets file is refused at start-up, not overwritten', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'flb_kube.db');
  fs.writeFileSync(db, 'SQLite format 3\0');
  await assert.rejects(startAgent(tailArgs(`path=${dir}/*.log`, `db=${db}`)), /is not a wsbit offsets file/);
  assert.equal(fs.readFileSync(db, 'utf8'), 'SQLite format 3\0');
});

test('buffer_max_size: skip_long_lines skips long lines and goes on; without it the file is given up, with an error', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'long.log');
  fs.writeFileSync(file, '');
  const skipping = await tail(t, `path=${file}`, 'buffer_chunk_size=16', 'buffer_max_size=32', 'skip_long_lines=on');
  fs.appendFileSync(file, `short\n${'L'.repeat(100)}\nafter\n${'M'.repeat(40)}`);
  fs.appendFileSync(file, `${'M'.repeat(40)}\nlast\n`);
  await waitFor(() => tagged(skipping).length === 3, 'three short lines');
  assert.deepEqual(logs(skipping), ['short', 'after', 'last']);
  assert.ok(skipping.lines.some((line) => line.includes(`file=${file} have long lines. Skipping long lines.`)));
  assert.equal(skipping.agent.metrics.get('wsbit_input_rejected_records_total', 'tail.0'), 2);
  await skipping.stop();

  const other = path.join(dir, 'other.log');
  fs.writeFileSync(other, '');
  const strict = await tail(t, `path=${other}`, 'buffer_chunk_size=16', 'buffer_max_size=32');
  fs.appendFileSync(other, `ok\n${'L'.repeat(100)}\nnever\n`);
  await waitFor(() => strict.lines.some((line) => line.includes('requires a larger buffer size, lines are too long. Skipping file.')), 'the error');
  await sleep(200);
  assert.deepEqual(logs(strict), ['ok']);
});

test('parser: lines become parsed records with their own time; a line the parser cannot read is kept whole', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'containers.log');
  fs.writeFileSync(file, '');
  const running = await startAgent(['-R', 'conf/parsers.conf', ...tailArgs(`path=${file}`, 'parser=docker', 'path_key=path')]);
  t.after(() => running.stop());
  fs.appendFileSync(file, '{"log":"hello\\n","stream":"stdout","time":"2024-01-15T10:20:30.123456789Z"}\nnot json at all\n');
  await waitFor(() => tagged(running).length === 2, 'two records');
  const [parsed, raw] = tagged(running);
  assert.deepEqual([parsed?.sec, parsed?.nsec], [1_705_314_030, 123_456_789]);
  assert.deepEqual(parsed?.body, { path: file, log: 'hello\n', stream: 'stdout', time: '2024-01-15T10:20:30.123456789Z' });
  assert.deepEqual(raw?.body, { path: file, log: 'not json at all' });
  assert.ok(Math.abs((raw?.sec ?? 0) - Date.now() / 1000) < 5);
});

test('pause stops reading files; resume reads on from where it stopped', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'app.log');
  fs.writeFileSync(file, '');
  const running = await tail(t, `path=${file}`);
  const input = running.agent.input('tail.0');
  assert.ok(input);
  fs.appendFileSync(file, 'one\n');
  await waitFor(() => tagged(running).length === 1, 'one');
  input.pause();
  fs.appendFileSync(file, 'two\nthree\n');
  await sleep(1300);
  assert.equal(tagged(running).length, 1, 'nothing read while paused');
  input.resume();
  await waitFor(() => tagged(running).length === 3, 'the rest after resume');
  assert.deepEqual(logs(running), ['one', 'two', 'three']);
});

test('configuration errors: no path, an unknown parser', async () => {
  await assert.rejects(startAgent(tailArgs()), /'path' is required/);
  await assert.rejects(startAgent(['-R', 'conf/parsers.conf', ...tailArgs('path=/tmp/x.log', 'parser=nope')]), /tail\.0: parser 'nope' is not registered \(known parsers: /);
});

test('tags and patterns as Fluent Bit composes and matches them', () => {
  assert.equal(composeTag('kube.*', '/var/log/containers/app_ns_c-123.log'), 'kube.var.log.containers.app_ns_c-123.log');
  assert.equal(composeTag('*', '/var/log/syslog'), 'var.log.syslog');
  assert.equal(composeTag('pre.*.post', '/a/b.log'), 'pre.a.b.log.post');
  assert.equal(composeTag('plain', '/a/b.log'), 'plain');
  assert.ok(patternRegExp('*.gz', true).test('/var/log/old.gz'));
  assert.ok(!patternRegExp('*.gz', true).test('/var/log/new.log'));
  assert.ok(patternRegExp('app-[0-9].log', false).test('app-7.log'));
  // Fluent Bit's docs example for Tag_Regex on Kubernetes container logs.
  const { regex, names } = translateOnigmo(
    '(?<pod_name>[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)_(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\\.log$',
  );
  const file = `/var/log/containers/apache-logs-annotated_default_apache-${'a'.repeat(64)}.log`;
  assert.equal(composeTagWithRegex('kube.<namespace_name>.<pod_name>.<container_name>.<nope>', regex, names, file), 'kube.default.apache-logs-annotated.apache._');
  assert.equal(composeTagWithRegex('x.<pod_name>', regex, names, '/var/log/other.log'), null);
});
