/**
 * A malformed message in a tcp or stdin JSON stream costs only itself: the stream resynchronises at the
 * next newline, the skipped bytes are logged (cut and escaped) and counted (issue 12, item 5). A record
 * nested deeper than the shared limit is one such message (item 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MAX_NESTING_DEPTH } from '../../src/codec/limits.js';
import { startAgent } from '../helpers/pipeline.js';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';

const tcpArgs = ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'capture', '-f', '0.05'];

/** Writes `payload` in one write from a raw client, then closes. */
function sendOnce(port: number, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

const goodLines = (count: number): string => Array.from({ length: count }, (_, i) => `{"seq":${i}}\n`).join('');

/** `{"d":{"d":...{"d":1}}}`: a record `depth` levels deep (the record itself is level 1). */
const nested = (depth: number): string => '{"d":'.repeat(depth - 1) + '{"d":1}' + '}'.repeat(depth - 1);

test('tcp json: `oops` followed by 1,000 good lines in one write delivers the 1,000', async (t) => {
  const running = await startAgent(tcpArgs);
  t.after(() => running.stop());
  await sendOnce(running.tcpPort(), `oops\n${goodLines(1000)}`);
  await running.waitFor(() => running.events().length === 1000, '1,000 records');
  assert.deepEqual(running.events().map((event) => event.body), Array.from({ length: 1000 }, (_, i) => ({ seq: i })));
  assert.equal(running.countLines(/invalid JSON from 127\.0\.0\.1:\d+ \(unexpected character 'o' at byte 0, expected a JSON value\), skipped 4 bytes up to the next newline: "oops"\n$/), 1, running.logs());
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'tcp.0'), 1);
});

test('tcp json: bad messages between good ones cost only themselves; skipped bytes are logged escaped and cut', async (t) => {
  const running = await startAgent(tcpArgs);
  t.after(() => running.stop());
  const hostile = `\u001b[31m{"forged":"\r[ info] fake\u0007line"${'x'.repeat(5000)}`;
  const text = `{"n":1}{"bad": nope}\n{"n":2}\n${hostile}\n{"n":3} {"n":4}\n{"unterminated": [1,\n}\n{"n":5}\n`;
  await sendOnce(running.tcpPort(), text);
  await running.waitFor(() => running.events().length === 5, 'the five good records');
  assert.deepEqual(running.events().map((event) => event.body), [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
  const skipped = running.lines.filter((line) => line.includes('skipped'));
  assert.equal(skipped.length, 3, skipped.join(''));
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'tcp.0'), 3);
  // One physical line per report: no raw control character or newline from the peer, and the 5 KB cut.
  for (const line of running.lines) assert.doesNotMatch(line.slice(0, -1), /[\u0000-\u001f]/);
  const report = skipped[1] ?? '';
  assert.ok(report.includes('"\\u001b[31m{\\"forged\\":\\"\\r[ info] fake\\u0007line\\"xxx'), report);
  assert.ok(report.length < 600 && report.includes(`… (${Buffer.byteLength(hostile)} bytes)`), report);
});

test(`tcp json: a record nested deeper than ${MAX_NESTING_DEPTH} levels is refused alone`, async (t) => {
  const running = await startAgent(tcpArgs);
  t.after(() => running.stop());
  const limitArray = '['.repeat(MAX_NESTING_DEPTH - 1) + ']'.repeat(MAX_NESTING_DEPTH - 1);
  const text = `{"before":1}\n${nested(1500)}\n${nested(MAX_NESTING_DEPTH + 1)}\n${nested(MAX_NESTING_DEPTH)}\n${limitArray}\n[${limitArray}]\n{"after":1}\n`;
  await sendOnce(running.tcpPort(), text);
  await running.waitFor(() => running.events().length === 4, 'the four records within the limit');
  const bodies = running.events().map((event) => event.body);
  assert.deepEqual(bodies[0], { before: 1 });
  assert.equal(JSON.stringify(bodies[1]), nested(MAX_NESTING_DEPTH));
  // A top-level array becomes {"msg": [...]}: the map counts as a level too.
  assert.equal(JSON.stringify(bodies[2]), `{"msg":${limitArray}}`);
  assert.deepEqual(bodies[3], { after: 1 });
  assert.equal(running.countLines(/nesting deeper than \d+ levels/), 3, running.logs());
  assert.equal(running.agent.metrics.get('wsbit_input_rejected_records_total', 'tcp.0'), 3);
});

test('stdin: a malformed line and an over-deep record cost only themselves (spawned bin/wsbit)', async (t) => {
  const stdin = `oops\n${goodLines(500)}${nested(MAX_NESTING_DEPTH + 1)}\n[1700000000, ${nested(MAX_NESTING_DEPTH)}]\n${goodLines(500)}`;
  const agent = spawnAgent(['-i', 'stdin', '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_key=false', '-f', '0.05'], { stdin });
  t.after(() => agent.stop());
  await waitFor(() => agent.stdout().split('\n').length > 1001, `1,001 records on stdout\n${agent.stderr()}`, 30_000);
  await agent.stop();
  const lines = agent.stdout().trim().split('\n');
  assert.equal(lines.length, 1001);
  assert.equal(lines.filter((line) => line.startsWith('{"seq":')).length, 1000);
  assert.equal(lines.filter((line) => line === nested(MAX_NESTING_DEPTH)).length, 1);
  assert.match(agent.stderr(), /\[ warn\] \[input:stdin:stdin\.0\] invalid JSON \(unexpected character 'o' at byte 0, expected a JSON value\), skipped 4 bytes up to the next newline: "oops"\n/);
  assert.match(agent.stderr(), /invalid JSON \(nesting deeper than 64 levels at byte \d+\), skipped \d+ bytes/);
});
