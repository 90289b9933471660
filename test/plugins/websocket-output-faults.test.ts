/**
 * Fault scenarios, counting records sent against records received. Numbered records go into a tcp
 * input; a `ws` server (and, for a second opinion, one built on websocket-driver) decodes every message
 * and counts them by seq. Each test prints its figures with t.diagnostic.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sleep, waitFor } from '../helpers/wait.js';
import { endScenario, DriverServer, startCountingServer, startTestAgent, TcpFeeder, waitForAll, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

let server: CountingServer | undefined;
let agent: RunningTestAgent | undefined;
let feeder: TcpFeeder | undefined;
afterEach(async () => {
  await endScenario(feeder, agent, server);
  [feeder, agent, server] = [undefined, undefined, undefined];
});

const tcpToWebsocket = (port: number, outputExtra: string[] = [], inputExtra: string[] = []): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...inputExtra,
  '-o', `websocket://127.0.0.1:${port}/`, ...outputExtra, '-f', '0.25',
];

describe('fault scenarios (ws server)', () => {
  it('the server restarts twice within 0.5 s while about 300 records/s flow: 0 lost', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    const restartsMs = await peer.restartTwice();
    await feeder.done;
    await waitForAll(t, 'restart twice', feeder.sent, peer, agent);
    t.diagnostic(`both restarts within ${restartsMs} ms`);
    assert.ok(restartsMs < 2000, 'the two restarts were close together');
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(peer.handshakes >= 2, 'a new handshake after the restarts');
    assert.match(agent.logs(), /\[ warn\] \[output:websocket:websocket\.0\] connection to ws:\/\/127\.0\.0\.1:\d+\/ down: /);
  });

  it('message_mode record: the server restarts while about 300 records/s flow, one record per message: 0 lost', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines', '-p', 'message_mode=record', '-p', 'message_newline=on']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.restart(100);
    await feeder.done;
    await waitForAll(t, 'message_mode record, restart once', feeder.sent, peer, agent);
    const messages = peer.messagesPerConnection.reduce((sum, n) => sum + n, 0);
    t.diagnostic(`${messages} messages for ${peer.records} records`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.equal(messages, peer.records, 'one record per message');
    assert.ok(peer.handshakes >= 2, 'a new handshake after the restart');
  });

  it('the server is down 15 s while records arrive: 0 lost, and the flow resumes within 4 s of its return', async (t) => {
    server = await startCountingServer('msgpack');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 1900, perSecond: 100 });
    await waitFor(() => peer.records > 50, 'records flowing');
    await peer.crash();
    const downAt = Date.now();
    const receivedWhenDown = peer.records;
    await sleep(15_000);
    await peer.start();
    const downMs = Date.now() - downAt;
    await waitFor(() => peer.firstMessageAfterStartMs !== null, 'the first message after the return', 10_000, 20);
    const resumedMs = (peer.firstMessageAfterStartMs ?? 0) - peer.startedAtMs;
    await feeder.done;
    await waitForAll(t, 'down 15 s', feeder.sent, peer, agent);
    t.diagnostic(`down ${downMs} ms with ${feeder.sent - receivedWhenDown} records arriving meanwhile; flow resumed ${resumedMs} ms after the server returned`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(resumedMs <= 4000, `flow resumed ${resumedMs} ms after the return`);
    assert.match(agent.logs(), /\[ warn\] \[output:websocket:websocket\.0\] connecting to ws:\/\/127\.0\.0\.1:\d+\/ failed: cannot connect to 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  it('idle longer than net.keepalive_idle_timeout, then more records: 0 lost, on a new handshake', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines', '-p', 'net.keepalive_idle_timeout=2']));
    const first = new TcpFeeder(agent.tcpPort(), { count: 50, perSecond: 500 });
    feeder = first;
    await first.done;
    await waitFor(() => peer.unique === 50, 'the first 50 records');
    assert.equal(peer.handshakes, 1);
    await waitFor(() => peer.closeCodes.length === 1, 'the idle close', 5000);
    await sleep(1000);
    await first.close();
    const second = new TcpFeeder(agent.tcpPort(), { count: 50, perSecond: 500, firstSeq: 51 });
    feeder = second;
    await second.done;
    await waitForAll(t, 'idle > keepalive timeout', 100, peer, agent);
    assert.equal(peer.lost(100), 0);
    assert.deepEqual(peer.closeCodes, [1000], 'the idle connection was closed with 1000');
    assert.equal(peer.handshakes, 2, 'the records after the idle time came on a new handshake');
    assert.match(agent.logs(), /\[debug\] \[output:websocket:websocket\.0\] closing the connection to ws:\/\/127\.0\.0\.1:\d+\/ \(code 1000\): idle for 2000 ms/);
  });

  it('net.keepalive off: every flush handshakes on a new connection, 0 lost (SPEC §1.9)', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines', '-p', 'net.keepalive=off']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 120, perSecond: 60 });
    await feeder.done;
    await waitForAll(t, 'keepalive off', feeder.sent, peer, agent);
    await waitFor(() => peer.closeCodes.length === peer.handshakes, 'every connection closed');
    t.diagnostic(`${peer.handshakes} connections carried ${peer.messagesPerConnection.reduce((a, b) => a + b, 0)} messages`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(peer.handshakes >= 4, 'several flushes');
    assert.deepEqual(peer.messagesPerConnection, peer.messagesPerConnection.map(() => 1), 'one message per connection');
    assert.ok(peer.closeCodes.every((code) => code === 1000));
    for (const request of peer.requests) assert.deepEqual(request.headers.connection, 'Upgrade', 'no Connection: keep-alive');
  });

  it('net.keepalive_max_recycle 2: a connection carries two flushes, then a new one handshakes, 0 lost', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines', '-p', 'net.keepalive_max_recycle=2']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 120, perSecond: 60 });
    await feeder.done;
    await waitForAll(t, 'keepalive_max_recycle 2', feeder.sent, peer, agent);
    await waitFor(() => peer.closeCodes.length >= peer.handshakes - 1, 'the recycled connections closed');
    t.diagnostic(`messages per connection: ${peer.messagesPerConnection.join(' ')}`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(peer.handshakes >= 3);
    assert.ok(peer.messagesPerConnection.every((count) => count <= 2), 'at most two flushes per connection');
    assert.ok(peer.closeCodes.every((code) => code === 1000));
  });

  it('workers 2: concurrent flushes never write to a connection that did not handshake, 0 lost across a restart', async (t) => {
    server = await startCountingServer('json_lines');
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines', '-p', 'workers=2']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.restart(100);
    await feeder.done;
    await waitForAll(t, 'workers 2, one restart', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
    // A frame on a socket that never upgraded would reach ws's HTTP parser and be answered 400.
    assert.equal(peer.badRequests, 0);
  });

  it('a server that stops reading: inputs pause at Mem_Buf_Limit, memory stays near it, nothing is lost once it reads again', async (t) => {
    server = await startCountingServer('msgpack');
    const peer = server;
    const limitBytes = 300_000;
    peer.pauseReading();
    agent = await startTestAgent(tcpToWebsocket(peer.port, [], ['-p', 'mem_buf_limit=300K']));
    const running = agent;
    let peakBytes = 0;
    const sampler = setInterval(() => (peakBytes = Math.max(peakBytes, running.agent.engine.bufferedChunks().bytes)), 10);
    try {
      feeder = new TcpFeeder(agent.tcpPort(), { count: 20_000, perSecond: 10_000, padBytes: 150 });
      await agent.waitForLog('paused (mem buf overlimit', 10_000);
      await sleep(3000);
      const pausedPeak = peakBytes;
      const receivedWhilePaused = peer.records;
      peer.resumeReading();
      await feeder.done;
      await waitForAll(t, 'slow reader', feeder.sent, peer, agent, { timeoutMs: 30_000 });
      t.diagnostic(`Mem_Buf_Limit ${limitBytes} B; engine held at most ${pausedPeak} B while the server did not read (${receivedWhilePaused} records received then), ${peakBytes} B overall`);
      assert.equal(peer.lost(feeder.sent), 0);
      assert.ok(pausedPeak >= limitBytes, 'the limit was reached');
      // One read of the tcp input (64 KiB of JSON) may land after the limit is reached, before the pause.
      assert.ok(peakBytes <= limitBytes + 256 * 1024, `engine held ${peakBytes} B with a limit of ${limitBytes} B`);
      assert.match(agent.logs(), /\[ warn\] \[input\] tcp\.0 paused \(mem buf overlimit/);
      assert.match(agent.logs(), /\[ info\] \[input\] tcp\.0 resume \(mem buf overlimit\)/);
    } finally {
      clearInterval(sampler);
    }
  });
});

describe('fault scenarios (websocket-driver server, a second opinion)', () => {
  it('the server restarts twice while about 300 records/s flow: 0 lost', async (t) => {
    const peer = new DriverServer();
    await peer.start();
    try {
      agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=json_lines']));
      feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
      await waitFor(() => peer.records > 200, 'records flowing');
      const firstRestart = Date.now();
      await peer.stop();
      await peer.start();
      await peer.stop();
      await peer.start();
      const restartsMs = Date.now() - firstRestart;
      await feeder.done;
      const sent = feeder.sent;
      try {
        await waitFor(() => peer.lost(sent) === 0, `all ${sent} records at the websocket-driver server`, 20_000, 50);
      } finally {
        t.diagnostic(
          `websocket-driver restart twice (${restartsMs} ms for both): sent ${sent}, received ${peer.seqs.size} distinct (${peer.records} in all), lost ${peer.lost(sent)}, duplicates ${peer.records - peer.seqs.size}, handshakes ${peer.handshakes}`,
        );
      }
      assert.equal(peer.lost(sent), 0);
      assert.deepEqual(peer.errors, [], 'the driver found nothing wrong in the frames');
      assert.ok(peer.handshakes >= 2, 'a new handshake after the restarts');
      assert.match(agent.logs(), /connection to ws:\/\/127\.0\.0\.1:\d+\/ down: server closed the WebSocket \(code 1001/);
    } finally {
      await peer.stop();
    }
  });
});
