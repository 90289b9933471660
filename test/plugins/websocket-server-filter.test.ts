/** websocket_server's record filter from the query (fluent-plugin-websocket's `?user=6`), with real `ws` clients. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { decode } from '@msgpack/msgpack';
import { waitFor } from '../helpers/wait.js';
import { closeAllClients, expectRefused, metric, startServer, stopAllServers, wsClient, type TestClient } from './websocket-server-support.js';

afterEach(async () => {
  closeAllClients();
  await stopAllServers();
});

const RECORDS = [
  { body: '{"action":"login","user":6}' },
  { body: '{"action":"login","user":7}' },
  { body: '{"action":"logout","user":"6"}' },
  { body: '{"action":"view","user":6,"kubernetes":{"namespace_name":"prod","labels":{"app":"web"}}}' },
  { body: '{"action":"view","user":8,"kubernetes":{"namespace_name":"dev"}}' },
  { body: '{"action":"ping","ok":true,"n":null,"ratio":1.5}' },
];

const records = (client: TestClient): unknown[] => client.frames.map((frame) => (JSON.parse(frame.data.toString()) as [string, unknown])[1]);
const actions = (client: TestClient): unknown[] => records(client).map((record) => (record as { action: string }).action);

describe('websocket_server record filter', () => {
  it('sends only the records whose fields, printed as text, equal every filter parameter; the others get everything', async () => {
    const server = await startServer();
    const all = await wsClient(server.url());
    const user6 = await wsClient(server.url('/?user=6'));
    const both = await wsClient(server.url('/?user=6&action=login'));
    const accessor = await wsClient(server.url(`/?${encodeURIComponent("$kubernetes['namespace_name']")}=prod`));
    const deep = await wsClient(server.url(`/?${encodeURIComponent("$kubernetes['labels']['app']")}=web&match=app`));
    const scalars = await wsClient(server.url('/?ok=true&n=null&ratio=1.5'));
    const none = await wsClient(server.url('/?user=9'));
    await waitFor(() => server.output.clientCount() === 7, 'seven clients');
    await server.flush('app', RECORDS);
    await all.waitForFrames(6);
    await user6.waitForFrames(3);
    await scalars.waitForFrames(1);
    await deep.waitForFrames(1);
    // A marker that every client takes, so the ones that must get nothing have had their chance.
    await server.flush('app', [{ body: '{"action":"end","user":9,"kubernetes":{"namespace_name":"prod","labels":{"app":"web"}},"ok":true,"n":null,"ratio":1.5}' }]);
    await none.waitForFrames(1);
    await accessor.waitForFrames(2);
    assert.equal(all.frames.length, 7);
    assert.deepEqual(actions(user6), ['login', 'logout', 'view'], 'a number 6 and a string "6" both print as 6');
    assert.deepEqual(actions(both), ['login']);
    assert.deepEqual(actions(accessor), ['view', 'end']);
    assert.deepEqual(actions(deep), ['view', 'end']);
    assert.deepEqual(actions(scalars), ['ping', 'end']);
    assert.deepEqual(actions(none), ['end']);
    assert.ok(server.logLines.some((line) => line.includes("connected with match app, filter $kubernetes['labels']['app']=web")), server.logLines.join(''));
  });

  it('filters the buffered_messages replay and msgpack frames too', async () => {
    const server = await startServer({ buffered_messages: 10, use_msgpack: true });
    await server.flush('app', RECORDS);
    const user7 = await wsClient(server.url('/?user=7'));
    await user7.waitForFrames(1);
    await server.flush('app', RECORDS);
    await user7.waitForFrames(2);
    assert.deepEqual(
      user7.frames.map((frame) => (decode(frame.data) as [string, { user: number }])[1].user),
      [7, 7],
    );
  });

  it('refuses too many, too long or malformed filter parameters with HTTP 400', async () => {
    const server = await startServer({ message_id_key: 'id' });
    const many = Array.from({ length: 9 }, (_, i) => `f${i}=1`).join('&');
    for (const query of [many, `${'k'.repeat(257)}=1`, `user=${'v'.repeat(1025)}`, `${encodeURIComponent('$a[b]')}=1`]) {
      const refused = await expectRefused(server.url(`/?${query}`));
      assert.equal(refused.status, 400, query.slice(0, 40));
    }
    assert.equal(metric(server, 'wsbit_output_broadcast_rejected_clients_total'), 4);
    // Eight is the most, and the server's own parameters do not count.
    const eight = await wsClient(server.url(`/?${Array.from({ length: 8 }, (_, i) => `f${i}=1`).join('&')}&match=*&last_received=0`));
    await server.flush('app', [{ body: '{"f0":1,"f1":1,"f2":1,"f3":1,"f4":1,"f5":1,"f6":1,"f7":1}' }, { body: '{"f0":1}' }]);
    await eight.waitForFrames(1);
    await server.flush('app', [{ body: '{"f0":1,"f1":1,"f2":1,"f3":1,"f4":1,"f5":1,"f6":1,"f7":1,"x":2}' }]);
    await eight.waitForFrames(2);
    assert.equal(eight.frames.length, 2);
  });
});
