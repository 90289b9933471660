/**
 * The websocket output over an upstream, in process against `ws` servers: round robin with per-node
 * metrics, a refused node, and a node that takes data but never answers pings (its chunks are not
 * confirmed and go to another node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { renderMetricsJson, renderPrometheus } from '../../src/monitoring/prometheus.js';
import { tempDir, upstreamFile } from '../upstream/support.js';
import { freePort } from './websocket-input-support.js';
import { startCountingServer, startTestAgent, TcpFeeder, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

function nodeMetrics(agent: RunningTestAgent): Record<string, Record<string, number>> {
  const rows: Record<string, Record<string, number>> = {};
  for (const [name, fields] of Object.entries(renderMetricsJson(agent.agent.metrics).output)) {
    if (name.startsWith('websocket.0/')) rows[name.slice('websocket.0/'.length)] = fields;
  }
  return rows;
}

const agentArgs = (file: string, extra: string[] = []): string[] => [
  '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
  '-o', 'websocket', '-p', `upstream=${file}`, '-p', 'format=json_lines', ...extra, '-m', '*',
  '-f', '0.05',
];

test('round robin over three nodes: each takes chunks, each chunk counted on one node, per-node metrics in JSON and Prometheus', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const servers: CountingServer[] = [];
  for (let i = 0; i < 3; i++) servers.push(await startCountingServer('json_lines'));
  t.after(async () => {
    for (const server of servers) await server.close();
  });
  const file = dir.write('nodes.conf', upstreamFile('three', servers.map((server) => server.port)));
  const agent = await startTestAgent(agentArgs(file));
  t.after(() => agent.stop());

  const sent = 600;
  const feeder = new TcpFeeder(agent.tcpPort(), { count: sent, perSecond: 1000 });
  await feeder.done;
  await agent.waitFor(() => servers.reduce((sum, server) => sum + server.unique, 0) === sent, `all ${sent} records at the servers`, 30_000);
  const perNode = nodeMetrics(agent);
  await agent.waitFor(() => Object.values(nodeMetrics(agent)).reduce((sum, row) => sum + (row['upstream_records'] ?? 0), 0) === sent, 'the per-node counts to reach the total', 10_000);
  assert.deepEqual(Object.keys(perNode).sort(), ['node-1', 'node-2', 'node-3']);
  for (const [index, server] of servers.entries()) {
    const row = nodeMetrics(agent)[`node-${index + 1}`] ?? {};
    assert.ok(server.unique > 0, `node-${index + 1} took a share`);
    assert.equal(row['upstream_records'], server.records, `node-${index + 1}: records counted = records received`);
    assert.equal(row['upstream_connections'], server.handshakes, `node-${index + 1}: connections`);
    assert.ok((row['upstream_chunks'] ?? 0) > 0);
    assert.equal(row['upstream_node_up'], 1);
  }
  assert.equal(servers.reduce((sum, server) => sum + server.duplicates, 0), 0, 'no chunk sent twice');
  const prometheus = renderPrometheus(agent.agent.metrics);
  assert.match(prometheus, /wsbit_output_upstream_records_total\{name="websocket\.0\/node-2"\} [1-9]/);
  assert.match(prometheus, /wsbit_output_upstream_node_up\{name="websocket\.0\/node-3"\} 1/);
});

test('a node that refuses is marked down and its chunks go to the others at once', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const server = await startCountingServer('json_lines');
  t.after(() => server.close());
  const refusing = await freePort();
  const file = dir.write('nodes.conf', upstreamFile('two', [refusing, server.port]));
  const agent = await startTestAgent(agentArgs(file));
  t.after(() => agent.stop());

  const sent = 300;
  const feeder = new TcpFeeder(agent.tcpPort(), { count: sent, perSecond: 1000 });
  await feeder.done;
  await agent.waitFor(() => server.unique === sent, `all ${sent} records at the node that is up`, 30_000);
  await agent.waitForLog(/\[upstream\] node 'node-1' \(127\.0\.0\.1:\d+\) is down: .*1 other node up/);
  // A node's records count once the server confirms the chunk (its pong), a moment after the server has them.
  await agent.waitFor(() => nodeMetrics(agent)['node-2']?.['upstream_records'] === sent, `${sent} records counted on node-2`, 10_000);
  const rows = nodeMetrics(agent);
  assert.equal(rows['node-1']?.['upstream_node_up'], 0);
  assert.ok((rows['node-1']?.['upstream_failures'] ?? 0) >= 1);
  assert.equal(rows['node-1']?.['upstream_records'] ?? 0, 0);
  assert.equal(rows['node-2']?.['upstream_records'], sent);
  // The balancer reports the outage; the link's own lines about it stay at debug.
  assert.equal(agent.countLines(/\[ warn\].*connecting to ws:\/\//), 0, agent.logs());
});

test('a node that takes data but never answers pings: chunks are not confirmed there and go to the other node', async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const good = await startCountingServer('json_lines');
  t.after(() => good.close());
  // `ws` with autoPong off: the upgrade succeeds, frames are read, pings are never answered.
  const silent = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
  let silentMessages = 0;
  silent.on('connection', (ws) => ws.on('message', () => silentMessages++));
  await new Promise<void>((resolve) => silent.once('listening', () => resolve()));
  t.after(async () => {
    for (const client of silent.clients) client.terminate();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const file = dir.write('nodes.conf', upstreamFile('two', [(silent.address() as AddressInfo).port, good.port]));
  const agent = await startTestAgent(agentArgs(file, ['-p', 'confirm_timeout=1s']));
  t.after(() => agent.stop());

  const sent = 200;
  const feeder = new TcpFeeder(agent.tcpPort(), { count: sent, perSecond: 1000 });
  await feeder.done;
  await agent.waitFor(() => good.unique === sent, `all ${sent} records confirmed by the node that answers`, 30_000);
  await agent.waitForLog(/\[upstream\] node 'node-1' \(127\.0\.0\.1:\d+\) is down/);
  assert.ok(silentMessages > 0, 'the silent node was offered chunks');
  await agent.waitFor(() => nodeMetrics(agent)['node-2']?.['upstream_records'] === good.records, 'node-2\'s confirmed count to reach what it received', 10_000);
  const rows = nodeMetrics(agent);
  assert.equal(rows['node-1']?.['upstream_records'] ?? 0, 0, 'nothing counted as delivered to the silent node');
  assert.equal(rows['node-2']?.['upstream_records'], good.records);
});
