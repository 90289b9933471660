/** websocket_server against real clients: the `ws` package and undici's WebSocket, plus raw sockets. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { FrameReader, type ReaderEvent } from '../../src/websocket/reader.js';
import { WsbitError } from '../../src/base/errors.js';
import { ManualClock } from '../../src/base/clock.js';
import { waitFor } from '../helpers/wait.js';
import {
  closeAllClients,
  expectRefused,
  metric,
  rawClient,
  startServer,
  stopAllServers,
  undiciClient,
  wsClient,
  type TestClient,
} from './websocket-server-support.js';

afterEach(async () => {
  closeAllClients();
  await stopAllServers();
});

const LOGIN = { sec: 1364699026, body: '{"action":"login","user":6}' };
const UNICODE = { sec: 1700000000, body: '{"msg":"héllo ✓","nested":{"a":[1,2.5,null,true]},"n":-3}' };
// Fluent Bit's JSON for the bodies above (json.escape_unicode on, the default).
const LOGIN_JSON = '{"action":"login","user":6}';
const UNICODE_JSON = '{"msg":"h\\u00e9llo \\u2713","nested":{"a":[1,2.5,null,true]},"n":-3}';

describe('websocket_server message format', () => {
  it("sends fluent-plugin-websocket's own example byte for byte", async () => {
    const server = await startServer({ add_time: true });
    const client = await wsClient(server.url());
    await server.flush('foo.bar', [LOGIN]);
    await client.waitForFrames(1);
    assert.deepEqual(client.frames[0], { data: Buffer.from('["foo.bar",1364699026,{"action":"login","user":6}]'), binary: false });
  });

  for (const useMsgpack of [false, true]) {
    for (const addTag of [true, false]) {
      for (const addTime of [false, true]) {
        const shape = `[${[addTag ? 'tag' : '', addTime ? 'time' : '', 'record'].filter(Boolean).join(', ')}]`;
        it(`add_tag ${addTag}, add_time ${addTime}, use_msgpack ${useMsgpack}: ${shape} reaches ws and undici as exact ${useMsgpack ? 'binary' : 'text'} frames`, async () => {
          const server = await startServer({ add_tag: addTag, add_time: addTime, use_msgpack: useMsgpack });
          const clients: TestClient[] = [await wsClient(server.url()), await undiciClient(server.url())];
          await waitFor(() => server.output.clientCount() === 2, 'both clients to be registered');
          await server.flush('foo.bar', [LOGIN, UNICODE]);

          const expected = [
            { sec: LOGIN.sec, json: LOGIN_JSON, record: { action: 'login', user: 6 } },
            { sec: UNICODE.sec, json: UNICODE_JSON, record: { msg: 'héllo ✓', nested: { a: [1, 2.5, null, true] }, n: -3 } },
          ].map(({ sec, json, record }) => {
            const parts: unknown[] = [...(addTag ? ['foo.bar'] : []), ...(addTime ? [sec] : [])];
            const data = useMsgpack
              ? Buffer.from(encode([...parts, record]))
              : Buffer.from(`[${[...parts.map((part) => JSON.stringify(part)), json].join(',')}]`);
            return { data, binary: useMsgpack };
          });
          for (const client of clients) {
            await client.waitForFrames(2);
            assert.deepEqual(client.frames, expected);
          }
          if (useMsgpack) {
            const [first] = clients[0]?.frames ?? [];
            assert.ok(first !== undefined);
            assert.deepEqual(decode(first.data), [...(addTag ? ['foo.bar'] : []), ...(addTime ? [1364699026] : []), { action: 'login', user: 6 }]);
          }
        });
      }
    }
  }

  it('discards records silently, but counts them, while no client is connected', async () => {
    const server = await startServer();
    await server.flush('app', [LOGIN, LOGIN, LOGIN]);
    assert.equal(metric(server, 'wsbit_output_broadcast_discarded_records_total'), 3);
    assert.ok(!server.logLines.some((line) => /\[ *(info|warn|error)\].*discard/.test(line)), server.logLines.join(''));
    assert.ok(server.logLines.some((line) => line.includes('[debug]') && line.includes('3 records discarded')));

    const client = await wsClient(server.url('/?match=other'));
    await server.flush('app', [LOGIN]);
    assert.equal(metric(server, 'wsbit_output_broadcast_discarded_records_total'), 4, 'no client takes the tag');
    await server.flush('other', [LOGIN]);
    await client.waitForFrames(1);
    assert.equal(metric(server, 'wsbit_output_broadcast_discarded_records_total'), 4);
  });
});

describe('websocket_server beyond the plugin', () => {
  it('replays the newest buffered_messages to each new client, filtered by its match', async () => {
    const server = await startServer({ buffered_messages: 3 });
    for (let i = 1; i <= 5; i++) await server.flush(i % 2 === 0 ? 'app.even' : 'app.odd', [{ body: `{"n":${i}}` }]);
    const everything = await wsClient(server.url());
    await everything.waitForFrames(3);
    const numbers = (client: TestClient): number[] => client.frames.map((frame) => (JSON.parse(frame.data.toString()) as [string, { n: number }])[1].n);
    // The plugin kept the oldest messages (a known bug); the newest three are 3, 4, 5, oldest first.
    assert.deepEqual(numbers(everything), [3, 4, 5]);

    const odd = await wsClient(server.url('/?match=app.odd'));
    await odd.waitForFrames(2);
    assert.deepEqual(numbers(odd), [3, 5]);

    await server.flush('app.even', [{ body: '{"n":6}' }]);
    await everything.waitForFrames(4);
    assert.deepEqual(numbers(everything), [3, 4, 5, 6]);
    const late = await wsClient(server.url());
    await late.waitForFrames(3);
    assert.deepEqual(numbers(late), [4, 5, 6]);
    assert.equal(numbers(odd).length, 2);
  });

  it('filters per client with ?match= using the Match rules of the engine', async () => {
    const server = await startServer();
    const app = await undiciClient(server.url('/?match=app.*'));
    const all = await wsClient(server.url());
    const two = await wsClient(server.url('/?match=sys.cpu&match=app.db'));
    await waitFor(() => server.output.clientCount() === 3, 'three clients');
    for (const tag of ['app.web', 'sys.cpu', 'app.db', 'other', 'app']) await server.flush(tag, [LOGIN]);
    const tags = (client: TestClient): string[] => client.frames.map((frame) => (JSON.parse(frame.data.toString()) as string[])[0] ?? '');
    await all.waitForFrames(5);
    await app.waitForFrames(2);
    await two.waitForFrames(2);
    assert.deepEqual(tags(all), ['app.web', 'sys.cpu', 'app.db', 'other', 'app']);
    assert.deepEqual(tags(app), ['app.web', 'app.db'], "'app.*' needs the dot, as in Fluent Bit");
    assert.deepEqual(tags(two), ['sys.cpu', 'app.db']);
    assert.ok(server.logLines.some((line) => line.includes('connected with match app.*')));
  });

  it('closes a client that never reads with 1013 while a normal client receives every record', async () => {
    const server = await startServer({ max_client_buffer: '256K', slow_client_grace: 1 });
    const normal = await wsClient(server.url());
    const stalled = await rawClient(server.port);
    await waitFor(() => server.output.clientCount() === 2, 'both clients');
    const body = JSON.stringify({ message: 'x'.repeat(1000) });
    const records = Array.from({ length: 100 }, () => ({ body }));
    let sent = 0;
    // Each flush waits for the normal client, which keeps its queue empty; the stalled one only grows.
    while (sent < 40_000 && server.output.clientCount() === 2) {
      await server.flush('app', records);
      sent += records.length;
      await normal.waitForFrames(sent);
    }
    assert.equal(server.output.clientCount(), 1, `the stalled client was not dropped after ${sent} records`);
    for (let i = 0; i < 20; i++) {
      await server.flush('app', records);
      sent += records.length;
    }
    await normal.waitForFrames(sent);
    assert.equal(normal.frames.length, sent);
    assert.equal(normal.closeCode, undefined);
    assert.equal(metric(server, 'wsbit_output_broadcast_slow_clients_total'), 1);
    assert.ok(server.logLines.some((line) => line.includes('[ warn]') && line.includes('fell behind') && line.includes('1013')), server.logLines.join(''));

    // Reading again, the stalled client finds its backlog and then the close frame with 1013.
    const reader = new FrameReader({ role: 'client', maxMessageBytes: 1 << 20 });
    const events: ReaderEvent[] = [];
    let ended = false;
    stalled.socket.on('data', (data: Buffer) => events.push(...reader.push(data).events));
    stalled.socket.on('close', () => (ended = true));
    events.push(...reader.push(stalled.rest).events);
    stalled.socket.resume();
    await waitFor(() => ended || events.some((event) => event.type === 'close'), 'the close frame');
    const close = events.find((event) => event.type === 'close');
    assert.deepEqual(close, { type: 'close', code: 1013, reason: 'client too slow' });
    stalled.socket.destroy();
  });

  it('refuses a missing or wrong token with HTTP 401 before the upgrade and never logs the token', async () => {
    const token = 's3cret-Token-value';
    const server = await startServer({ token });
    for (const [url, headers] of [
      [server.url(), {}],
      [server.url('/?token=wrong'), {}],
      [server.url(), { Authorization: 'Bearer wrong' }],
      [server.url(), { Authorization: `Basic ${token}` }],
    ] as const) {
      const refused = await expectRefused(url, headers);
      assert.equal(refused.status, 401);
      assert.match(String(refused.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal(metric(server, 'wsbit_output_broadcast_rejected_clients_total'), 4);
    const byHeader = await wsClient(server.url('/?match=a*'), { Authorization: `Bearer ${token}` });
    const byQuery = await undiciClient(server.url(`/?token=${token}&match=a*`));
    const byUndiciHeader = await undiciClient(server.url(), { Authorization: `Bearer ${token}` });
    await server.flush('app', [LOGIN]);
    for (const client of [byHeader, byQuery, byUndiciHeader]) await client.waitForFrames(1);
    const status = await fetch(server.httpUrl('/status'));
    assert.equal(status.status, 401);
    const authorized = await fetch(server.httpUrl('/status'), { headers: { Authorization: `Bearer ${token}` } });
    assert.deepEqual(await authorized.json(), { clients: 3, max_clients: 100, use_msgpack: false, add_tag: true, add_time: false, message_id_key: null });
    await server.stop();
    const log = server.logLines.join('');
    assert.ok(log.includes('refused client 127.0.0.1:'), log);
    assert.ok(!log.includes(token), `the token appears in the log:\n${log}`);
  });

  it('refuses clients beyond max_clients with HTTP 503 and takes new ones once a place is free', async () => {
    const server = await startServer({ max_clients: 2 });
    const first = await wsClient(server.url());
    await undiciClient(server.url());
    const refused = await expectRefused(server.url());
    assert.equal(refused.status, 503);
    assert.match(refused.body, /max_clients \(2\) reached/);
    first.close();
    await waitFor(() => server.output.clientCount() === 1, 'the first client to leave');
    const third = await wsClient(server.url());
    await server.flush('app', [LOGIN]);
    await third.waitForFrames(1);
  });

  it('allows pages from allowed_origins and from itself, and refuses other origins with 403', async () => {
    const server = await startServer({ allowed_origins: 'https://dash.example:3000, http://localhost:5173' });
    assert.equal((await expectRefused(server.url(), { Origin: 'https://evil.example' })).status, 403);
    assert.equal((await expectRefused(server.url(), { Origin: 'null' })).status, 403);
    await wsClient(server.url(), { Origin: 'https://dash.example:3000' });
    await wsClient(server.url(), { Origin: `http://127.0.0.1:${server.port}` });
    await wsClient(server.url());
    const open = await startServer({ allowed_origins: '*' });
    await wsClient(open.url(), { Origin: 'https://anything.example' });
    const strict = await startServer();
    assert.equal((await expectRefused(strict.url(), { Origin: 'https://evil.example' })).status, 403);
  });

  it('pings clients and drops one that does not answer', async () => {
    const clock = new ManualClock(Date.now());
    const server = await startServer({ ping_interval: 5 }, clock);
    const answering = await wsClient(server.url());
    const silent = await rawClient(server.port);
    await waitFor(() => server.output.clientCount() === 2, 'both clients');
    await clock.advance(5000);
    await waitFor(() => server.metrics.snapshot().length > 0, 'metrics');
    // Give the ws client time to answer the ping with a pong.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await clock.advance(5000);
    await waitFor(() => server.output.clientCount() === 1, 'the silent client to be dropped');
    assert.ok(server.logLines.some((line) => line.includes('did not answer a ping within 5s')));
    await server.flush('app', [LOGIN]);
    await answering.waitForFrames(1);
    silent.socket.destroy();
  });

  it('closes every client with 1001 on stop', async () => {
    const server = await startServer();
    const a = await wsClient(server.url());
    const b = await undiciClient(server.url());
    await waitFor(() => server.output.clientCount() === 2, 'both clients');
    await server.stop();
    assert.equal(await a.waitForClose(), 1001);
    assert.equal(await b.waitForClose(), 1001);
  });

  it('fails start-up with a clear error naming host:port when the port is taken', async () => {
    const first = await startServer();
    await assert.rejects(startServer({ port: first.port }), (error: unknown) => {
      assert.ok(error instanceof WsbitError);
      assert.equal(error.code, 'WSBIT_OUTPUT_LISTEN');
      assert.equal(error.message, `websocket_server.0: cannot listen on 127.0.0.1:${first.port}: the address is already in use`);
      return true;
    });
  });

  it('serves the live page, the msgpack bundle and 404s; answers 426 with live_page off', async () => {
    const server = await startServer();
    const page = await fetch(server.httpUrl('/'));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-/);
    assert.match(await page.text(), /<title>wsbit live<\/title>/);
    const bundle = await fetch(server.httpUrl('/assets/msgpack.min.js'));
    assert.equal(bundle.status, 200);
    assert.match(await bundle.text(), /MessagePack/);
    assert.equal((await fetch(server.httpUrl('/nothing'))).status, 404);
    assert.equal((await fetch(server.httpUrl('/'), { method: 'POST', body: 'x' })).status, 405);

    const bare = await startServer({ live_page: false });
    const refused = await fetch(bare.httpUrl('/'));
    assert.equal(refused.status, 426);
    await refused.text();
    await wsClient(bare.url());
  });

  it('rejects bad values with typed config errors', async () => {
    await assert.rejects(startServer({ port: 70000 }), { code: 'WSBIT_CONFIG_BAD_VALUE' });
    await assert.rejects(startServer({ max_clients: -1 }), { code: 'WSBIT_CONFIG_BAD_VALUE' });
    await assert.rejects(startServer({ max_client_buffer: 'lots' }), { code: 'WSBIT_CONFIG_BAD_VALUE' });
  });
});
