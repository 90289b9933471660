import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { parseProcStat } from '../../src/plugins/inputs/cpu.js';
import { unescapeSeparator } from '../../src/plugins/inputs/separator.js';
import { tempDir } from '../helpers/temp.js';

function tcpPort(running: InProcessAgent, instance = 'tcp.0'): number {
  const port = running.agent.input(instance)?.listeningPort?.();
  if (typeof port !== 'number') throw new Error('tcp input is not listening');
  return port;
}

function send(port: number, pieces: Array<string | Buffer>, gapMs = 5): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      socket.end();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

const tcpArgs = (...extra: string[]) => ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...extra, '-o', 'capture', '-f', '0.05'];

test('tcp json: concatenated objects split across reads become records in order, exactly', async (t) => {
  const running = await startAgent(tcpArgs());
  t.after(() => running.stop());
  const text = '{"a":1}{"b":[1,2.5,"x"]}\n{"big":18446744073709551615,"f":3.0}  {"dup":1,"dup":2}';
  // One byte per write: the scanner must cope with any split.
  await send(tcpPort(running), [...text].map((c) => c), 1);
  await waitFor(() => running.events().length === 4, 'four records');
  const bodies = running.events().map((event) => event.body);
  assert.deepEqual(bodies[0], { a: 1 });
  assert.deepEqual(bodies[1], { b: [1, 2.5, 'x'] });
  assert.deepEqual(bodies[2], { big: 18446744073709551615n, f: 3 });
  // Duplicate keys are kept in the bytes (Fluent Bit keeps them too); decoding collapses them.
  const raw = Buffer.concat(running.chunks.map((c) => c.data));
  assert.ok(raw.includes(Buffer.from([0x82, 0xa3, 0x64, 0x75, 0x70, 0x01, 0xa3, 0x64, 0x75, 0x70, 0x02])));
  // 3.0 stays a float64 (cb 40 08 ...).
  assert.ok(raw.includes(Buffer.from([0xa1, 0x66, 0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0])));
});

test('tcp json: large reads that split values anywhere, including values longer than a read, give every record in order', async (t) => {
  const running = await startAgent(tcpArgs());
  t.after(() => running.stop());
  const bodies: Array<Record<string, unknown>> = [];
  for (let n = 0; n < 400; n++) bodies.push({ n, msg: 'm'.repeat(n % 7 === 0 ? 9000 : 80 + (n % 13)), esc: 'a"b\\c' });
  const text = bodies.map((body) => JSON.stringify(body)).join('\n');
  // Pieces of 5–11 KB cut at arbitrary places, so a read ends mid-value and the next one is large.
  const pieces: string[] = [];
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = 5000 + ((i * 1777) % 6000);
    pieces.push(text.slice(at, at + size));
    at += size;
  }
  await send(tcpPort(running), pieces, 2);
  await waitFor(() => running.events().length === bodies.length, `${bodies.length} records`, 20_000);
  assert.deepEqual(running.events().map((event) => event.body), bodies);
  // Pretty-printed values have newlines inside them, so the first newline of a read need not end one.
  const pretty = bodies.slice(0, 60).map((body) => JSON.stringify({ ...body, nested: { list: [1, 2, 3] } }, null, 2)).join('\n');
  const prettyPieces: string[] = [];
  for (let at = 0; at < pretty.length; at += 6007) prettyPieces.push(pretty.slice(at, at + 6007));
  await send(tcpPort(running), prettyPieces, 2);
  await waitFor(() => running.events().length === bodies.length + 60, 'the pretty-printed records', 20_000);
  assert.deepEqual(
    running.events().slice(bodies.length).map((event) => event.body),
    bodies.slice(0, 60).map((body) => ({ ...body, nested: { list: [1, 2, 3] } })),
  );
});

test('tcp json: a top-level array becomes {"msg": [...]}, other values are rejected and counted', async (t) => {
  const running = await startAgent(tcpArgs());
  t.after(() => running.stop());
  await send(tcpPort(running), ['[1,2]', ' "str" 42 ', '{"ok":true}']);
  await waitFor(() => running.events().length === 2, 'two records');
  assert.deepEqual(running.events().map((e) => e.body), [{ msg: [1, 2] }, { ok: true }]);
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'tcp.0'), 2);
  assert.ok(running.lines.some((line) => line.includes('a top-level string is not a record')));
});

test('tcp json: invalid JSON is logged and skipped, and the connection keeps working', async (t) => {
  const running = await startAgent(tcpArgs());
  t.after(() => running.stop());
  const port = tcpPort(running);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('{"a":1}{"bad": nope}');
      setTimeout(() => socket.end('{"after":"bad"}'), 100);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  await waitFor(() => running.events().length === 2, 'the records around the bad one');
  assert.deepEqual(running.events().map((e) => e.body), [{ a: 1 }, { after: 'bad' }]);
  assert.ok(running.lines.some((line) => /\[ warn\] \[input:tcp:tcp\.0\] invalid JSON from .* skipped 13 bytes up to the next newline: /.test(line)), running.lines.join(''));
});

