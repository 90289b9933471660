/** websocket_server's message ids (`message_id_key`) and resuming with `?last_received=ID`, with real `ws` clients. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { decode } from '@msgpack/msgpack';
import { closeAllClients, expectRefused, metric, startServer, stopAllServers, wsClient, type TestClient } from './websocket-server-support.js';

afterEach(async () => {
  closeAllClients();
  await stopAllServers();
});

const batch = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ body: `{"n":${from + i}}` }));

function messages(client: TestClient, binary = false): unknown[] {
  return client.frames.map((frame) => (binary ? decode(frame.data) : JSON.parse(frame.data.toString())) as unknown);
}

/** The `id` of each record message; a control message shows as itself. */
function ids(client: TestClient, binary = false): unknown[] {
  return messages(client, binary).map((message) => (Array.isArray(message) ? (message[message.length - 1] as { id: number }).id : message));
}

describe('websocket_server message ids and resume', () => {
  it('gives every record a rising id; a client that reconnects with last_received gets what passed meanwhile, with no gap and no duplicate', async () => {
    const server = await startServer({ message_id_key: 'id', buffered_messages: 100 });
    const first = await wsClient(server.url());
    await server.flush('app', batch(1, 5));
    await first.waitForFrames(5);
    assert.deepEqual(messages(first)[0], ['app', { n: 1, id: 1 }]);
    const before = ids(first);
    first.close();
    await server.flush('app', batch(6, 3));
    const last = before[before.length - 1] as number;
    const again = await wsClient(server.url(`/?last_received=${last}`));
    await again.waitForFrames(3);
    await server.flush('app', batch(9, 2));
    await again.waitForFrames(5);
    assert.deepEqual(before, [1, 2, 3, 4, 5]);
    assert.deepEqual(ids(again), [6, 7, 8, 9, 10]);
    assert.deepEqual(
      messages(again).map((message) => (message as [string, { n: number }])[1].n),
      [6, 7, 8, 9, 10],
    );
    // Up to date: nothing replayed, no control message.
    const current = await wsClient(server.url('/?last_received=10'));
    await server.flush('app', batch(11, 1));
    await current.waitForFrames(1);
    assert.deepEqual(ids(current), [11]);
    assert.equal(metric(server, 'wsbit_output_broadcast_resume_gaps_total'), 0);
  });

  it('tells a client resuming from before the buffer how many records it missed, then sends the whole buffer (JSON and msgpack)', async () => {
    for (const use_msgpack of [false, true]) {
      const server = await startServer({ message_id_key: 'seq', buffered_messages: 3, use_msgpack });
      await server.flush('app', batch(1, 10));
      const client = await wsClient(server.url('/?last_received=2'));
      await client.waitForFrames(4);
      await server.flush('app', batch(11, 1));
      await client.waitForFrames(5);
      const got = messages(client, use_msgpack);
      assert.deepEqual(got[0], { missed: 5, first_id: 8 });
      assert.deepEqual(
        got.slice(1).map((message) => (message as [string, { seq: number }])[1].seq),
        [8, 9, 10, 11],
      );
      assert.equal(client.frames[0]!.binary, use_msgpack);
      assert.equal(metric(server, 'wsbit_output_broadcast_resume_gaps_total'), 1);
      assert.ok(server.logLines.some((line) => line.includes('resumed after id 2: 5 records no longer buffered')));
      await server.stop();
    }
  });

  it('counts records that passed with no client and no buffer; an id never issued (a restarted server) gets the whole buffer', async () => {
    const server = await startServer({ message_id_key: 'id' });
    await server.flush('app', batch(1, 4));
    const late = await wsClient(server.url('/?last_received=1'));
    await server.flush('app', batch(5, 1));
    await late.waitForFrames(2);
    assert.deepEqual(ids(late), [{ missed: 3, first_id: 5 }, 5]);

    const buffered = await startServer({ message_id_key: 'id', buffered_messages: 2 });
    await buffered.flush('app', batch(1, 3));
    const fromBefore = await wsClient(buffered.url('/?last_received=999'));
    await fromBefore.waitForFrames(3);
    assert.deepEqual(ids(fromBefore), [{ missed: null, first_id: 2 }, 2, 3]);
  });

  it("puts the id last, over a record's own field of that name, and into an empty record", async () => {
    const server = await startServer({ message_id_key: 'id', add_tag: false });
    const client = await wsClient(server.url());
    await server.flush('app', [{ body: '{"id":"mine","a":1}' }, { body: '{}' }]);
    await client.waitForFrames(2);
    assert.deepEqual(
      client.frames.map((frame) => frame.data.toString()),
      ['[{"id":"mine","a":1,"id":1}]', '[{"id":2}]'],
    );
  });

  it('refuses last_received without message_id_key or when it is not an id, with HTTP 400', async () => {
    const plain = await startServer();
    assert.equal((await expectRefused(plain.url('/?last_received=3'))).status, 400);
    const ided = await startServer({ message_id_key: 'id' });
    for (const value of ['abc', '-1', '1.5', '9'.repeat(16)]) assert.equal((await expectRefused(ided.url(`/?last_received=${value}`))).status, 400, value);
  });
});
