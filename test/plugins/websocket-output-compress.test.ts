/**
 * The websocket output with `compress deflate` (RFC 7692), end to end: numbered records into a tcp
 * input, out through the output to `ws` with perMessageDeflate and to websocket-driver with faye's
 * permessage-deflate, counted by seq. The fault scenarios of websocket-output-faults.test.ts run again
 * with compression on: records sent = records received.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { tempDir } from '../helpers/temp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { endScenario, DriverServer, startCountingServer, startTestAgent, TcpFeeder, waitForAll, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

let server: CountingServer | undefined;
let agent: RunningTestAgent | undefined;
let feeder: TcpFeeder | undefined;
afterEach(async () => {
  await endScenario(feeder, agent, server);
  [feeder, agent, server] = [undefined, undefined, undefined];
});

const tcpToWebsocket = (port: number, outputExtra: string[] = []): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
  '-o', `websocket://127.0.0.1:${port}/`, '-p', 'format=json_lines', '-p', 'compress=deflate', ...outputExtra, '-f', '0.25',
];

const metric = (running: RunningTestAgent, name: 'wsbit_output_compressed_payload_bytes_total' | 'wsbit_output_compressed_wire_bytes_total'): number =>
  running.agent.metrics.get(name, 'websocket.0');

describe('compress deflate against ws (perMessageDeflate)', () => {
  it('chunk mode: every record arrives, the wire carries a fraction of the payload, the metrics say how much', async (t) => {
    server = await startCountingServer('json_lines', false, { perMessageDeflate: true });
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 2000, perSecond: 1000, padBytes: 400 });
    await feeder.done;
    await waitForAll(t, 'compress deflate, chunk mode', feeder.sent, peer, agent);
    const before = metric(agent, 'wsbit_output_compressed_payload_bytes_total');
    const after = metric(agent, 'wsbit_output_compressed_wire_bytes_total');
    t.diagnostic(`payload ${before} B compressed to ${after} B; the server read ${peer.wireBytes} B in all`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.equal(peer.duplicates, 0);
    // Every record is at least 400 bytes of JSON; the counters cover them all (no chunk was under 1K).
    assert.ok(before >= feeder.sent * 400, `payload counted: ${before}`);
    assert.ok(after > 0 && after < before / 5, `compressed ${before} → ${after}`);
    assert.ok(peer.wireBytes < before / 4, `the server read ${peer.wireBytes} B for ${before} B of payload`);
    assert.match(agent.logs(), /\[ info\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/ accepted permessage-deflate \(client window 15 bits\)/);
  });

  it('the server restarts twice within 0.5 s while about 300 records/s flow: 0 lost', async (t) => {
    server = await startCountingServer('json_lines', false, { perMessageDeflate: true });
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'compress.threshold=100']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.restartTwice();
    await feeder.done;
    await waitForAll(t, 'compress deflate, restart twice', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(peer.handshakes >= 2, 'a new handshake after the restarts');
    assert.ok(metric(agent, 'wsbit_output_compressed_wire_bytes_total') > 0, 'messages were compressed');
  });

  it('msgpack, the server down 15 s while records arrive: 0 lost, and the flow resumes within 4 s of its return', async (t) => {
    server = await startCountingServer('msgpack', false, { perMessageDeflate: true });
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'format=msgpack']));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 1900, perSecond: 100 });
    await waitFor(() => peer.records > 50, 'records flowing');
    await peer.crash();
    await sleep(15_000);
    await peer.start();
    await waitFor(() => peer.firstMessageAfterStartMs !== null, 'the first message after the return', 10_000, 20);
    const resumedMs = (peer.firstMessageAfterStartMs ?? 0) - peer.startedAtMs;
    await feeder.done;
    await waitForAll(t, 'compress deflate, msgpack, down 15 s', feeder.sent, peer, agent);
    t.diagnostic(`flow resumed ${resumedMs} ms after the server returned`);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.ok(resumedMs <= 4000, `flow resumed ${resumedMs} ms after the return`);
    assert.ok(metric(agent, 'wsbit_output_compressed_wire_bytes_total') > 0, 'binary messages were compressed');
  });

  it('message_mode record, no context takeover, small windows: the server restarts, 0 lost, one record per message', async (t) => {
    server = await startCountingServer('json_lines', false, { perMessageDeflate: { clientNoContextTakeover: true, clientMaxWindowBits: 10 } });
    const peer = server;
    agent = await startTestAgent(
      tcpToWebsocket(peer.port, ['-p', 'message_mode=record', '-p', 'message_newline=on', '-p', 'compress.threshold=50', '-p', 'compress.level=9', '-p', 'compress.window_bits=12']),
    );
    feeder = new TcpFeeder(agent.tcpPort(), { count: 900, perSecond: 300 });
    await waitFor(() => peer.records > 200, 'records flowing');
    await peer.restart(100);
    await feeder.done;
    await waitForAll(t, 'compress deflate, message_mode record, restart once', feeder.sent, peer, agent);
    const messages = peer.messagesPerConnection.reduce((sum, n) => sum + n, 0);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.equal(messages, peer.records, 'one record per message');
    assert.match(agent.logs(), /accepted permessage-deflate \(client window 10 bits, no context takeover\)/);
    assert.ok(metric(agent, 'wsbit_output_compressed_wire_bytes_total') > 0, 'messages were compressed');
  });

  it('a server that declines: a warning, and records arrive uncompressed', async (t) => {
    server = await startCountingServer('json_lines', false, { perMessageDeflate: false });
    const peer = server;
    agent = await startTestAgent(tcpToWebsocket(peer.port));
    feeder = new TcpFeeder(agent.tcpPort(), { count: 200, perSecond: 400 });
    await feeder.done;
    await waitForAll(t, 'compress deflate, declined', feeder.sent, peer, agent);
    assert.equal(peer.lost(feeder.sent), 0);
    assert.equal(metric(agent, 'wsbit_output_compressed_payload_bytes_total'), 0);
    assert.match(agent.logs(), /\[ warn\] \[output:websocket:websocket\.0\] ws:\/\/127\.0\.0\.1:\d+\/ declined permessage-deflate; messages go uncompressed/);
  });
});

describe('compress deflate against websocket-driver (faye) with permessage-deflate', () => {
  it('the server restarts twice while about 300 records/s flow: 0 lost, no protocol error', async (t) => {
    const peer = new DriverServer({ deflate: true });
    await peer.start();
    try {
      agent = await startTestAgent(tcpToWebsocket(peer.port, ['-p', 'compress.threshold=100']));
      feeder = new TcpFeeder(agent.tcpPort(), { count: 1200, perSecond: 300 });
      await waitFor(() => peer.records > 200, 'records flowing');
      await peer.stop();
      await peer.start();
      await peer.stop();
      await peer.start();
      await feeder.done;
      const sent = feeder.sent;
      try {
        await waitFor(() => peer.lost(sent) === 0, `all ${sent} records at the websocket-driver server`, 20_000, 50);
      } finally {
        t.diagnostic(`websocket-driver + permessage-deflate, restart twice: sent ${sent}, received ${peer.seqs.size} distinct, lost ${peer.lost(sent)}, handshakes ${peer.handshakes}`);
      }
      assert.equal(peer.lost(sent), 0);
      assert.deepEqual(peer.errors, [], 'the driver found nothing wrong in the frames');
      assert.ok(metric(agent, 'wsbit_output_compressed_wire_bytes_total') > 0, 'messages were compressed');
    } finally {
      await peer.stop();
    }
  });
});

describe('compress keys in configuration files', () => {
  it('classic .conf and YAML both set them; an out-of-range value names the file, line and allowed values', async () => {
    server = await startCountingServer('json_lines', false, { perMessageDeflate: true });
    const peer = server;
    const dir = tempDir('wsbit-compress-');
    const conf = path.join(dir, 'compress.conf');
    const output = (level: number): string =>
      `[INPUT]\n    Name dummy\n    Dummy {"message":"${'x'.repeat(2000)}"}\n    Samples 1\n\n[OUTPUT]\n    Name websocket\n    Match *\n    Host 127.0.0.1\n    Port ${peer.port}\n    Format json_lines\n    compress deflate\n    compress.level ${level}\n    compress.threshold 512\n    compress.window_bits 11\n`;
    writeFileSync(conf, output(10));
    await assert.rejects(startTestAgent(['-c', conf]), (error: Error) => {
      assert.match(error.message, /compress\.conf:13: websocket\.0: invalid value '10' for 'compress\.level': expected 1 to 9/);
      return true;
    });
    writeFileSync(conf, output(5));
    agent = await startTestAgent(['-c', conf]);
    await waitFor(() => peer.records >= 1, 'the record from the .conf');
    assert.match(agent.logs(), /accepted permessage-deflate \(client window 11 bits\)/);
    await agent.stop();
    agent = undefined;
    const yaml = path.join(dir, 'compress.yaml');
    writeFileSync(
      yaml,
      `pipeline:\n  inputs:\n    - name: dummy\n      dummy: '{"message":"${'y'.repeat(2000)}"}'\n      samples: 1\n  outputs:\n    - name: websocket\n      match: '*'\n      host: 127.0.0.1\n      port: ${peer.port}\n      format: json_lines\n      compress: deflate\n      compress.window_bits: 9\n`,
    );
    agent = await startTestAgent(['-c', yaml]);
    await waitFor(() => peer.records >= 2, 'the record from the YAML');
    assert.match(agent.logs(), /accepted permessage-deflate \(client window 9 bits\)/);
    assert.ok(metric(agent, 'wsbit_output_compressed_wire_bytes_total') > 0);
  });
});
