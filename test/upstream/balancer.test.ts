import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/base/clock.js';
import { LogRoot } from '../../src/base/logger.js';
import { MetricsRegistry } from '../../src/base/metrics.js';
import { Telemetry } from '../../src/base/telemetry.js';
import { renderMetricsJson, renderPrometheus } from '../../src/monitoring/prometheus.js';
import { UpstreamBalancer } from '../../src/upstream/balancer.js';
import type { UpstreamNode } from '../../src/upstream/config.js';

const node = (name: string, port: number): UpstreamNode => ({ name, host: '127.0.0.1', port, uri: null, headers: [], sharedKey: null, selfHostname: null, tls: null });

function setup() {
  const clock = new ManualClock(1_000);
  const lines: string[] = [];
  const metrics = new MetricsRegistry();
  const telemetry = new Telemetry('http.0', new LogRoot({ level: 'debug', sink: { write: (text) => lines.push(text) } }).scoped('output:http:http.0'), metrics);
  const balancer = new UpstreamBalancer([node('a', 1), node('b', 2), node('c', 3)], telemetry, clock, (n) => n.port, { retryInitialMs: 1_000, retryMaxMs: 8_000, random: () => 1 });
  return { clock, lines, metrics, balancer };
}

const names = (entries: ReadonlyArray<{ node: UpstreamNode }>): string[] => entries.map((entry) => entry.node.name);

test('round robin: each call starts one node further', () => {
  const { balancer } = setup();
  assert.deepEqual([1, 2, 3, 4].map(() => names(balancer.candidates())), [
    ['a', 'b', 'c'],
    ['b', 'c', 'a'],
    ['c', 'a', 'b'],
    ['a', 'b', 'c'],
  ]);
});

test('a failed node is skipped until its backoff runs out, then tried again; success brings it back', async () => {
  const { clock, balancer, lines, metrics } = setup();
  const b = balancer.nodes[1];
  assert.ok(b !== undefined);
  balancer.failed(b, 'connect ECONNREFUSED');
  assert.equal(metrics.get('wsbit_output_upstream_node_up', 'http.0/b'), 0);
  for (let i = 0; i < 3; i++) assert.ok(!names(balancer.candidates()).includes('b'));
  await clock.advance(1_000);
  assert.ok(names(balancer.candidates()).includes('b'), 'due for a retry after at most retryInitialMs');
  balancer.failed(b, 'connect ECONNREFUSED');
  balancer.failed(b, 'connect ECONNREFUSED');
  assert.equal(lines.filter((line) => line.includes("node 'b'") && line.includes('is down')).length, 1, 'one warning per outage');
  assert.match(lines.find((line) => line.includes('is down')) ?? '', /\[ warn\].*node 'b' \(127\.0\.0\.1:2\) is down: connect ECONNREFUSED; 2 other nodes up, retrying it in 1\.0s/);
  balancer.delivered(b, 7);
  assert.equal(metrics.get('wsbit_output_upstream_node_up', 'http.0/b'), 1);
  assert.equal(metrics.get('wsbit_output_upstream_records_total', 'http.0/b'), 7);
  assert.equal(metrics.get('wsbit_output_upstream_failures_total', 'http.0/b'), 3);
  assert.ok(lines.some((line) => /node 'b' .* is up again/.test(line)));
});

test('every node down: all are offered, the one due soonest first', async () => {
  const { clock, balancer } = setup();
  const [a, b, c] = balancer.nodes;
  assert.ok(a && b && c);
  balancer.failed(b, 'x');
  await clock.advance(10);
  balancer.failed(c, 'x');
  await clock.advance(10);
  balancer.failed(a, 'x');
  assert.deepEqual(names(balancer.candidates()), ['b', 'c', 'a']);
});

test('per-node series appear in /api/v1/metrics JSON and Prometheus under OUTPUT/NODE', () => {
  const { balancer, metrics } = setup();
  const a = balancer.nodes[0];
  assert.ok(a !== undefined);
  balancer.connected(a);
  balancer.delivered(a, 5);
  const json = renderMetricsJson(metrics);
  assert.deepEqual(json.output['http.0/a'], { upstream_node_up: 1, upstream_connections: 1, upstream_chunks: 1, upstream_records: 5 });
  const text = renderPrometheus(metrics);
  assert.match(text, /^wsbit_output_upstream_records_total\{name="http\.0\/a"\} 5$/m);
  assert.match(text, /^wsbit_output_upstream_node_up\{name="http\.0\/c"\} 1$/m);
});
