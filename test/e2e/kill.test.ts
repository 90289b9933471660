import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decodeChunkFile } from '../../src/pipeline/storage/chunk-file.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { figures, startCountingServer, TcpFeeder, type CountingServer } from '../plugins/websocket-output-support.js';
import { tempDir } from '../helpers/temp.js';

/**
 * `kill -9` with `storage.type filesystem`: what the agent had received is on disk, and the next
 * run delivers it. Counted as records sent against distinct records the `ws` server received.
 */
function seqsOnDisk(dir: string): Set<number> {
  const seqs = new Set<number>();
  for (const name of readdirSync(dir, { recursive: true }).map(String)) {
    if (!name.endsWith('.flb')) continue;
    try {
      for (const event of decodeEvents(decodeChunkFile(readFileSync(path.join(dir, name))).events)) {
        seqs.add(Number((event.body as { seq: number }).seq));
      }
    } catch {
      // A file being created or deleted right now; the next poll sees it settled.
    }
  }
  return seqs;
}

const recordsOnDisk = (dir: string): number => seqsOnDisk(dir).size;

/** Records that are safe: at the server, or in a chunk file on disk. */
function safeRecords(dir: string, server: CountingServer): number {
  const safe = seqsOnDisk(dir);
  for (const seq of server.seqs.keys()) safe.add(seq);
  return safe.size;
}

function agentArgs(storageDir: string, serverPort: number, outputExtra: string[] = []): string[] {
  return [
    '-b', storageDir,
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'storage.type=filesystem',
    '-o', `websocket://127.0.0.1:${serverPort}/ingest`, '-p', 'format=json_lines', '-m', '*', ...outputExtra,
    '-f', '0.2',
  ];
}

function tcpPortOf(agent: RunningAgent): number {
  const match = /\[input:tcp:tcp\.0\] listening on [^\s]+:(\d+)/.exec(agent.stderr());
  if (match === null) throw new Error(`no tcp port in:\n${agent.stderr()}`);
  return Number(match[1]);
}

async function killHard(agent: RunningAgent): Promise<void> {
  agent.child.kill('SIGKILL');
  await agent.waitForExit();
}

async function feed(agent: RunningAgent, count: number, perSecond: number): Promise<TcpFeeder> {
  await agent.waitForOutput(/listening on/);
  const feeder = new TcpFeeder(tcpPortOf(agent), { count, perSecond });
  await feeder.done;
  return feeder;
}

test('kill -9 while the server is down, restart, server returns: 0 lost', async (t) => {
  const dir = tempDir('wsbit-kill-');
  const server: CountingServer = await startCountingServer('json_lines');
  const port = server.port;
  await server.crash();
  t.after(() => server.close());

  const first = spawnAgent(agentArgs(dir, port));
  const sent = 2000;
  const feeder = await feed(first, sent, 2000);
  await waitFor(() => recordsOnDisk(dir) === sent, `all ${sent} records on disk`);
  await killHard(first);
  await feeder.close();

  await server.start();
  const second = spawnAgent(agentArgs(dir, port));
  await waitFor(() => server.unique === sent, `the server to receive ${sent} records\n${second.stderr()}`, 20_000);
  assert.equal(await second.stop(), 0);
  t.diagnostic(figures('kill -9 while the server is down', sent, server));
  assert.equal(server.lost(sent), 0);
  assert.equal(server.duplicates, 0, 'nothing had been delivered before the kill, so nothing repeats');
  assert.equal(recordsOnDisk(dir), 0, 'delivered chunks are removed');
});

for (const compress of [false, true]) {
  const variant = compress ? ' (compress deflate, ws with perMessageDeflate)' : '';
  const outputExtra = compress ? ['-p', 'compress=deflate'] : [];
  test(`kill -9 in the middle of flushing to a live server, restart: 0 lost, few duplicates${variant}`, async (t) => {
    const dir = tempDir('wsbit-kill-');
    const server = await startCountingServer('json_lines', false, compress ? { perMessageDeflate: true } : {});
    t.after(() => server.close());

    const first = spawnAgent(agentArgs(dir, server.port, outputExtra));
    const sent = 3000;
    await first.waitForOutput(/listening on/);
    const feeder = new TcpFeeder(tcpPortOf(first), { count: sent, perSecond: 1500 });
    // Let some chunks be delivered, then make the server slow so a flush is in flight, and kill.
    await waitFor(() => server.unique > 300, 'the first deliveries');
    server.pauseReading();
    await feeder.done;
    await waitFor(() => safeRecords(dir, server) === sent, 'every record delivered or on disk');
    await killHard(first);
    await feeder.close();
    server.resumeReading();

    const second = spawnAgent(agentArgs(dir, server.port, outputExtra));
    await waitFor(() => server.unique === sent, `the server to receive ${sent} records\n${second.stderr()}`, 20_000);
    assert.equal(await second.stop(), 0);
    t.diagnostic(figures(`kill -9 during a flush${variant}`, sent, server));
    if (compress) assert.match(second.stderr(), /accepted permessage-deflate/);
    assert.equal(server.lost(sent), 0);
    // Duplicates are the chunks that were in flight or delivered but not yet confirmed: at most a few chunks' worth.
    assert.ok(server.duplicates < sent / 2, `duplicates ${server.duplicates}`);
  });
}

