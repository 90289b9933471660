/**
 * A record that cannot be encoded costs only itself (issue 12, item 2). A record nested 1,500 levels
 * deep used to be taken (and acknowledged) by forward and the websocket input, and then made its whole
 * chunk undeliverable, dropping every other client's records with it. Now the inputs keep it out at
 * the door: forward refuses a message with an ack request whole (no ack) and skips the record in one
 * without; the websocket input skips the record and pongs the rest (issue 21, point 4). An output that
 * still meets one leaves it out and sends the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FluentClient } from '@fluent-org/logger';
import { decodeMulti, encode } from '@msgpack/msgpack';
import { writeEvent } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MAX_NESTING_DEPTH } from '../../src/codec/limits.js';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { defineInput } from '../../src/pipeline/contracts.js';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { openClient, startInput } from './websocket-input-support.js';
import { startCountingServer, startTestAgent } from './websocket-output-support.js';
import { nestedMaps } from '../codec/support.js';

/** `{"d":{"d":…{"d":1}}}` as a JS value, `depth` maps deep, for clients that encode objects themselves. */
function nestedObject(depth: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { d: value };
  return value as Record<string, unknown>;
}

const seqsOf = (running: InProcessAgent): number[] =>
  running.chunks.flatMap((chunk) => decodeEvents(chunk.data)).map((event) => (event.body as { seq: number }).seq);

// ---------------------------------------------------------------------------------------------------------
// forward

const forwardArgs = ['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.05'];

function forwardPort(running: InProcessAgent): number {
  const port = running.agent.input('forward.0')?.listeningPort?.();
  if (typeof port !== 'number') throw new Error('forward input is not listening');
  return port;
}

test('forward, @fluent-org/logger with acks: every good record around a poison one arrives; the poison one is not acked', async (t) => {
  const running = await startAgent(forwardArgs);
  t.after(() => running.stop());
  const client = new FluentClient(null, {
    socket: { host: '127.0.0.1', port: forwardPort(running), timeout: -1 },
    eventMode: 'Message',
    ack: { ackTimeout: 2000 },
  });
  t.after(() => client.shutdown().catch(() => undefined));
  // The client's own encoder stops at 100 levels, so its poison record is 90 deep (the raw test sends 1,500).
  const sends: Array<Promise<void>> = [];
  for (let seq = 0; seq < 100; seq++) {
    sends.push(client.emit('app', { seq }));
    if (seq === 49) sends.push(client.emit('app', { seq: -1, poison: nestedObject(90) }));
  }
  const settled = await Promise.allSettled(sends);
  const acked = settled.filter((result) => result.status === 'fulfilled').length;
  assert.equal(acked, 100, 'every good record acked');
  assert.equal(settled[50]?.status, 'rejected', 'the poison record is not acked');
  await running.waitFor(() => seqsOf(running).length === 100, 'the 100 good records');
  assert.deepEqual(seqsOf(running).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.equal(running.countLines(/\[ warn\] \[input:forward:forward\.0\] Message message from 127\.0\.0\.1:\d+ refused, not acknowledged \(1 record\): record nested deeper than 64 levels/), 1, running.logs());
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'forward.0'), 1);
});

test('forward, raw client: a 1,500-level record gets no ack; a message with an ack request is taken whole or not at all', async (t) => {
  const running = await startAgent(forwardArgs);
  t.after(() => running.stop());
  const time = 1_700_000_000;
  const good = (seq: number): Buffer => jsonTextToMsgpack(`{"seq":${seq}}`);
  const deep = nestedMaps(1500);
  const frame = (parts: Buffer[]): Buffer => {
    const w = new MsgpackWriter();
    w.arrayHeader(parts.length);
    for (const part of parts) w.raw(part);
    return w.bytes();
  };
  const str = (text: string): Buffer => Buffer.from(encode(text));
  const entries = (...bodies: Buffer[]): Buffer => frame(bodies.map((body) => frame([Buffer.from(encode(time)), body])));
  const chunkOption = (id: string): Buffer => Buffer.from(encode({ chunk: id }));
  const frames = Buffer.concat([
    frame([str('app'), Buffer.from(encode(time)), good(1), chunkOption('c1')]),
    frame([str('app'), Buffer.from(encode(time)), deep, chunkOption('c2')]),
    // Forward mode with an ack request: refused whole, so a resend cannot duplicate seq 2 and 3.
    frame([str('app'), entries(good(2), deep, good(3)), chunkOption('c3')]),
    // Without an ack request, the good entries go through and the poison one costs only itself.
    frame([str('app'), entries(good(4), deep, good(5))]),
    frame([str('app'), Buffer.from(encode(time)), good(6), chunkOption('c4')]),
  ]);
  const socket = net.connect(forwardPort(running), '127.0.0.1');
  t.after(() => socket.destroy());
  let closedByServer = false;
  socket.on('close', () => (closedByServer = true));
  const received: Buffer[] = [];
  socket.on('data', (data: Buffer) => received.push(data));
  socket.write(frames);
  await running.waitFor(() => seqsOf(running).length === 4, 'the four records that can be taken');
  const ackBytes = Buffer.from(encode({ ack: 'c1' })).length;
  await waitFor(() => Buffer.concat(received).length >= 2 * ackBytes, 'two acks');
  await sleep(200);
  const acks = [...decodeMulti(Buffer.concat(received))];
  assert.deepEqual(acks, [{ ack: 'c1' }, { ack: 'c4' }]);
  assert.deepEqual(seqsOf(running), [1, 4, 5, 6]);
  assert.equal(closedByServer, false, 'the connection stays up for the next messages');
  assert.match(running.logs(), /Message message from [^ ]+ refused, not acknowledged \(1 record\): record nested deeper than 64 levels/);
  assert.match(running.logs(), /Forward message from [^ ]+ refused, not acknowledged \(3 records\): entry 1: record nested deeper than 64 levels/);
  assert.match(running.logs(), /1 invalid entry in a Forward message from [^ ]+ skipped: entry 1: record nested deeper than 64 levels/);
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'forward.0'), 1 + 3 + 1);
});

