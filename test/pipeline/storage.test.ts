import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeChunkFile, encodeChunkHeader, encodeFrameHeader, UnreadableChunkFileError } from '../../src/pipeline/storage/chunk-file.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { writeEvent } from '../../src/codec/event.js';
import { encodeBody } from '../../src/codec/msgpack.js';
import { startAgent } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp.js';

function events(from: number, count: number): Buffer {
  const writer = new MsgpackWriter();
  for (let n = from; n < from + count; n++) writeEvent(writer, 1700000000, n, null, encodeBody({ n }));
  return writer.bytes();
}

function chunkFile(frames: Buffer[], checksum: boolean): Buffer {
  return Buffer.concat([encodeChunkHeader('app.log', 'tcp.0', checksum), ...frames.flatMap((frame) => [encodeFrameHeader(frame, checksum), frame])]);
}

test('a chunk file reads back its tag, input and every record', () => {
  const decoded = decodeChunkFile(chunkFile([events(0, 3), events(3, 2)], true));
  assert.equal(decoded.tag, 'app.log');
  assert.equal(decoded.inputInstance, 'tcp.0');
  assert.equal(decoded.records, 5);
  assert.deepEqual(decoded.events, Buffer.concat([events(0, 3), events(3, 2)]));
  assert.deepEqual(decoded.problems, []);
});

test('a file torn at any byte keeps every whole record before the tear', () => {
  const first = events(0, 3);
  const second = events(3, 3);
  const file = chunkFile([first, second], false);
  const headerLength = encodeChunkHeader('app.log', 'tcp.0', false).length;
  const eventLength = events(0, 1).length;
  for (let cut = headerLength; cut < file.length; cut++) {
    const decoded = decodeChunkFile(file.subarray(0, cut));
    const intoSecond = cut - (headerLength + 8 + first.length) - 8;
    const expected = cut < headerLength + 8 ? 0 : Math.min(3, Math.floor((cut - headerLength - 8) / eventLength)) + (intoSecond > 0 ? Math.floor(intoSecond / eventLength) : 0);
    assert.equal(decoded.records, expected, `cut at ${cut}`);
    const cleanCut = cut === headerLength || cut === headerLength + 8 + first.length;
    assert.equal(decoded.problems.length > 0, !cleanCut, `problems reported at ${cut}`);
  }
});

test('with checksums, a frame with flipped bytes is skipped and its neighbours are kept', () => {
  const file = chunkFile([events(0, 2), events(2, 2), events(4, 2)], true);
  const headerLength = encodeChunkHeader('app.log', 'tcp.0', true).length;
  const middlePayload = headerLength + 8 + events(0, 2).length + 8;
  file[middlePayload + 5] = (file[middlePayload + 5] as number) ^ 0xff;
  const decoded = decodeChunkFile(file);
  assert.equal(decoded.records, 4);
  assert.deepEqual(decoded.events, Buffer.concat([events(0, 2), events(4, 2)]));
  assert.match(decoded.problems[0] ?? '', /frame 1 failed its CRC32 check/);
});

test('a file that is not a chunk file is unreadable', () => {
  assert.throws(() => decodeChunkFile(Buffer.from('hello world, not a chunk')), UnreadableChunkFileError);
});

function storageDir(): string {
  return tempDir('wsbit-storage-');
}

function chunkFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.flb') && !name.startsWith('quarantine'));
}

const dummyArgs = (dir: string, ...extra: string[]) => [
  '-b', dir, '-i', 'dummy', '-p', 'storage.type=filesystem', '-p', 'rate=100', '-p', 'samples=20', ...extra,
];

test('filesystem chunks stay on disk while the output retries, and are deleted once delivered', async (t) => {
  const dir = storageDir();
  let accept = false;
  const running = await startAgent([...dummyArgs(dir), '-o', 'capture', '-p', 'retry_limit=no_limits', '-f', '0.05'], () => (accept ? 'ok' : 'retry'));
  t.after(() => running.stop());
  await waitFor(() => chunkFiles(dir).length > 0 && running.agent.engine.bufferedChunks().chunks > 0, 'chunks on disk');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(running.events().length, 0);
  assert.ok(chunkFiles(dir).length > 0);
  accept = true;
  running.agent.engine.promoteRetries('capture.0');
  await waitFor(() => running.events().length === 20, 'all 20 records');
  await waitFor(() => chunkFiles(dir).length === 0, 'chunk files removed');
});

test('chunks left by an earlier run are delivered by the next one, routed by their tag', async () => {
  const dir = storageDir();
  const first = await startAgent([...dummyArgs(dir, '-t', 'kept'), '-o', 'capture', '-m', 'kept', '-p', 'retry_limit=no_limits', '-f', '0.05'], () => 'retry', { grace: '1' });
  await waitFor(() => first.agent.metrics.get('fluentbit_input_records_total', 'dummy.0') === 20, '20 records in');
  await new Promise((resolve) => setTimeout(resolve, 200));
  // The output never accepts, so Grace runs out: the chunks must stay on disk, not count as lost.
  assert.deepEqual(await first.stop(), { undeliveredRecords: 0, handedOver: [] });
  assert.ok(chunkFiles(dir).length > 0);
  assert.ok(first.lines.some((line) => /\[ info\] \[engine\] 20 records \(\d+ chunks?\) were not delivered within Grace=1s \(output capture\.0 did not deliver them in time\); they stay on disk in storage\.path for the next start/.test(line)));

  const second = await startAgent(['-b', dir, '-i', 'dummy', '-p', 'samples=0', '-p', 'rate=1', '-t', 'other', '-o', 'capture', '-m', 'kept', '-f', '0.05']);
  await waitFor(() => second.events().length === 20, 'the 20 records from the earlier run');
  assert.deepEqual(second.events().map((event) => (event.body as { message: string }).message), Array(20).fill('dummy'));
  assert.ok(second.lines.some((line) => /\[storage\] \d+ chunks with 20 records left by an earlier run are queued/.test(line)));
  assert.ok(second.chunks.every((chunk) => chunk.tag === 'kept' && chunk.inputInstance === 'storage_backlog.0'));
  await second.stop();
  assert.equal(chunkFiles(dir).length, 0);
});

