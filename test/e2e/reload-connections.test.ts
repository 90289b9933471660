/**
 * Issue 21, point 3: a hot reload keeps the listeners and connections of the inputs it keeps, and
 * drains those of an input that changes. The peers count what they wrote successfully (a write
 * callback without error, a 2xx answer) and a `ws` server counts what wsbit delivered, by sequence number.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { startCountingServer, type CountingServer } from '../plugins/websocket-output-support.js';
import { tempDir } from '../helpers/temp.js';
import { WebSocket } from 'ws';

const RATE = 2000;
/** Records per write (tcp) or request (http): 20 every 10 ms is 2,000 records/s. */
const BATCH = 20;
const TICK_MS = 10;

function config(file: string, sinkPort: number, input: string[]): void {
  writeFileSync(
    file,
    [
      '[SERVICE]',
      '    Flush 0.1',
      '    Grace 5',
      '    Hot_Reload on',
      '    HTTP_Server on',
      '    HTTP_Listen 127.0.0.1',
      '    HTTP_Port 0',
      '[INPUT]',
      ...input.map((line) => `    ${line}`),
      '[OUTPUT]',
      '    Name websocket',
      '    Match *',
      '    Host 127.0.0.1',
      `    Port ${sinkPort}`,
      '    Format json_lines',
      '',
    ].join('\n'),
  );
}

function lastPort(agent: RunningAgent, pattern: RegExp): number {
  const found = [...agent.stderr().matchAll(pattern)].at(-1)?.[1];
  if (found === undefined) throw new Error(`no match for ${pattern} in:\n${agent.stderr()}`);
  return Number(found);
}

const monitorPort = (agent: RunningAgent): number => lastPort(agent, /\[http_server\] listen iface=\S+ tcp_port=(\d+)/g);

function reloadsDone(agent: RunningAgent): number {
  return agent.stderr().split('[reload] done').length - 1;
}

/** 3 SIGHUP and 2 POST /api/v2/reload, one after the other, each waited for. */
async function fiveReloads(agent: RunningAgent): Promise<void> {
  for (const how of ['SIGHUP', 'POST', 'SIGHUP', 'POST', 'SIGHUP']) {
    const before = reloadsDone(agent);
    await sleep(800);
    if (how === 'SIGHUP') agent.child.kill('SIGHUP');
    else {
      const response = await fetch(`http://127.0.0.1:${monitorPort(agent)}/api/v2/reload`, { method: 'POST' });
      await response.text();
    }
    await waitFor(() => reloadsDone(agent) === before + 1, `reload ${before + 1} (${how})\n${agent.stderr()}`, 20_000);
  }
  await sleep(400);
}

/** A counting sink and wsbit with one input of `plugin` on a free port, ready: the input's port is known. */
async function startPipeline(t: TestContext, plugin: string, extra: string[] = []): Promise<{ sink: CountingServer; file: string; agent: RunningAgent; port: number }> {
  const sink = await startCountingServer('json_lines');
  t.after(() => sink.close());
  const file = path.join(tempDir(`wsbit-reload-${plugin}-`), 'wsbit.conf');
  config(file, sink.port, [`Name ${plugin}`, 'Listen 127.0.0.1', 'Port 0', ...extra]);
  const agent = spawnAgent(['-c', file]);
  t.after(() => agent.stop());
  const listening = `\\[input:${plugin}:${plugin}\\.0\\] listening on [^\\s,]+:(\\d+)`;
  // Not the global regex: test() would leave its lastIndex past the match for matchAll.
  await agent.waitForOutput(new RegExp(listening));
  return { sink, file, agent, port: lastPort(agent, new RegExp(listening, 'g')) };
}

function line(seq: number): string {
  return `{"seq":${seq},"pad":"${'x'.repeat(60)}"}\n`;
}

/** Seqs of `written` that the server never got, at most 10 of them. */
function missing(server: CountingServer, written: readonly number[]): number[] {
  return written.filter((seq) => !server.seqs.has(seq)).slice(0, 10);
}

test('5 hot reloads over tcp at 2,000 records/s: every record written is delivered once, no EPIPE', async (t) => {
  const { sink, agent, port } = await startPipeline(t, 'tcp');

  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const written: number[] = [];
  const errors: string[] = [];
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  let seq = 0;
  let sending = true;
  const sender = (async () => {
    while (sending && errors.length === 0) {
      const batch = Array.from({ length: BATCH }, () => ++seq);
      socket.write(batch.map(line).join(''), (error) => {
        if (error) errors.push((error as NodeJS.ErrnoException).code ?? error.message);
        else written.push(...batch);
      });
      await sleep(TICK_MS);
    }
  })();
  await fiveReloads(agent);
  sending = false;
  await sender;
  await new Promise<void>((resolve) => socket.end(resolve));
  await waitFor(() => sink.unique >= written.length, `${written.length} records at the sink (has ${sink.unique})`, 20_000);
  await sleep(300);
  t.diagnostic(`tcp, 5 reloads: written ${written.length}, delivered ${sink.unique} distinct, duplicates ${sink.duplicates}, sender errors ${errors.length} (${errors.join(', ')})`);
  assert.deepEqual(errors, [], 'the sender gets no EPIPE or reset');
  assert.deepEqual(missing(sink, written), [], 'every record written arrives');
  assert.equal(sink.unique, written.length, 'written = delivered');
  assert.equal(sink.duplicates, 0);
  assert.equal(reloadsDone(agent), 5);
  assert.doesNotMatch(agent.stderr(), /MaxListenersExceeded/, 'a kept connection does not collect listeners');
  assert.match(agent.stderr(), /\[reload\] keeping tcp 127\.0\.0\.1:0 \(1 connections\)/);
  assert.equal(await agent.stop(), 0);
});

