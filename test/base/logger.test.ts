/**
 * The log never floods (issue 12, item 6): a burst of one message is printed a few times and then
 * summarised with a true count, and values a peer chose are cut and escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEpisode, LogRoot, quoteUntrusted, repeatKey, repeatPolicies } from '../../src/base/logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

function capture(repeatLimit = { burst: 3, windowMs: 300 }): { root: LogRoot; lines: string[] } {
  const lines: string[] = [];
  const root = new LogRoot({ sink: { write: (line) => lines.push(line) }, repeatLimit });
  return { root, lines };
}

test('repeatKey: peer addresses, ports, counters and quoted peer values do not make a message new', () => {
  const same = [
    ['refused client 127.0.0.1:40112: missing or wrong token (HTTP 401)', 'refused client 10.1.2.3:5: missing or wrong token (HTTP 401)'],
    ['refused client [::ffff:127.0.0.1]:40112: x', 'refused client [fe80::1a2b]:9: x'],
    ['record 3 of chunk \'1-1700000000.123\' left out', 'record 12 of chunk \'9-1700000001.5\' left out'],
    ['path "/a" is not /ingest', 'path "/very/\\"long\\"/other" is not /ingest'],
  ];
  for (const [a, b] of same) assert.equal(repeatKey(a!), repeatKey(b!), `${a} ~ ${b}`);
  assert.notEqual(repeatKey('refused client 1.2.3.4:5: missing or wrong token'), repeatKey('refused client 1.2.3.4:5: origin "x" is not in allowed_origins'));
});

test('a burst is printed `burst` times, then summarised once per window with the true count', async () => {
  const { root, lines } = capture();
  const input = root.scoped('input:websocket:websocket.0');
  const other = root.scoped('input:websocket:websocket.1');
  for (let port = 1000; port < 1100; port++) input.warn(`refused client 127.0.0.1:${port}: missing or wrong token (HTTP 401)`);
  other.warn('refused client 127.0.0.1:7: missing or wrong token (HTTP 401)');
  input.info('listening on 127.0.0.1:1');
  assert.equal(lines.length, 3 + 1 + 1, lines.join(''));
  assert.match(lines[0] ?? '', /\[ warn\] \[input:websocket:websocket\.0\] refused client 127\.0\.0\.1:1000: /);
  assert.match(lines[3] ?? '', /\[input:websocket:websocket\.1\] refused client/, 'another instance is counted apart');
  await waitFor(() => lines.length === 6, 'the summary', 5000);
  assert.match(
    lines[5] ?? '',
    /^\[[^\]]+\] \[ warn\] \[input:websocket:websocket\.0\] refused client 127\.0\.0\.1:1099: missing or wrong token \(HTTP 401\) \(… repeated 97 more times in the last 0\.3 s\)\n$/,
  );
  // A new window starts over.
  input.warn('refused client 127.0.0.1:1: missing or wrong token (HTTP 401)');
  assert.equal(lines.length, 7);
  await sleep(400);
  assert.equal(lines.length, 7, 'no summary for a window with nothing held back');
});

test('debug and trace lines are never held back; flushRepeats writes open summaries at once', () => {
  const { root, lines } = capture({ burst: 1, windowMs: 60_000 });
  root.level = 'trace';
  const logger = root.scoped('engine');
  for (let i = 0; i < 5; i++) logger.debug(`step ${i}`);
  for (let i = 0; i < 5; i++) logger.error(`chunk ${i} failed`);
  assert.equal(lines.length, 5 + 1);
  root.flushRepeats();
  assert.equal(lines.length, 7);
  assert.match(lines[6] ?? '', /\[error\] \[engine\] chunk 4 failed \(… repeated 4 more times in the last 60 s\)\n$/);
  root.flushRepeats();
  assert.equal(lines.length, 7, 'each summary is written once');
});

test('a repeating line: all its messages are one, written once per window and summarised in the same words', async () => {
  const { root, lines } = capture();
  const logger = root.scoped('filter:type_converter:type_converter.0');
  const failed = logger.repeating('error', { burst: 1, windowMs: 300 });
  const other = logger.repeating('error', { burst: 1, windowMs: 300 });
  for (const key of ['a', 'b', 'c']) failed.log(`failed to convert. key=${key}`);
  other.log('failed to convert. key=a');
  assert.equal(lines.length, 2, 'each repeating line has a window of its own');
  assert.match(lines[0] ?? '', /\[error\] \[filter:type_converter:type_converter\.0\] failed to convert\. key=a\n$/);
  await waitFor(() => lines.length === 3, 'the summary', 5000);
  assert.match(lines[2] ?? '', /\] failed to convert\. key=c \(… repeated 2 more times in the last 0\.3 s\)\n$/);
  assert.deepEqual(repeatPolicies.perRecord, { burst: 1, windowMs: 60_000 });
  root.level = 'off';
  failed.log('failed to convert. key=d');
  assert.equal(lines.length, 3, 'a disabled level writes nothing');
});

test('LogEpisode: opened once, each kind of event first once, reminders at doubling gaps, closed by end()', () => {
  let now = 0;
  const episode = new LogEpisode(() => now, 60_000);
  assert.equal(episode.sinceMs, null);
  assert.equal(episode.begin(), true);
  assert.equal(episode.begin(), false);
  assert.equal(episode.firstOf('ECONNREFUSED'), true);
  assert.equal(episode.firstOf('ECONNREFUSED'), false);
  assert.equal(episode.firstOf('ETIMEDOUT'), true);
  const reminders: number[] = [];
  for (now = 0; now <= 600_000; now += 1000) if (episode.reminderDue()) reminders.push(now / 1000);
  assert.deepEqual(reminders, [60, 180, 420]);
  now = 700_000;
  episode.restartReminders();
  assert.equal(episode.reminderDue(), false);
  now = 760_000;
  assert.equal(episode.reminderDue(), true);
  assert.equal(episode.end(), 0);
  assert.equal(episode.sinceMs, null);
  assert.equal(episode.firstOf('ECONNREFUSED'), true, 'a new episode starts with nothing seen');
});

test('LogEpisode with maxReminderMs: the gaps double up to the cap, then stay there', () => {
  let now = 0;
  const episode = new LogEpisode(() => now, 5_000, 60_000);
  episode.begin();
  const reminders: number[] = [];
  for (now = 0; now <= 300_000; now += 1000) if (episode.reminderDue()) reminders.push(now / 1000);
  assert.deepEqual(reminders, [5, 15, 35, 75, 135, 195, 255]);
});

test('quoteUntrusted: cut to a few hundred characters, every control character escaped, the full size said', () => {
  assert.equal(quoteUntrusted('/ingest?x=1'), '"/ingest?x=1"');
  assert.equal(quoteUntrusted('a\nb\r\u001b[31m"\\'), '"a\\nb\\r\\u001b[31m\\"\\\\"');
  const long = quoteUntrusted('x'.repeat(10_000));
  assert.equal(long, `"${'x'.repeat(200)}"… (10000 characters)`);
  assert.equal(quoteUntrusted(Buffer.from('oops')), '"oops"');
  const bytes = quoteUntrusted(Buffer.alloc(1_000_000, 0x0a));
  assert.equal(bytes, `"${'\\n'.repeat(200)}"… (1000000 bytes)`);
  // A cut never splits a surrogate pair; invalid UTF-8 shows as U+FFFD.
  assert.equal(quoteUntrusted(`${'a'.repeat(199)}😀tail`), `"${'a'.repeat(199)}"… (205 characters)`);
  assert.equal(quoteUntrusted(Buffer.from([0x61, 0xff, 0x62])), '"a\uFFFDb"');
});
