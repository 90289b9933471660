/**
 * The websocket output's fault scenarios once more, through the CONNECT proxy of the tests: the
 * server flaps, the server is down (the proxy answers 502 meanwhile), the proxy itself restarts, and
 * kill -9 of an agent buffering on disk. Counted as records sent against records the `ws` server got.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { decodeEvents } from '../../src/codec/msgpack.js';
import { decodeChunkFile } from '../../src/pipeline/storage/chunk-file.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { endScenario, figures, startCountingServer, startTestAgent, TcpFeeder, waitForAll, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

let server: CountingServer | undefined;
let agent: RunningTestAgent | undefined;
let feeder: TcpFeeder | undefined;
let proxy: ConnectProxy | undefined;
afterEach(async () => {
  await endScenario(feeder, agent, server, proxy);
  [feeder, agent, server, proxy] = [undefined, undefined, undefined, undefined];
});

const throughProxy = (serverPort: number, proxyUrl: string, extra: string[] = []): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...extra,
  '-o', `websocket://127.0.0.1:${serverPort}/`, '-p', 'format=json_lines', '-p', `proxy=${proxyUrl}`, '-f', '0.25',
];

/** The shared waitForAll, with the proxy's tunnel count in the figures and 30 s to catch up after a proxy outage. */
function waitThroughProxy(t: TestContext, name: string, sent: number, peer: CountingServer, running: { logs(): string }): Promise<void> {
  return waitForAll(t, name, sent, peer, running, { timeoutMs: 30_000, extra: () => `proxy tunnels ${proxy?.tunnels ?? '?'}` });
}

describe('fault scenarios through a CONNECT proxy', () => {
  for (const compress of [false, true]) {
    const title = compress
      ? 'compress deflate through the proxy: the server restarts twice while records flow, 0 lost, and the tunnel carries compressed bytes'
      : 'the server restarts twice while about 300 records/s flow: 0 lost, each connection a new tunnel';
    it(title, async (t) => {
      server = await startCountingServer('json_lines', false, compress ? { perMessageDeflate: true } : {});
      proxy = await startConnectProxy();
      const peer = server;
      agent = await startTestAgent([...throughProxy(peer.port, proxy.url), ...(compress ? ['-p', 'compress=deflate', '-p', 'compress.threshold=0'] : [])]);
      feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
      await waitFor(() => peer.records > 200, 'records flowing');
      await peer.restartTwice();
      await feeder.done;
      await waitThroughProxy(t, `restart twice, through the proxy${compress ? ', compress deflate' : ''}`, feeder.sent, peer, agent);
      assert.equal(peer.lost(feeder.sent), 0);
      assert.ok(peer.handshakes >= 2, 'a new handshake after the restarts');
      assert.equal(proxy.tunnels, peer.handshakes, 'every WebSocket connection came through the proxy');
      // Each json line holds at least the feeder's 80 bytes ({"seq":N,"pad":"x" × 60}): compressed, the wire carries under half.
      const leastPayloadBytes = peer.records * 80;
      t.diagnostic(`the server read ${peer.wireBytes} B on the wire for ${peer.records} records (at least ${leastPayloadBytes} B of json lines)`);
      if (compress) assert.ok(peer.wireBytes < leastPayloadBytes / 2, 'compressed inside the tunnel');
      else assert.ok(peer.wireBytes > leastPayloadBytes, 'uncompressed: every json line crosses the tunnel whole');
    });
  }

  it('the server is down 6 s while records arrive (the proxy answers 502): 0 lost, and the log blames the proxy answer, not the server', async (t) => {
    server = await startCountingServer('json_lines');
    proxy = await startConnectProxy();
    const peer = server;
    agent = await startTestAgent(throughProxy(peer.port, proxy.url));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 100 });
    await waitFor(() => peer.records > 50, 'records flowing');
    await peer.crash();
    const running = agent;
    await running.waitForLog(/proxy http:\/\/127\.0\.0\.1:\d+ refused the tunnel: HTTP 502 Bad Gateway/, 20_000);
    await sleep(6_000);
    await peer.start();
    await feeder.done;
    await waitThroughProxy(t, 'server down 6 s, through the proxy', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
  });

  it('the proxy itself is down 3 s and comes back on its port: 0 lost', async (t) => {
    server = await startCountingServer('json_lines');
    proxy = await startConnectProxy();
    const peer = server;
    const proxyPort = proxy.port;
    agent = await startTestAgent(throughProxy(peer.port, proxy.url));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 150 });
    await waitFor(() => peer.records > 100, 'records flowing');
    await proxy.close();
    const running = agent;
    await running.waitForLog(/proxy http:\/\/127\.0\.0\.1:\d+ cannot be reached: connect ECONNREFUSED/, 20_000);
    await sleep(3_000);
    proxy = await startConnectProxy({ port: proxyPort });
    await feeder.done;
    await waitThroughProxy(t, 'proxy down 3 s', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(proxy.tunnels >= 1, 'delivery resumed through the proxy that came back');
  });
});

