/**
 * The http input's keys of Fluent Bit 5.1.1's http_server: enable_health_endpoint (GET /health answers
 * as Fluent Bit does, test/fixtures/fluent-bit/http-health/make.sh, and only when it is on), and the
 * http_server.* names of buffer_max_size and max_connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { resolveConfig } from '../../src/config/schema.js';
import { ParserRegistry } from '../../src/pipeline/parser-registry.js';
import { pluginSchema } from '../../src/pipeline/plugin-schema.js';
import { httpInputOptions } from '../../src/plugins/inputs/http/options.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { fluentBitFixtures } from '../helpers/paths.js';
import { startAgent } from '../helpers/pipeline.js';

/** The body of Fluent Bit's answer, its time made a pattern. */
function expectedBody(): RegExp {
  const raw = fs.readFileSync(path.join(fluentBitFixtures, 'http-health', 'health.http'), 'latin1');
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const escaped = body.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\\\.\d{9}Z/, '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z')}$`);
}

for (const on of [true, false]) {
  test(`enable_health_endpoint ${on ? 'on: GET /health is 200 with Fluent Bit\'s body' : 'off: GET /health is refused like any GET'}`, async (t) => {
    const running = await startAgent(['-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', ...(on ? ['-p', 'enable_health_endpoint=on'] : []), '-o', 'capture', '-m', '*', '-f', '0.05']);
    t.after(() => running.stop());
    const port = running.agent.input('http.0')?.listeningPort?.() as number;
    const answer = await request(`http://127.0.0.1:${port}/health`);
    const body = await answer.body.text();
    if (on) {
      assert.equal(answer.statusCode, 200);
      assert.match(body, expectedBody());
      const timestamp = (JSON.parse(body) as { timestamp: string }).timestamp;
      assert.ok(Math.abs(Date.parse(timestamp) - Date.now()) < 60_000, timestamp);
    } else {
      assert.equal(answer.statusCode, 400);
    }
    assert.equal(running.chunks.length, 0);
  });
}

test('http_server.buffer_max_size and http_server.max_connections are the newer names of buffer_max_size and max_connections, and win', async (t) => {
  const running = await startAgent([
    '-i', 'http', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'buffer_max_size=1M', '-p', 'http_server.buffer_max_size=16', '-p', 'http_server.max_connections=5',
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  const port = running.agent.input('http.0')?.listeningPort?.() as number;
  const small = await request(`http://127.0.0.1:${port}/app`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
  await small.body.text();
  assert.equal(small.statusCode, 201);
  const big = await request(`http://127.0.0.1:${port}/app`, { method: 'POST', body: `{"a":"${'x'.repeat(40)}"}`, headers: { 'content-type': 'application/json' } });
  assert.match(await big.body.text(), /buffer_max_size is 16/);
  assert.equal(big.statusCode, 413);
  await running.waitFor(() => running.chunks.length === 1, 'the small request');
  const options = httpInputOptions(
    resolveConfig(pluginSchema(defaultRegistry().input('http') as NonNullable<ReturnType<ReturnType<typeof defaultRegistry>['input']>>), [{ key: 'http_server.max_connections', value: '5' }], { instance: 'http.0', kind: 'input' }).config as never,
    'http.0',
    new ParserRegistry(),
  );
  assert.equal(options.maxConnections, 5);
});
