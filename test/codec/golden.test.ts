/**
 * Byte-exact checks against real Fluent Bit 5.1.1 output (test/fixtures/fluent-bit, see its README): the
 * record of input-record.json, scanned by our JSON scanner, must give the same msgpack chunk and, for every
 * format and date format, the same JSON payload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkToJson, type JsonFormat } from '../../src/codec/json.js';
import { parseDateFormat, type DateFormat } from '../../src/codec/json-numbers.js';
import { countEvents } from '../../src/codec/event.js';
import { chunkOf, fixture, fixtureNames, NSEC, SEC } from './support.js';

const record = fixture('input-record.json').toString('utf8').trim();

interface Case {
  file: string;
  format: JsonFormat;
  dateFormat: DateFormat;
  dateKey: string;
  nsec: number;
}

/** `<format>.date_<variant>.txt` → how Fluent Bit was configured for it (fixtures README). */
function caseOf(file: string): Case {
  const match = /^(json|json_lines|json_stream)\.date_(.+)\.txt$/.exec(file);
  assert.ok(match, `unexpected fixture name ${file}`);
  const variant = match[2]!;
  const dateFormat = variant === 'double_whole_second' || variant === 'key_ts' ? 'double' : parseDateFormat(variant);
  assert.ok(dateFormat, `unknown date format in ${file}`);
  return {
    file,
    format: match[1] as JsonFormat,
    dateFormat,
    dateKey: variant === 'key_ts' ? 'ts' : 'date',
    nsec: variant === 'double_whole_second' ? 0 : NSEC,
  };
}

const cases = fixtureNames().filter((name) => name.endsWith('.txt')).map(caseOf);

test('there is a golden file for every format and date format', () => {
  assert.equal(cases.length, 9);
  assert.deepEqual(new Set(cases.map((c) => c.format)), new Set(['json', 'json_lines', 'json_stream']));
});

for (const c of cases) {
  test(`golden ${c.file}`, () => {
    const chunk = chunkOf({ body: record, nsec: c.nsec });
    const payload = chunkToJson(chunk, { format: c.format, dateKey: c.dateKey, dateFormat: c.dateFormat, escapeUnicode: true });
    // stdout prints the payload, then a newline unless the format is json_lines; one flush per line of the file.
    const printed = c.format === 'json_lines' ? payload : Buffer.concat([payload, Buffer.from('\n')]);
    const file = fixture(c.file);
    const flushes = file.toString('latin1').split('\n').length - 1;
    assert.ok(flushes >= 1);
    assert.equal(file.toString('utf8'), printed.toString('utf8').repeat(flushes));
    assert.ok(file.equals(Buffer.concat(new Array<Buffer>(flushes).fill(printed))));
  });
}

test('golden msgpack.two_records.bin: scanner + event writer produce Fluent Bit chunk bytes', () => {
  const chunk = chunkOf({ body: record }, { body: record });
  const expected = fixture('msgpack.two_records.bin');
  assert.equal(chunk.toString('hex'), expected.toString('hex'));
  assert.equal(countEvents(expected), 2);
});

test("Fluent Bit's own chunk bytes encode to the golden JSON payloads", () => {
  const chunk = fixture('msgpack.two_records.bin');
  const single = fixture('json_lines.date_double.txt').toString('utf8').split('\n')[0]!;
  const lines = chunkToJson(chunk, { format: 'json_lines', dateKey: 'date', dateFormat: 'double', escapeUnicode: true });
  assert.equal(lines.toString('utf8'), `${single}\n${single}\n`);
  const stream = chunkToJson(chunk, { format: 'json_stream', dateKey: 'date', dateFormat: 'double', escapeUnicode: true });
  assert.equal(stream.toString('utf8'), `${single}${single}`);
  const array = chunkToJson(chunk, { format: 'json', dateKey: 'date', dateFormat: 'double', escapeUnicode: true });
  assert.equal(array.toString('utf8'), `[${single},${single}]`);
});
