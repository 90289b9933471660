/**
 * The tcp input's source_address_key against Fluent Bit 5.1.1's records
 * (test/fixtures/fluent-bit/tcp-source-address/make.sh): JSON records get `tcp://ADDRESS:PORT`, lines none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { readFluentBitJsonLines } from '../helpers/golden.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startAgent } from '../helpers/pipeline.js';

for (const format of ['json', 'none'] as const) {
  test(`source_address_key with format ${format}: the records are Fluent Bit's`, async (t) => {
    const expected = readFluentBitJsonLines(path.join(fluentBitFixtures, 'tcp-source-address', `expected.${format}.txt`));
    const running = await startAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', `format=${format}`, '-p', 'source_address_key=src', '-o', 'capture', '-m', '*', '-f', '0.05']);
    t.after(() => running.stop());
    let localPort = 0;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(running.tcpPort(), '127.0.0.1', () => {
        localPort = socket.localPort ?? 0;
        socket.end('{"a":1}\n[1,2]\n');
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await running.waitFor(() => running.chunks.flatMap((chunk) => decodeEvents(chunk.data)).length === expected.length, `${expected.length} records`);
    const records = running.chunks.flatMap((chunk) => decodeEvents(chunk.data)).map((event) => JSON.stringify(event.body).replace(`tcp://127.0.0.1:${localPort}`, 'tcp://127.0.0.1:PORT'));
    assert.deepEqual(records, expected);
  });
}
