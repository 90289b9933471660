/**
 * wsbit's websocket output → wsbit's websocket input, in every payload format and date format: the
 * events the input hands to its engine are compared byte for byte with the events the sender's dummy
 * input made. Bodies must be identical (64-bit integers, 3.0 as a float64, unicode, control
 * characters, nesting); times are compared at the precision each format carries: msgpack exact, the
 * double date to the microsecond (Fluent Bit prints %.16g), iso8601 and java_sql_timestamp to the
 * microsecond (truncated), epoch_ms to the millisecond, epoch to the second.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeEvent } from '../../src/codec/event.js';
import { jsonTextToMsgpack } from '../../src/codec/json-scan.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { startAgent } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { startInput } from './websocket-input-support.js';

/** test/fixtures/fluent-bit/input-record.json: the record behind Fluent Bit 5.1.1's golden files. */
const RECORD =
  '{"key 1":123456789,"key 2":"abcdefg","neg":-42,"float":0.1,"whole_float":3.0,"big":18446744073709551615,"t":true,"f":false,"n":null,' +
  '"arr":[1,"two",{"three":3}],"nested":{"a":{"b":"c"}},"unicode":"h\\u00e9llo \\u2603 \\ud83d\\ude00","ctl":"tab\\there\\nnl \\"q\\" back\\\\slash \\u0001 /"}';
const SEC = 1700000000;

interface Case {
  name: string;
  format: 'msgpack' | 'json' | 'json_lines' | 'json_stream';
  dateFormat?: string;
  nsec?: number;
  /** The nanoseconds the receiver can know. */
  expectNsec: number;
  copies?: number;
  samples?: number;
  output?: string[];
  input?: string[];
  service?: Record<string, string>;
  metadata?: string;
}

const cases: Case[] = [
  { name: 'msgpack', format: 'msgpack', expectNsec: 123456789 },
  { name: 'msgpack with metadata', format: 'msgpack', expectNsec: 123456789, metadata: '{"source":"dummy","level":3}' },
  { name: 'json, date double', format: 'json', dateFormat: 'double', expectNsec: 123457000 },
  { name: 'json_lines, date double', format: 'json_lines', dateFormat: 'double', expectNsec: 123457000 },
  { name: 'json_stream, date double', format: 'json_stream', dateFormat: 'double', expectNsec: 123457000 },
  { name: 'json_lines, date double, whole second (1700000000.0)', format: 'json_lines', dateFormat: 'double', nsec: 0, expectNsec: 0 },
  { name: 'json_lines, date epoch', format: 'json_lines', dateFormat: 'epoch', expectNsec: 0 },
  { name: 'json_lines, date epoch_ms', format: 'json_lines', dateFormat: 'epoch_ms', expectNsec: 123000000 },
  { name: 'json_lines, date iso8601', format: 'json_lines', dateFormat: 'iso8601', expectNsec: 123456000 },
  { name: 'json_lines, date java_sql_timestamp', format: 'json_lines', dateFormat: 'java_sql_timestamp', expectNsec: 123456000 },
  { name: 'json, json_date_key ts / time_key ts', format: 'json', dateFormat: 'double', expectNsec: 123457000, output: ['json_date_key=ts'], input: ['time_key=ts'] },
  { name: 'json_stream, json.escape_unicode off (raw UTF-8)', format: 'json_stream', dateFormat: 'iso8601', expectNsec: 123456000, service: { 'json.escape_unicode': 'off' } },
  { name: 'json, 5000 records', format: 'json', dateFormat: 'double', expectNsec: 123457000, copies: 1000, samples: 5 },
  { name: 'msgpack, 5000 records', format: 'msgpack', expectNsec: 123456789, copies: 1000, samples: 5 },
];

for (const c of cases) {
  test(`round trip ${c.name}`, async (t) => {
    const receiver = await startInput(t, c.input ?? []);
    const samples = c.samples ?? 2;
    const copies = c.copies ?? 1;
    const nsec = c.nsec ?? 123456789;
    const sender = await startAgent(
      [
        '-i', 'dummy', '-t', 'src',
        '-p', `dummy=${RECORD}`,
        '-p', `metadata=${c.metadata ?? '{}'}`,
        '-p', `start_time_sec=${SEC}`, '-p', `start_time_nsec=${nsec}`, '-p', 'fixed_timestamp=on',
        '-p', `samples=${samples}`, '-p', `copies=${copies}`, '-p', 'interval_nsec=50000000',
        '-o', 'websocket', '-m', 'src', '-p', 'host=127.0.0.1', '-p', `port=${receiver.port}`, '-p', `format=${c.format}`,
        ...(c.dateFormat !== undefined ? ['-p', `json_date_format=${c.dateFormat}`] : []),
        ...(c.output ?? []).flatMap((p) => ['-p', p]),
        '-f', '0.05',
      ],
      undefined,
      c.service ?? {},
    );
    t.after(() => sender.stop());
    const total = samples * copies;
    await waitFor(() => receiver.events().length >= total, `${total} records at the receiver`, 20_000);
    await sender.stop();

    // What the receiver must hold: the sender's events, with the time at the format's precision
    // (and, for JSON, empty metadata: JSON formats carry none).
    const body = jsonTextToMsgpack(RECORD);
    const metadata = c.format === 'msgpack' && c.metadata !== undefined ? jsonTextToMsgpack(c.metadata) : null;
    const expected = new MsgpackWriter();
    for (let i = 0; i < total; i++) writeEvent(expected, SEC, c.expectNsec, metadata, body);
    const received = receiver.bytes();
    assert.equal(receiver.events().length, total);
    assert.ok(received.equals(expected.bytes()), `the received events differ from the sent ones:\n${received.subarray(0, 120).toString('hex')}\n${expected.bytes().subarray(0, 120).toString('hex')}`);
    assert.equal(receiver.metric('wsbit_input_rejected_records_total'), 0);
    const messages = receiver.metric('wsbit_input_messages_total');
    t.diagnostic(
      `${c.name}: sent ${total} records, received ${receiver.events().length} in ${messages} messages, events byte-identical; time ${SEC}.${String(c.expectNsec).padStart(9, '0')} (sent ${SEC}.${String(nsec).padStart(9, '0')})`,
    );
  });
}

test('round trip with json_date_key false: bodies identical, times are the reception time', async (t) => {
  const receiver = await startInput(t);
  const sender = await startAgent(
    ['-i', 'dummy', '-t', 'src', '-p', `dummy=${RECORD}`, '-p', `start_time_sec=${SEC}`, '-p', 'start_time_nsec=5', '-p', 'fixed_timestamp=on', '-p', 'samples=1',
      '-p', 'interval_nsec=50000000', '-o', 'websocket', '-m', 'src', '-p', 'host=127.0.0.1', '-p', `port=${receiver.port}`, '-p', 'format=json_lines',
      '-p', 'json_date_key=false', '-f', '0.05'],
  );
  t.after(() => sender.stop());
  await waitFor(() => receiver.events().length === 1, 'the record', 10_000);
  const received = receiver.bytes();
  assert.ok(received.subarray(received.length - jsonTextToMsgpack(RECORD).length).equals(jsonTextToMsgpack(RECORD)));
  assert.ok(Math.abs((receiver.events()[0]?.sec ?? 0) - Date.now() / 1000) < 10);
});