describe('kill -9 with a disk buffer, through a CONNECT proxy', () => {
  const agentArgs = (storageDir: string, serverPort: number, proxyUrl: string): string[] => [
    '-b', storageDir,
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'storage.type=filesystem',
    '-o', `websocket://127.0.0.1:${serverPort}/ingest`, '-p', 'format=json_lines', '-p', `proxy=${proxyUrl}`, '-m', '*', '-f', '0.2',
  ];
  const tcpPortOf = (running: RunningAgent): number => {
    const match = /\[input:tcp:tcp\.0\] listening on [^\s]+:(\d+)/.exec(running.stderr());
    if (match === null) throw new Error(`no tcp port in:\n${running.stderr()}`);
    return Number(match[1]);
  };
  const chunkFiles = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.flb'));
  const recordsOnDisk = (dir: string): number => {
    const seqs = new Set<number>();
    for (const name of chunkFiles(dir)) {
      try {
        for (const event of decodeEvents(decodeChunkFile(readFileSync(path.join(dir, name))).events)) seqs.add(Number((event.body as { seq: number }).seq));
      } catch {
        // A file being written or deleted right now; the next poll sees it settled.
      }
    }
    return seqs.size;
  };

  it('kill -9 while the proxy refuses (407), restart with the right credentials: 0 lost', async (t) => {
    const dir = tempDir('wsbit-proxy-kill-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    server = await startCountingServer('json_lines');
    proxy = await startConnectProxy({ credentials: { user: 'agent', password: 'right' } });
    const withCredentials = (password: string): string => proxy!.url.replace('http://', `http://agent:${password}@`);

    const first = spawnAgent(agentArgs(dir, server.port, withCredentials('wrong')));
    await first.waitForOutput(/listening on/);
    const sent = 1500;
    const input = new TcpFeeder(tcpPortOf(first), { count: sent, perSecond: 1500 });
    await input.done;
    await first.waitForOutput(/\[error\] .*proxy http:\/\/127\.0\.0\.1:\d+ refused the connection to ws:\/\/127\.0\.0\.1:\d+\/ingest: HTTP 407/, 'the 407', 20_000);
    await waitFor(() => recordsOnDisk(dir) === sent, `all ${sent} records on disk`, 20_000);
    first.child.kill('SIGKILL');
    await first.waitForExit();
    await input.close();
    assert.equal(server.unique, 0, 'nothing passed the refusing proxy');

    const second = spawnAgent(agentArgs(dir, server.port, withCredentials('right')));
    const peer = server;
    await waitFor(() => peer.unique === sent, `the server to receive ${sent} records\n${second.stderr()}`, 30_000);
    assert.equal(await second.stop(), 0);
    t.diagnostic(figures('kill -9 behind a refusing proxy', sent, peer, `proxy connections ${proxy.connections}, tunnels ${proxy.tunnels}`));
    assert.equal(peer.lost(sent), 0);
    assert.equal(peer.duplicates, 0);
    assert.equal(chunkFiles(dir).length, 0, 'delivered chunks are removed');
  });
});