test('tcp json: a message larger than buffer_size closes that connection only', async (t) => {
  const running = await startAgent(tcpArgs('-p', 'buffer_size=1'));
  t.after(() => running.stop());
  const port = tcpPort(running);
  await send(port, [`{"big":"${'x'.repeat(2000)}`]);
  await send(port, ['{"small":1}']);
  await waitFor(() => running.events().length === 1, 'the small record');
  assert.ok(running.lines.some((line) => line.includes("incoming data exceeds 'Buffer_Size' (1 KB)")));
});

test('tcp none: one {"log": line} record per separated line; a custom separator works', async (t) => {
  const running = await startAgent(tcpArgs('-p', 'format=none', '-p', 'separator=\\r\\n'));
  t.after(() => running.stop());
  await send(tcpPort(running), ['first line\r\nsec', 'ond\r\n\r\nlast without separator']);
  await waitFor(() => running.events().length === 3, 'three lines');
  assert.deepEqual(running.events().map((e) => e.body), [{ log: 'first line' }, { log: 'second' }, { log: 'last without separator' }]);
});

test('tcp: the records are stamped with the time of reception', async (t) => {
  const running = await startAgent(tcpArgs());
  t.after(() => running.stop());
  const before = Date.now() / 1000;
  await send(tcpPort(running), ['{"a":1}']);
  await waitFor(() => running.events().length === 1, 'a record');
  const event = running.events()[0];
  assert.ok(event !== undefined && event.sec + event.nsec / 1e9 >= before - 0.01 && event.sec <= Date.now() / 1000);
});

test('dummy: samples, copies, metadata and a fixed start time', async (t) => {
  const running = await startAgent([
    '-i', 'dummy', '-p', 'dummy={"n":1}', '-p', 'metadata={"m":"x"}', '-p', 'rate=50', '-p', 'samples=3', '-p', 'copies=2',
    '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789', '-p', 'fixed_timestamp=on', '-p', 'flush_on_startup=on',
    '-o', 'capture', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await waitFor(() => running.events().length === 6, 'six records');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(running.events().length, 6);
  for (const event of running.events()) {
    assert.deepEqual(event, { sec: 1700000000, nsec: 123456789, metadata: { m: 'x' }, body: { n: 1 } });
  }
});

test('dummy: invalid JSON in the dummy key is a configuration error naming it', async () => {
  await assert.rejects(startAgent(['-i', 'dummy', '-p', 'dummy={"a":', '-o', 'capture']), /dummy\.0: invalid value for 'dummy'|dummy\.0: invalid JSON/);
  await assert.rejects(startAgent(['-i', 'dummy', '-p', 'dummy=[1]', '-o', 'capture']), /expected a JSON object/);
});

test('cpu: /proc/stat deltas become Fluent Bit cpu_p, user_p, system_p and per-core keys', async (t) => {
  const dir = tempDir('wsbit-cpu-');
  const stat = path.join(dir, 'stat');
  const write = (user: number, system: number, idle: number) =>
    writeFileSync(stat, `cpu  ${user * 2} 0 ${system * 2} ${idle * 2} 0 0 0 0 0 0\ncpu0 ${user} 0 ${system} ${idle} 0 0 0 0 0 0\ncpu1 ${user} 0 ${system} ${idle} 0 0 0 0 0 0\nintr 1\n`);
  write(100, 50, 850);
  const running = await startAgent(['-i', 'cpu', '-p', `proc_stat_path=${stat}`, '-p', 'interval_sec=0', '-p', 'interval_nsec=100000000', '-o', 'capture', '-f', '0.05']);
  t.after(() => running.stop());
  write(130, 60, 910);
  await waitFor(() => running.events().length >= 1, 'a sample');
  assert.deepEqual(running.events()[0]?.body, {
    cpu_p: 40, user_p: 30, system_p: 10,
    'cpu0.p_cpu': 40, 'cpu0.p_user': 30, 'cpu0.p_system': 10,
    'cpu1.p_cpu': 40, 'cpu1.p_user': 30, 'cpu1.p_system': 10,
  });
  assert.equal(parseProcStat('cpu  1 2 3 4 5 6 7 8\n')[0]?.total, 36);
});

test('separator escapes are understood', () => {
  assert.equal(unescapeSeparator('\\r\\n'), '\r\n');
  assert.equal(unescapeSeparator('\\t|'), '\t|');
  assert.equal(unescapeSeparator('END'), 'END');
});