test('storage.max_chunks_up keeps only that many chunks in memory; the rest are read back when flushed', async (t) => {
  const dir = storageDir();
  let accept = false;
  const running = await startAgent(
    ['-b', dir, '-i', 'dummy', '-p', 'storage.type=filesystem', '-p', 'rate=200', '-p', 'samples=50', '-o', 'capture', '-p', 'retry_limit=no_limits', '-f', '0.02'],
    () => (accept ? 'ok' : 'retry'),
    { 'storage.max_chunks_up': '2' },
  );
  t.after(() => running.stop());
  await waitFor(() => running.agent.metrics.get('fluentbit_input_records_total', 'dummy.0') === 50, '50 records in');
  await waitFor(() => running.agent.engine.bufferedChunks().chunks >= 4, 'several sealed chunks');
  assert.ok(running.agent.engine.chunksInMemory() <= 2 + 1, `at most max_chunks_up sealed chunks (+1 open) in memory, saw ${running.agent.engine.chunksInMemory()}`);
  accept = true;
  running.agent.engine.promoteRetries('capture.0');
  await waitFor(() => running.events().length === 50, 'all 50 records');
  assert.deepEqual(running.events().map((e) => e.nsec).length, 50);
});

test('a corrupt chunk file is quarantined and logged once; the intact records are delivered', async (t) => {
  const dir = storageDir();
  const inputDir = path.join(dir, 'dummy.0');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(inputDir, { recursive: true });
  const good = chunkFile([events(0, 4)], true);
  writeFileSync(path.join(inputDir, '1-1.000000001.flb'), Buffer.concat([good.subarray(0, 4), Buffer.from('junk')]));
  const goodWithBadTail = Buffer.concat([good, encodeFrameHeader(events(4, 4), true), events(4, 4).subarray(0, 10)]);
  writeFileSync(path.join(inputDir, '1-1.000000002.flb'), goodWithBadTail);
  const running = await startAgent(['-b', dir, '-i', 'dummy', '-p', 'rate=1', '-p', 'samples=0', '-t', 'x', '-o', 'capture', '-m', 'app.log', '-f', '0.05']);
  t.after(() => running.stop());
  await waitFor(() => running.events().length === 4, 'the four whole records');
  await waitFor(() => chunkFiles(dir).length === 0, 'the delivered chunk removed');
  await running.stop();
  assert.deepEqual(readdirSync(inputDir), [], 'nothing left beside the live chunks');
  const quarantined = readdirSync(path.join(dir, 'quarantine'));
  assert.equal(quarantined.length, 1);
  assert.match(quarantined[0] ?? '', /-dummy\.0-1-1\.000000001\.flb$/);
  assert.equal(readFileSync(path.join(dir, 'quarantine', quarantined[0] ?? '')).length, 8);
  assert.equal(running.lines.filter((line) => line.includes('irrecoverable chunk') && line.includes('moved to quarantine/')).length, 1);
  assert.equal(running.lines.filter((line) => /frame 1 torn \(\d+ of \d+ bytes\): 0 whole records kept/.test(line)).length, 1, 'the torn-frame warning once, not again when the chunk is read back');
  assert.equal(running.agent.metrics.get('fluentbit_storage_quarantined_chunks_total', 'storage'), 1);
  assert.equal(running.agent.metrics.get('fluentbit_storage_recovered_records_total', 'storage'), 4);
});

test('storage.total_limit_size drops the oldest chunks for that output, counts them, and delivers the newest', async (t) => {
  const dir = storageDir();
  let accept = false;
  const running = await startAgent(
    ['-b', dir, '-i', 'dummy', '-p', 'storage.type=filesystem', '-p', 'rate=100', '-p', 'samples=60', '-p', 'dummy={"seq":"x"}',
      '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=0',
      '-o', 'capture', '-p', 'retry_limit=no_limits', '-p', 'storage.total_limit_size=400', '-f', '0.05'],
    () => (accept ? 'ok' : 'retry'),
  );
  t.after(() => running.stop());
  await waitFor(() => running.agent.metrics.get('fluentbit_input_records_total', 'dummy.0') === 60, '60 records in');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const dropped = running.agent.metrics.get('fluentbit_output_dropped_records_total', 'capture.0');
  assert.ok(dropped > 0, 'some records dropped');
  assert.ok(running.lines.some((line) => line.includes('storage.total_limit_size (400 bytes) reached for capture.0: oldest chunk')));
  accept = true;
  running.agent.engine.promoteRetries('capture.0');
  await waitFor(() => running.events().length + dropped === 60, 'the rest delivered');
  // Without fixed_timestamp the dummy start time advances 10 ms per record, so the time says which record it is.
  const delivered = running.events().map((event) => Math.round((event.sec - 1700000000) * 100 + event.nsec / 1e7));
  assert.ok(delivered.length > 0 && delivered.length <= 400 / 20, `only what fits in 400 bytes, got ${delivered.length}`);
  // The newest records survive: what was delivered is exactly the last records generated.
  assert.deepEqual(delivered, Array.from({ length: delivered.length }, (_, i) => 60 - delivered.length + i));
  await waitFor(() => chunkFiles(dir).length === 0, 'dropped chunk files removed too');
  t.diagnostic(`60 records in, ${dropped} dropped by storage.total_limit_size, ${delivered.length} delivered`);
});
