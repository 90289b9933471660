/**
 * Scenarios for conf/tcp-to-http.conf, conf/aggregator-to-forward.conf and conf/agent-to-aggregators.conf
 * (run by test/e2e/conf.test.ts). `port` maps a port the files name to the free one of the copy that runs.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { startAgent } from '../helpers/pipeline.js';
import type { RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { captureServer } from './support.js';
import { CountingServer, TcpFeeder } from '../plugins/websocket-output-support.js';

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

export async function tcpToHttpScenario(agent: RunningAgent, port: (examplePort: number) => number): Promise<void> {
  const server = await captureServer(() => ({ status: 204 }), port(8095));
  try {
    await agent.waitForOutput(`listening on 127.0.0.1:${port(5170)}`);
    await sendTcp(port(5170), '{"message":"hello over http"}\n');
    await waitFor(() => server.accepted.length === 1, 'the POST', 20_000);
    const request = server.accepted[0];
    assert.equal(request?.url, '/ingest');
    assert.equal(request?.headers['content-type'], 'application/x-ndjson');
    assert.equal(request?.headers['x-source'], 'wsbit');
    assert.match(request?.body.toString() ?? '', /^\{"date":\d+\.\d+,"message":"hello over http"\}\n$/);
  } finally {
    await server.close();
  }
}

export async function aggregatorToForwardScenario(agent: RunningAgent, port: (examplePort: number) => number): Promise<void> {
  // The two onward nodes of conf/upstream/forward-nodes.conf (Upstream upstream/forward-nodes.conf): wsbit forward inputs.
  const nodes = await Promise.all(
    [24231, 24232].map((node) => startAgent(['-i', 'forward', '-p', 'listen=127.0.0.1', '-p', `port=${port(node)}`, '-o', 'capture', '-m', '*', '-f', '0.05'])),
  );
  try {
    await agent.waitForOutput(`[input:websocket:websocket.0] listening on 127.0.0.1:${port(8090)}`);
    await agent.waitForOutput(`node 'onward-1' (127.0.0.1:${port(24231)}), node 'onward-2' (127.0.0.1:${port(24232)})`);
    const client = new WebSocket(`ws://127.0.0.1:${port(8090)}/ingest`, { headers: { Authorization: 'Bearer wsbit-example-token' } });
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    // Four messages a second apart become several chunks, which round robin spreads over both nodes.
    for (let n = 0; n < 4; n++) {
      client.send(`{"from":"agent","n":${n}}\n`);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    client.close();
    const received = (): number[] => nodes.flatMap((node) => node.events().map((event) => Number((event.body as { n: unknown }).n)));
    await waitFor(() => received().length === 4, 'four records at the onward nodes', 20_000);
    assert.deepEqual(received().sort(), [0, 1, 2, 3]);
    assert.ok(nodes.every((node) => node.chunks.length > 0), 'both nodes took chunks');
    assert.deepEqual(new Set(nodes.flatMap((node) => node.chunks.map((chunk) => chunk.tag))), new Set(['agents']));
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/** conf/agent-to-aggregators.conf and its YAML twin: two `ws` aggregators (8096 and 8097 in the files) share the stream. */
export async function agentToAggregatorsScenario(agent: RunningAgent, port: (examplePort: number) => number): Promise<void> {
  const aggregators = [8096, 8097].map((node) => {
    const server = new CountingServer('json_lines');
    server.port = port(node);
    return server;
  });
  try {
    for (const server of aggregators) await server.start();
    await agent.waitForOutput(`listening on 127.0.0.1:${port(5170)}`);
    await agent.waitForOutput(`upstream node 'aggregator-1' (127.0.0.1:${port(8096)}), node 'aggregator-2' (127.0.0.1:${port(8097)})`);
    // Three seconds of records make several chunks, which round robin spreads over both aggregators.
    const sent = 300;
    const feeder = new TcpFeeder(port(5170), { count: sent, perSecond: 100 });
    await feeder.done;
    await feeder.close();
    await waitFor(() => aggregators.reduce((sum, server) => sum + server.unique, 0) === sent, `all ${sent} records at the aggregators`, 30_000);
    assert.ok(aggregators.every((server) => server.unique > 0), 'both aggregators took chunks');
    assert.equal(aggregators.reduce((sum, server) => sum + server.duplicates, 0), 0);
    for (const server of aggregators) {
      assert.ok(server.requests.every((request) => request.url === '/ingest' && request.headers.authorization === 'Bearer wsbit-example-token'));
    }
  } finally {
    for (const server of aggregators) await server.close();
  }
}