test('a long outage with more chunks than storage.max_chunks_up: memory stays bounded, 0 lost', async (t) => {
  const { startTestAgent } = await import('../plugins/websocket-output-support.js');
  const dir = tempDir('wsbit-outage-');
  const server = await startCountingServer('json_lines');
  const port = server.port;
  await server.crash();
  t.after(() => server.close());
  const running = await startTestAgent(agentArgs(dir, port).map((arg) => (arg === '0.2' ? '0.05' : arg)), {
    service: { 'storage.max_chunks_up': '3', grace: '2' },
    level: 'info',
  });
  t.after(() => running.stop());
  const sent = 6000;
  const feeder = new TcpFeeder(running.tcpPort(), { count: sent, perSecond: 2000 });
  let mostInMemory = 0;
  const sampler = setInterval(() => (mostInMemory = Math.max(mostInMemory, running.agent.engine.chunksInMemory())), 5);
  await feeder.done;
  await waitFor(() => recordsOnDisk(dir) === sent, 'all records on disk');
  const chunksHeld = running.agent.engine.bufferedChunks().chunks;
  await server.start();
  await waitFor(() => server.unique === sent, `the server to receive ${sent} records`, 30_000);
  clearInterval(sampler);
  await feeder.close();
  t.diagnostic(figures('outage beyond storage.max_chunks_up', sent, server, `${chunksHeld} chunks held, at most ${mostInMemory} in memory`));
  assert.ok(chunksHeld > 3 * 3, `the outage produced many more chunks (${chunksHeld}) than storage.max_chunks_up`);
  // max_chunks_up sealed chunks, the open chunk, and the one being read back for a flush.
  assert.ok(mostInMemory <= 3 + 2, `at most ${mostInMemory} chunks in memory`);
  assert.equal(server.lost(sent), 0);
});

test('kill -9 while records are being written, restart: every record written is delivered, storage.path left clean', async (t) => {
  const dir = tempDir('wsbit-kill-');
  const server = await startCountingServer('json_lines');
  const port = server.port;
  await server.crash();
  t.after(() => server.close());

  const first = spawnAgent(agentArgs(dir, port));
  await first.waitForOutput(/listening on/);
  const feeder = new TcpFeeder(tcpPortOf(first), { count: 20_000, perSecond: 4000 });
  // Killed mid-stream, with appends and new chunk files in progress.
  await waitFor(() => recordsOnDisk(dir) > 1500, 'records being written');
  await killHard(first);
  await feeder.close();
  // What the dead process had written, read the way the next start reads it.
  const written = seqsOnDisk(dir);
  assert.ok(written.size > 1500 && written.size < 20_000, `killed mid-stream (${written.size} written)`);

  await server.start();
  const second = spawnAgent(agentArgs(dir, port));
  await waitFor(() => server.unique >= written.size && recordsOnDisk(dir) === 0, `the server to receive ${written.size} records\n${second.stderr()}`, 20_000);
  assert.equal(await second.stop(), 0);
  t.diagnostic(figures('kill -9 while writing', written.size, server, `${written.size} records written before the kill`));
  assert.equal(server.unique, written.size, 'delivered = written before the kill');
  for (const seq of written) assert.ok(server.seqs.has(seq), `record ${seq} delivered`);
  // Only live chunks (none once delivered) and quarantine/ may remain: no temp files, no .corrupt files.
  const left = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => !name.startsWith('quarantine') && !statSync(path.join(dir, name)).isDirectory());
  assert.deepEqual(left, [], 'no file left in storage.path outside quarantine/');
  const warnings = second.stderr().split('\n').filter((line) => line.includes('[ warn]') || line.includes('[error]'));
  assert.equal(new Set(warnings.map((line) => line.replace(/^\[[^\]]*\]/, ''))).size, warnings.length, `each warning once:\n${warnings.join('\n')}`);
});
