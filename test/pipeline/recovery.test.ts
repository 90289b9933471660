import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LogRoot } from '../../src/base/logger.js';
import { Chunk } from '../../src/pipeline/chunk.js';
import { encodeChunkHeader, encodeFrameHeader } from '../../src/pipeline/storage/chunk-file.js';
import { FilesystemStorage, type FilesystemStorageOptions } from '../../src/pipeline/storage/filesystem.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { writeEvent } from '../../src/codec/event.js';
import { encodeBody } from '../../src/codec/msgpack.js';
import { tempDir } from '../helpers/temp.js';

function events(from: number, count: number): Buffer {
  const writer = new MsgpackWriter();
  for (let n = from; n < from + count; n++) writeEvent(writer, 1700000000, n, null, encodeBody({ n }));
  return writer.bytes();
}

const header = (checksum: boolean) => encodeChunkHeader('app.log', 'tcp.0', checksum);
const frame = (payload: Buffer, checksum: boolean) => Buffer.concat([encodeFrameHeader(payload, checksum), payload]);

/** A storage.path with `files` (name → bytes) in the tcp.0 input directory, and a storage over it whose log is kept. */
function storeWith(files: Record<string, Buffer>, options: Partial<FilesystemStorageOptions> = {}) {
  const rootPath = tempDir('wsbit-recovery-');
  const inputDir = path.join(rootPath, 'tcp.0');
  mkdirSync(inputDir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(inputDir, name), bytes);
  const lines: string[] = [];
  const logRoot = new LogRoot({ level: 'debug', sink: { write: (text) => void lines.push(text) } });
  const storage = new FilesystemStorage({ rootPath, sync: 'normal', checksum: true, deleteIrrecoverable: false, logger: logRoot.scoped('storage'), ...options });
  const problems = () => lines.filter((line) => line.includes('[ warn]') || line.includes('[error]'));
  const quarantined = () => (existsSync(path.join(rootPath, 'quarantine')) ? readdirSync(path.join(rootPath, 'quarantine')).sort() : []);
  return { rootPath, inputDir, storage, lines, problems, quarantined };
}

test('a header torn at every byte holds no records: removed with one warning, nothing quarantined', () => {
  const full = header(true);
  for (let cut = 0; cut < full.length; cut++) {
    const store = storeWith({ '1-1.000000001.flb': full.subarray(0, cut) });
    assert.deepEqual(store.storage.loadBacklog(), [], `cut at ${cut}`);
    assert.deepEqual(readdirSync(store.inputDir), [], `file removed, cut at ${cut}`);
    assert.deepEqual(store.quarantined(), [], `nothing quarantined, cut at ${cut}`);
    assert.equal(store.problems().length, 1, `one warning, cut at ${cut}: ${store.problems().join('')}`);
    assert.equal(store.storage.lastRecovery.empty, 1);
  }
});

test('a frame torn at every byte keeps its whole records, warns once, and reads back without a second warning', () => {
  const first = events(0, 3);
  const second = events(3, 3);
  const file = Buffer.concat([header(true), frame(first, true), frame(second, true)]);
  const headerLength = header(true).length;
  const eventLength = events(0, 1).length;
  for (let cut = headerLength; cut <= file.length; cut++) {
    const store = storeWith({ '1-1.000000001.flb': file.subarray(0, cut) });
    const intoFirst = cut - headerLength - 8;
    const intoSecond = cut - (headerLength + 8 + first.length) - 8;
    const expected = (intoFirst > 0 ? Math.min(3, Math.floor(intoFirst / eventLength)) : 0) + (intoSecond > 0 ? Math.floor(intoSecond / eventLength) : 0);
    const backlog = store.storage.loadBacklog();
    assert.equal(backlog.reduce((sum, chunk) => sum + chunk.records, 0), expected, `records at cut ${cut}`);
    const cleanEnd = cut === headerLength + 8 + first.length || cut === file.length;
    assert.equal(store.problems().length, cleanEnd ? 0 : 1, `warnings at cut ${cut}: ${store.problems().join('')}`);
    assert.deepEqual(store.quarantined(), [], `a torn tail is not quarantined (cut ${cut})`);
    const [found] = backlog;
    if (found === undefined) {
      assert.deepEqual(readdirSync(store.inputDir), [], `a file with no records is removed (cut ${cut})`);
      continue;
    }
    const chunk = Chunk.onDisk(found.id, 'tcp.0', found.tag, found.records, found.sizeBytes);
    store.storage.adopt(chunk, found.filePath);
    assert.deepEqual(store.storage.read(chunk), Buffer.concat([first, second]).subarray(0, expected * eventLength));
    assert.equal(store.problems().length, cleanEnd ? 0 : 1, `reading back repeats no warning (cut ${cut})`);
    store.storage.release(chunk);
    assert.deepEqual(readdirSync(store.inputDir), []);
  }
});

