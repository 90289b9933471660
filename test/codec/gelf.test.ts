import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkToGelf, type GelfOptions } from '../../src/codec/gelf.js';
import { MsgpackWriter } from '../../src/codec/msgpack-writer.js';
import { chunkOf, type TestEvent } from './support.js';

function gelf(body: string | Uint8Array, options: Partial<GelfOptions> = {}, event: Partial<TestEvent> = {}): string {
  const { payload, rejected } = chunkToGelf(chunkOf({ body, ...event }), options);
  assert.deepEqual(rejected, []);
  return payload.toString('utf8');
}

test('a full record: renamed GELF fields, _ prefixes, flattening, id dropped, nil skipped, bools quoted, %f floats', () => {
  const body =
    '{"short_message":"hello","host":"web-1","level":"err","id":7,"user":{"name":"bob","geo":{"city":"x"}},' +
    '"tags":["a",1,true],"ok":true,"n":null,"ratio":0.5,"bad key!":"v","neg":-5,"big":18446744073709551615}';
  assert.equal(
    gelf(body),
    '{"version":"1.1", "short_message":"hello", "host":"web-1", "level":3, "_user_name":"bob", "_user_geo_city":"x", ' +
      '"_tags":"a, 1, true", "_ok":"true", "_ratio":0.500000, "_bad_key_":"v", "_neg":-5, "_big":18446744073709551615, ' +
      '"timestamp":1700000000.123}\n',
  );
});

test('level: syslog names (any case) and "0".."7" become ints; other strings stay; other types fail the record', () => {
  const level = (value: string): string => gelf(`{"short_message":"m","level":${value}}`, {}, { nsec: 0 });
  assert.match(level('"err"'), /"level":3,/);
  assert.match(level('"ERR"'), /"level":3,/);
  assert.match(level('"warning"'), /"level":4,/);
  assert.match(level('"debug"'), /"level":7,/);
  assert.match(level('"5"'), /"level":5,/);
  assert.match(level('6'), /"level":6,/);
  assert.match(level('9'), /"level":9,/); // Fluent Bit only warns
  // "error" is not one of Fluent Bit's names (it knows "err"), so it stays a string, as in flb_pack_gelf.c
  assert.match(level('"error"'), /"level":"error",/);
  for (const bad of ['-1', '1.5', 'true', '{"a":1}', 'null']) {
    const { rejected } = chunkToGelf(chunkOf({ body: `{"short_message":"m","level":${bad}}` }));
    assert.deepEqual(rejected, [{ index: 0, reason: 'level must be a non-negative integer or a string' }], bad);
  }
});

test('a record without a short message is rejected while the others are encoded', () => {
  const chunk = chunkOf({ body: '{"short_message":"one"}' }, { body: '{"message":"no short"}' }, { body: '{"short_message":"three"}', nsec: 5e6 });
  const { payload, rejected } = chunkToGelf(chunk);
  assert.deepEqual(rejected, [{ index: 1, reason: 'missing short_message key' }]);
  assert.equal(
    payload.toString(),
    '{"version":"1.1", "short_message":"one", "timestamp":1700000000.123}\n' +
      '{"version":"1.1", "short_message":"three", "timestamp":1700000000.005}\n',
  );
  assert.equal(chunkToGelf(chunkOf({ body: '{}' })).payload.length, 0);
});

test('configured keys are renamed, only their first occurrence counts, and a record timestamp wins', () => {
  const options = { shortMessageKey: 'log', hostKey: 'hostname', timestampKey: 'ts', fullMessageKey: 'stack', levelKey: 'severity' };
  assert.equal(
    gelf('{"log":"x","hostname":"h","short_message":"y","ts":1.5,"stack":"s","severity":"info","log":"again"}', options),
    '{"version":"1.1", "short_message":"x", "host":"h", "_short_message":"y", "timestamp":1.500000, "full_message":"s", "level":6}\n',
  );
  assert.equal(gelf('{"short_message":"a","timestamp":"2024-01-01"}'), '{"version":"1.1", "short_message":"a", "timestamp":"2024-01-01"}\n');
});

test('nested values: maps inside arrays as key=value, nested nulls kept, id only dropped at the top', () => {
  assert.equal(
    gelf('{"short_message":"a","arr":[{"k":1,"j":{"z":2},"w":3},"q\\"x",[1,[2]]],"m":{"x":null,"id":1,"e":{}}}', {}, { nsec: 0 }),
    '{"version":"1.1", "short_message":"a", "_arr":"k=1j_z=2 w=3, q"x, 1, 2", "_m_x":null, "_m_id":1, "timestamp":1700000000.000}\n',
  );
});

test('strings are escaped like the JSON formats with escape_unicode on; bin keys and ext values', () => {
  assert.equal(gelf('{"short_message":"é\\n\\"☃"}', {}, { nsec: 0 }), '{"version":"1.1", "short_message":"\\u00e9\\n\\"\\u2603", "timestamp":1700000000.000}\n');
  const w = new MsgpackWriter();
  w.mapHeader(3);
  w.bin(Buffer.from('short_message'));
  w.str('m');
  w.str('x');
  w.ext(1, Buffer.from([0x01, 0x80]));
  w.uint(5);
  w.str('int-keyed entries are skipped');
  assert.equal(gelf(w.bytes(), {}, { nsec: 0 }), '{"version":"1.1", "short_message":"m", "_x":"\\x01\\x80", "timestamp":1700000000.000}\n');
});