test('5 hot reloads over http at 2,000 records/s: every 2xx-answered record is delivered once, no broken pipe', async (t) => {
  const { sink, agent, port } = await startPipeline(t, 'http');

  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => keepAlive.destroy());
  const written: number[] = [];
  const errors: string[] = [];
  const post = (batch: number[]): Promise<void> =>
    new Promise<void>((resolve) => {
      const body = JSON.stringify(batch.map((n) => ({ seq: n, pad: 'x'.repeat(60) })));
      const request = http.request(
        { host: '127.0.0.1', port, path: '/app', method: 'POST', agent: keepAlive, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on('end', () => {
            if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) written.push(...batch);
            else errors.push(`HTTP ${response.statusCode ?? '?'}`);
            resolve();
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        errors.push(error.code ?? error.message);
        resolve();
      });
      request.end(body);
    });
  let seq = 0;
  let sending = true;
  const inFlight = new Set<Promise<void>>();
  const sender = (async () => {
    while (sending) {
      const batch = Array.from({ length: BATCH }, () => ++seq);
      const sent = post(batch).finally(() => inFlight.delete(sent));
      inFlight.add(sent);
      await sleep(TICK_MS);
    }
    await Promise.all(inFlight);
  })();
  await fiveReloads(agent);
  sending = false;
  await sender;
  await waitFor(() => sink.unique >= written.length, `${written.length} records at the sink (has ${sink.unique})`, 20_000);
  await sleep(300);
  t.diagnostic(`http, 5 reloads: written ${written.length} (2xx), delivered ${sink.unique} distinct, duplicates ${sink.duplicates}, failed requests ${errors.length} (${[...new Set(errors)].join(', ')})`);
  assert.deepEqual(errors, [], 'every request gets an answer, and a 2xx one');
  assert.deepEqual(missing(sink, written), [], 'every answered record arrives');
  assert.equal(sink.unique, written.length, 'written = delivered');
  assert.equal(sink.duplicates, 0);
  assert.equal(reloadsDone(agent), 5);
  assert.doesNotMatch(agent.stderr(), /MaxListenersExceeded/, 'a kept connection does not collect listeners');
  assert.equal(await agent.stop(), 0);
});

test('a reload that moves the tcp input to another port drains the old one: what was written there arrives, then it closes', async (t) => {
  const { sink, file, agent, port: oldPort } = await startPipeline(t, 'tcp');
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const newPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const socket = net.connect({ host: '127.0.0.1', port: oldPort });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const count = 4000;
  let text = '';
  for (let seq = 1; seq <= count; seq++) text += line(seq);
  const written = new Promise<Error | null | undefined>((resolve) => socket.write(text, resolve));
  // The reload comes while those bytes are on their way: some are read, some still in the socket.
  config(file, sink.port, ['Name tcp', 'Listen 127.0.0.1', `Port ${newPort}`]);
  agent.child.kill('SIGHUP');
  assert.equal((await written) ?? null, null, 'the write succeeded');
  await agent.waitForOutput('[reload] done', 'the reload', 20_000);
  await closed;
  await waitFor(() => sink.unique >= count, `${count} records at the sink (has ${sink.unique})`, 20_000);
  const refused = await new Promise<string>((resolve) => {
    const again = net.connect({ host: '127.0.0.1', port: oldPort });
    again.once('connect', () => {
      again.destroy();
      resolve('connected');
    });
    again.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  t.diagnostic(`tcp port change: written ${count}, delivered ${sink.unique} distinct, duplicates ${sink.duplicates}; old port: ${refused}`);
  assert.equal(sink.unique, count);
  assert.equal(sink.duplicates, 0);
  assert.equal(refused, 'ECONNREFUSED', 'the old port is closed');
  assert.match(agent.stderr(), /closed 1 connection\(s\) after draining them: \d+ record\(s\) read after the listener stopped/);
  assert.match(agent.stderr(), new RegExp(`\\[input:tcp:tcp\\.0\\] listening on 127\\.0\\.0\\.1:${newPort}\\n`));
  assert.equal(await agent.stop(), 0);
});

test('the websocket input keeps its clients across reloads: messages before, between and after are delivered on one connection', async (t) => {
  const { sink, agent, port } = await startPipeline(t, 'websocket', ['Tag app']);
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((resolve, reject) => client.once('open', () => resolve()).once('error', reject));
  let closed = false;
  client.on('close', () => (closed = true));
  let seq = 0;
  /** Sends 100 records in one message and resolves on the pong that confirms them. */
  const send = async (): Promise<void> => {
    const text = Array.from({ length: 100 }, () => line(++seq)).join('');
    client.send(text);
    await new Promise<void>((resolve) => {
      client.once('pong', () => resolve());
      client.ping();
    });
  };
  await send();
  for (let reload = 1; reload <= 2; reload++) {
    agent.child.kill('SIGHUP');
    await send();
    await waitFor(() => reloadsDone(agent) === reload, `reload ${reload}`, 20_000);
  }
  await send();
  await waitFor(() => sink.unique >= seq, `${seq} records at the sink (has ${sink.unique})`, 20_000);
  t.diagnostic(`websocket, 2 reloads: written ${seq}, delivered ${sink.unique} distinct, duplicates ${sink.duplicates}, connection closed ${closed}`);
  assert.equal(sink.unique, seq);
  assert.equal(sink.duplicates, 0);
  assert.equal(closed, false, 'the connection outlives the reloads');
  assert.match(agent.stderr(), /keeping websocket 127\.0\.0\.1:0 \(1 connections\)/);
  client.close();
  assert.equal(await agent.stop(), 0);
});