test('a header-less file of frames and a file of garbage are quarantined, each with one error; a leftover temp header is removed', () => {
  const store = storeWith({
    '1-1.000000001.flb': frame(events(0, 2), true),
    '1-1.000000002.flb': Buffer.from('this is not a chunk file at all, just garbage bytes'),
    '1-1.000000003.flb.tmp': header(true),
    '1-1.000000004.flb': Buffer.concat([header(true), frame(events(0, 2), true)]),
  });
  const backlog = store.storage.loadBacklog();
  assert.deepEqual(backlog.map((chunk) => [chunk.id, chunk.records]), [['1-1.000000004.flb', 2]]);
  assert.deepEqual(readdirSync(store.inputDir), ['1-1.000000004.flb'], 'only the live chunk stays beside the live chunks');
  assert.deepEqual(store.quarantined(), ['000000000001-tcp.0-1-1.000000001.flb', '000000000002-tcp.0-1-1.000000002.flb']);
  assert.equal(store.problems().filter((line) => line.includes('[error]')).length, 2);
  assert.equal(store.problems().length, 3, store.problems().join(''));
  assert.deepEqual(store.storage.lastRecovery, { chunks: 1, records: 2, partial: 0, empty: 1, quarantined: 2, quarantinedBytes: 8 + events(0, 2).length + 51, deleted: 0, evicted: 0 });
});

test('storage.delete_irrecoverable_chunks on deletes garbage instead of quarantining it', () => {
  const store = storeWith({ '1-1.000000001.flb': Buffer.from('garbage garbage garbage') }, { deleteIrrecoverable: true });
  assert.deepEqual(store.storage.loadBacklog(), []);
  assert.deepEqual(readdirSync(store.rootPath), ['tcp.0']);
  assert.deepEqual(readdirSync(store.inputDir), []);
  assert.equal(store.storage.lastRecovery.deleted, 1);
  assert.equal(store.problems().length, 1);
});

test('a damaged frame between good ones: the good records go out and a copy of the original is quarantined', () => {
  const file = Buffer.concat([header(true), frame(events(0, 2), true), frame(events(2, 2), true), frame(events(4, 2), true)]);
  const damaged = header(true).length + 8 + events(0, 2).length + 8 + 3;
  file[damaged] = (file[damaged] as number) ^ 0xff;
  const store = storeWith({ '1-1.000000001.flb': file });
  const [found] = store.storage.loadBacklog();
  assert.equal(found?.records, 4);
  assert.deepEqual(store.quarantined(), ['000000000001-tcp.0-1-1.000000001.flb']);
  assert.deepEqual(readFileSync(path.join(store.rootPath, 'quarantine', '000000000001-tcp.0-1-1.000000001.flb')), file);
  assert.equal(store.problems().length, 1);
  assert.equal(store.storage.lastRecovery.partial, 1);
});

test('quarantine over storage.quarantine_limit drops the oldest first, across restarts, and a legacy .corrupt file joins it', () => {
  const garbage = (letter: string) => Buffer.alloc(40, letter);
  const store = storeWith({ '1-1.000000001.flb': garbage('a'), '1-1.000000002.flb': garbage('b') }, { quarantineLimitBytes: 100 });
  store.storage.loadBacklog();
  assert.deepEqual(store.quarantined(), ['000000000001-tcp.0-1-1.000000001.flb', '000000000002-tcp.0-1-1.000000002.flb']);
  assert.equal(store.storage.lastRecovery.evicted, 0);

  // The next start finds a file an older version set aside beside the live chunks.
  writeFileSync(path.join(store.inputDir, '1-1.000000003.flb.corrupt'), garbage('c'));
  const lines: string[] = [];
  const next = new FilesystemStorage({
    rootPath: store.rootPath,
    sync: 'normal',
    checksum: true,
    deleteIrrecoverable: false,
    quarantineLimitBytes: 100,
    logger: new LogRoot({ level: 'debug', sink: { write: (text) => void lines.push(text) } }).scoped('storage'),
  });
  assert.deepEqual(next.loadBacklog(), []);
  assert.deepEqual(readdirSync(store.inputDir), []);
  assert.deepEqual(store.quarantined(), ['000000000002-tcp.0-1-1.000000002.flb', '000000000003-tcp.0-1-1.000000003.flb']);
  assert.deepEqual(readFileSync(path.join(store.rootPath, 'quarantine', '000000000003-tcp.0-1-1.000000003.flb')), garbage('c'));
  assert.equal(next.lastRecovery.evicted, 1);
  assert.equal(lines.filter((line) => line.includes('over storage.quarantine_limit')).length, 1);
});

test('a new chunk file is never seen without its header: no temporary file stays, and the file reads back', () => {
  const store = storeWith({});
  const chunk = new Chunk('1-1.000000009.flb', 'tcp.0', 'app.log');
  store.storage.append(chunk, events(0, 2));
  assert.deepEqual(readdirSync(store.inputDir), ['1-1.000000009.flb']);
  const bytes = readFileSync(path.join(store.inputDir, '1-1.000000009.flb'));
  assert.deepEqual(bytes.subarray(0, header(true).length), header(true));
  store.storage.append(chunk, events(2, 1));
  store.storage.seal(chunk);
  assert.deepEqual(store.storage.read(chunk), events(0, 3));
  assert.equal(statSync(path.join(store.inputDir, '1-1.000000009.flb')).size, header(true).length + 16 + events(0, 3).length);
  store.storage.release(chunk);
  assert.deepEqual(readdirSync(store.inputDir), []);
});