// ---------------------------------------------------------------------------------------------------------
// websocket input

/** One message of `count` V2 events `{"seq": first + i}`, optionally with a poison record inserted at `poisonAt`. */
function eventsMessage(first: number, count: number, poisonAt = -1): Buffer {
  const w = new MsgpackWriter();
  for (let i = 0; i < count; i++) {
    if (i === poisonAt) writeEvent(w, 1_700_000_000, 0, null, nestedMaps(1500));
    writeEvent(w, 1_700_000_000, 0, null, jsonTextToMsgpack(`{"seq":${first + i}}`));
  }
  return w.bytes();
}

test('websocket input, two clients each sending poison records: every good record arrives, each message is ponged, both connections stay open', async (t) => {
  const input = await startInput(t);
  const clients = [await openClient(input.url()), await openClient(input.url())];
  t.after(() => {
    for (const client of clients) client.close();
  });
  // As a Fluent Bit sender does: 11-record messages, each followed by the confirmation ping. Every
  // third message carries one poison record among its 10 good ones.
  let sentGood = 0;
  let poisons = 0;
  for (let round = 0; round < 9; round++) {
    for (const [index, client] of clients.entries()) {
      const first = index * 100_000 + round * 100;
      const poisoned = round % 3 === 1;
      await client.send(poisoned ? eventsMessage(first, 10, 4) : eventsMessage(first, 10));
      sentGood += 10;
      if (poisoned) poisons++;
      assert.equal(await client.ping(`c${index}r${round}`), `c${index}r${round}`, 'the message is confirmed');
    }
  }
  await input.running.waitFor(() => input.events().length >= sentGood, `the ${sentGood} good records`);
  const received = input.events().map((event) => (event.body as { seq: number }).seq).sort((a, b) => a - b);
  const expected = clients.flatMap((_, index) => Array.from({ length: 9 * 10 }, (_, i) => index * 100_000 + Math.floor(i / 10) * 100 + (i % 10)));
  assert.equal(received.length, sentGood, 'good records sent = received');
  assert.deepEqual(received, expected);
  for (const client of clients) {
    assert.equal(client.closeCode, undefined, 'the connection stays open');
    assert.equal(client.ws.readyState, client.ws.OPEN);
  }
  assert.equal(poisons, 6);
  assert.equal(input.metric('wsbit_input_rejected_records_total'), poisons);
  // The log's repeat limit may fold the later lines of a burst; the metric counts every one.
  assert.match(input.logs(), /1 invalid record in a message from 127\.0\.0\.1:\d+ skipped: event 4: record nested deeper than 64 levels/);
});

test('websocket input: an over-deep JSON record is skipped alone, as an object or an array element; records at the limit are taken', async (t) => {
  const input = await startInput(t);
  const atLimit = JSON.stringify(nestedObject(MAX_NESTING_DEPTH - 1));
  const client = await openClient(input.url());
  t.after(() => client.close());
  await client.send(`${atLimit}\n[${atLimit}]`);
  await client.ping('ok');
  await input.running.waitFor(() => input.events().length === 2, 'the two records at the limit');
  const deep = JSON.stringify({ seq: -1, poison: nestedObject(1500), text: 'a "]}" in a string' });
  await client.send(`{"seq":1}\n${deep}\n{"seq":2}\n[{"seq":3},${deep},{"seq":4}] {"seq":5}`);
  assert.equal(await client.ping('after'), 'after', 'the message is confirmed');
  await input.running.waitFor(() => input.events().length === 7, 'the five good records after the two at the limit');
  const seqs = input.events().slice(2).map((event) => (event.body as { seq: number }).seq);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(client.closeCode, undefined, 'the connection stays open');
  assert.equal(input.metric('wsbit_input_rejected_records_total'), 2);
  assert.match(input.logs(), /2 invalid records in a message from 127\.0\.0\.1:\d+ skipped: a record nested deeper than 64 levels/);
  // A message that is broken JSON is still refused whole.
  await client.send('{"seq":6}\n{"seq":');
  assert.equal(await client.waitForClose(), 1007);
  assert.equal(input.events().length, 7);
});

