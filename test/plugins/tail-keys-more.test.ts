/**
 * tail keys of Fluent Bit 5.1.1 beyond the basics (tail.test.ts): read_newly_discovered_files_from_head,
 * db.compare_filename, ignore_active_older_files, progress_check_interval, truncate_long_lines,
 * generic.encoding, exit_on_eof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LogRoot } from '../../src/base/logger.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { resolveConfig } from '../../src/config/schema.js';
import { ParserRegistry } from '../../src/pipeline/parser-registry.js';
import { pluginSchema } from '../../src/pipeline/plugin-schema.js';
import { tailInputOptions, type TailInputConfig } from '../../src/plugins/inputs/tail/options.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { readFluentBitJsonLines } from '../helpers/golden.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { sleep, waitFor } from '../helpers/wait.js';

const debug = { log_level: 'debug' };

async function tail(t: { after(fn: () => unknown): void }, ...props: string[]): Promise<InProcessAgent> {
  const running = await startAgent(['-i', 'tail', ...props.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05'], undefined, debug);
  t.after(() => running.stop());
  return running;
}

function logs(running: InProcessAgent): string[] {
  return running.chunks.flatMap((chunk) => decodeEvents(chunk.data).map((event) => String((event.body as Record<string, unknown>)['log'])));
}

for (const fromHead of [true, false]) {
  test(`read_newly_discovered_files_from_head ${fromHead ? 'on (the default)' : 'off'}: a file found after start is read from its ${fromHead ? 'head' : 'end'}`, async (t) => {
    const dir = tempDir('wsbit-tail-keys-');
    const running = await tail(t, `path=${dir}/*.log`, 'refresh_interval=0.2', ...(fromHead ? [] : ['read_newly_discovered_files_from_head=off']));
    const file = path.join(dir, 'new.log');
    fs.writeFileSync(file, 'there before it was found\n');
    await running.waitForLog(/appended as .*new\.log/);
    fs.appendFileSync(file, 'written after\n');
    await waitFor(() => logs(running).includes('written after'), 'the line written after');
    await sleep(200);
    assert.deepEqual(logs(running), fromHead ? ['there before it was found', 'written after'] : ['written after']);
  });
}

test('db.compare_filename on: a db offset counts only for its file name; off: the inode alone decides', async (t) => {
  const dir = tempDir('wsbit-tail-keys-');
  const db = path.join(dir, 'offsets.json');
  const run = async (...extra: string[]): Promise<string[]> => {
    const running = await startAgent(['-i', 'tail', '-p', `path=${dir}/*.log`, '-p', `db=${db}`, '-p', 'read_from_head=on', ...extra.flatMap((p) => ['-p', p]), '-o', 'capture', '-m', '*', '-f', '0.05']);
    t.after(() => running.stop());
    await waitFor(() => logs(running).length > 0, 'records');
    await sleep(300);
    await running.stop();
    return logs(running);
  };
  fs.writeFileSync(path.join(dir, 'a.log'), 'l1\nl2\n');
  assert.deepEqual(await run(), ['l1', 'l2']);
  // The same inode under another name: resumed after l2, or read again from its head.
  fs.renameSync(path.join(dir, 'a.log'), path.join(dir, 'b.log'));
  fs.appendFileSync(path.join(dir, 'b.log'), 'l3\n');
  assert.deepEqual(await run(), ['l3']);
  fs.renameSync(path.join(dir, 'b.log'), path.join(dir, 'c.log'));
  fs.appendFileSync(path.join(dir, 'c.log'), 'l4\n');
  assert.deepEqual(await run('db.compare_filename=on'), ['l1', 'l2', 'l3', 'l4']);
});

for (const active of [true, false]) {
  test(`ignore_active_older_files ${active ? 'on: a followed file that goes quiet past ignore_older is let go' : 'off: a followed file stays followed'}`, async (t) => {
    const dir = tempDir('wsbit-tail-keys-');
    const file = path.join(dir, 'app.log');
    fs.writeFileSync(file, 'one\n');
    const running = await tail(t, `path=${file}`, 'read_from_head=on', 'refresh_interval=0.2', 'ignore_older=1h', ...(active ? ['ignore_active_older_files=on'] : []));
    await waitFor(() => logs(running).length === 1, 'the first line');
    const old = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(file, old, old);
    if (active) {
      await running.waitForLog(/not modified for ignore_older, stop following .*app\.log/);
    } else {
      // Several scans pass (refresh_interval 0.2 s); the file is still followed.
      await sleep(1000);
      assert.doesNotMatch(running.logs(), /stop following/);
    }
    assert.deepEqual(logs(running), ['one']);
  });
}

test('progress_check_interval and its _nsec part set how often followed files are checked', () => {
  const tail = defaultRegistry().input('tail');
  assert.ok(tail !== undefined);
  const options = (entries: Array<[string, string]>) => {
    const { config } = resolveConfig(pluginSchema(tail), [['path', '/x'], ...entries].map(([key, value]) => ({ key, value })) as Array<{ key: string; value: string }>, {
      instance: 'tail.0',
      kind: 'input',
    });
    return tailInputOptions(config as unknown as TailInputConfig, 'tail.0', new ParserRegistry(), new LogRoot({ level: 'off' }).scoped('tail.0'));
  };
  assert.equal(options([]).pollIntervalMs, 1000);
  assert.equal(options([['progress_check_interval', '2s'], ['progress_check_interval_nsec', '500000000']]).pollIntervalMs, 2500);
  assert.equal(options([['progress_check_interval', '0']]).pollIntervalMs, 10);
});

test("truncate_long_lines cuts long lines at a character boundary as Fluent Bit does (tail-truncate/make.sh)", async (t) => {
  const fixtures = path.join(fluentBitFixtures, 'tail-truncate');
  const file = path.join(tempDir('wsbit-tail-keys-'), 'long.log');
  fs.copyFileSync(path.join(fixtures, 'long.log'), file);
  const expected = readFluentBitJsonLines(path.join(fixtures, 'expected.txt'));
  const running = await tail(t, `path=${file}`, 'read_from_head=on', 'buffer_chunk_size=32', 'buffer_max_size=32', 'truncate_long_lines=on');
  await waitFor(() => logs(running).includes('end'), 'the last line');
  assert.deepEqual(logs(running).map((log) => JSON.stringify({ log })), expected);
  assert.equal(running.agent.metrics.get('fluentbit_input_long_line_truncated_total', 'tail.0'), 3);
});

for (const [file, encoding] of [['sjis', 'ShiftJIS'], ['win1252', 'Win1252'], ['gbk', 'GBK'], ['big5', 'BIG5'], ['uhc', 'UHC'], ['win1251', 'CP1251']] as const) {
  test(`generic.encoding ${encoding}: the lines of ${file}.log are Fluent Bit's, in UTF-8 (tail-encoding/make.sh)`, async (t) => {
    const fixtures = path.join(fluentBitFixtures, 'tail-encoding');
    const copy = path.join(tempDir('wsbit-tail-keys-'), `${file}.log`);
    fs.copyFileSync(path.join(fixtures, `${file}.log`), copy);
    const expected = readFluentBitJsonLines(path.join(fixtures, `expected.${file}.txt`));
    const running = await tail(t, `path=${copy}`, 'read_from_head=on', `generic.encoding=${encoding}`);
    await waitFor(() => logs(running).length === expected.length, `${expected.length} records`);
    assert.deepEqual(logs(running).map((log) => JSON.stringify({ log })), expected);
  });
}

test('exit_on_eof: wsbit stops by itself, exit code 0, once the file is read and its records are out, as Fluent Bit does (tail-exit-on-eof/make.sh)', async () => {
  const fixtures = path.join(fluentBitFixtures, 'tail-exit-on-eof');
  const file = path.join(tempDir('wsbit-tail-keys-'), 'eof.log');
  fs.copyFileSync(path.join(fixtures, 'eof.log'), file);
  const agent = spawnAgent(['-i', 'tail', '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'exit_on_eof=on', '-o', 'stdout', '-p', 'format=json_lines', '-m', '*']);
  const code = await agent.waitForExit(30_000);
  assert.equal(code, Number(fs.readFileSync(path.join(fixtures, 'exit-code.txt'), 'utf8').trim()), agent.stderr());
  const records = agent.stdout().split('\n').filter((line) => line !== '').map((line) => JSON.stringify(JSON.parse(line.replace(/^\{"date":[0-9.]+,/, '{'))));
  assert.deepEqual(records, readFluentBitJsonLines(path.join(fixtures, 'expected.txt')));
  assert.match(agent.stderr(), /file=.*eof\.log ended, stop/);
});