// ---------------------------------------------------------------------------------------------------------
// outputs

/** A test input that hands the engine one chunk with a poison record in the middle, as a filter or an old stored chunk could. */
const poisonInput = defineInput({
  kind: 'input',
  name: 'poison',
  description: 'test: one chunk with a record nested 1,500 levels deep among good ones',
  schema: [] as const,
  create(context) {
    return {
      async start() {
        const w = new MsgpackWriter();
        for (let seq = 1; seq <= 6; seq++) {
          writeEvent(w, 1_700_000_000, 0, null, jsonTextToMsgpack(`{"seq":${seq}}`));
          if (seq === 3) writeEvent(w, 1_700_000_000, 0, null, nestedMaps(1500));
        }
        context.emit(w.bytes(), 7);
      },
      pause() {},
      resume() {},
      async stop() {},
    };
  },
});

for (const format of ['msgpack', 'json_lines'] as const) {
  test(`websocket output (${format}): a record it cannot encode is left out, logged with its tag and counted; the rest is delivered`, async (t) => {
    const server = await startCountingServer(format);
    t.after(() => server.close());
    const registry = defaultRegistry();
    registry.register(poisonInput as never);
    const agent = await startTestAgent(
      ['-i', 'poison', '-t', 'app.poison', '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${server.port}`, '-p', `format=${format}`, '-m', '*', '-f', '0.05'],
      { registry },
    );
    t.after(() => agent.stop());
    await agent.waitFor(() => server.records === 6, 'the six good records');
    await agent.waitForLog('left out');
    assert.deepEqual([...server.seqs.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
    assert.equal(agent.countLines(/\[ warn\] \[output:websocket:websocket\.0\] record 3 of chunk '[^']+' left out: record nested deeper than 64 levels \(tag "app\.poison"\)/), 1, agent.logs());
    assert.equal(agent.agent.metrics.get('wsbit_output_rejected_records_total', 'websocket.0'), 1);
    assert.equal(agent.agent.metrics.get('fluentbit_output_dropped_records_total', 'websocket.0'), 1);
    assert.equal(agent.agent.metrics.get('fluentbit_output_errors_total', 'websocket.0'), 0);
  });
}

test('http input: a body with a record past the limit gets 400 and costs only its request; a record at the limit, in an array too, is taken', async (t) => {
  const running = await startAgent(['-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  const port = running.agent.input('http.0')?.listeningPort?.() as number;
  const post = (body: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${port}/app`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const atLimit = JSON.stringify(nestedObject(MAX_NESTING_DEPTH - 1));
  const poison = await post(JSON.stringify([{ seq: 1 }, nestedObject(1500)]));
  assert.equal(poison.status, 400);
  assert.match(await poison.text(), /^error: invalid JSON: nesting deeper than 65 levels at byte \d+/);
  assert.equal((await post(`[${atLimit}, ${atLimit}]`)).status, 201);
  assert.equal((await post(atLimit)).status, 201);
  await running.waitFor(() => running.chunks.flatMap((chunk) => decodeEvents(chunk.data)).length === 3, 'the three records at the limit');
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'http.0'), 1);
});

test('tail with a json parser keeps an over-deep line whole as text, as any line it cannot parse; dummy refuses one at start-up', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-poison-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'app.log');
  const poisonLine = JSON.stringify({ seq: 2, poison: nestedObject(1500) });
  writeFileSync(file, `{"seq":1}\n${poisonLine}\n{"seq":3}\n`);
  const running = await startAgent(['-R', 'conf/parsers.conf', '-i', 'tail', '-p', `path=${file}`, '-p', 'read_from_head=on', '-p', 'parser=json', '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  const bodies = (): unknown[] => running.chunks.flatMap((chunk) => decodeEvents(chunk.data)).map((event) => event.body);
  await running.waitFor(() => bodies().length === 3, 'the three lines');
  // Fluent Bit's tail keeps a line its parser refuses as {"log": line}: flat text, nothing nested.
  assert.deepEqual(bodies(), [{ seq: 1 }, { log: poisonLine }, { seq: 3 }]);
  assert.match(running.logs(), /parser 'json' could not parse a line of .*, keeping it whole: invalid JSON: nesting deeper than 64 levels/);

  const dummy = (depth: number): Promise<InProcessAgent> =>
    // An agent that does start is stopped at once, so a failing assertion cannot leave it running.
    startAgent(['-i', 'dummy', '-p', `dummy=${JSON.stringify(nestedObject(depth))}`, '-o', 'capture']).then(async (agent) => {
      await agent.stop();
      return agent;
    });
  await assert.rejects(dummy(MAX_NESTING_DEPTH + 1), /dummy\.0: .*nesting deeper than 64 levels/);
  await dummy(MAX_NESTING_DEPTH);
});
