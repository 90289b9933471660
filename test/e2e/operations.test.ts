import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { startCountingServer } from '../plugins/websocket-output-support.js';
import { tempDir } from '../helpers/temp.js';

function httpPort(agent: RunningAgent): number {
  const match = /\[http_server\] listen iface=\S+ tcp_port=(\d+)/.exec(agent.stderr());
  if (match === null) throw new Error(`no http_server line in:\n${agent.stderr()}`);
  return Number(match[1]);
}

async function get(port: number, route: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${route}`);
  return { status: response.status, text: await response.text() };
}

function conf(text: string): string {
  const dir = tempDir('wsbit-ops-');
  const file = path.join(dir, 'wsbit.conf');
  writeFileSync(file, text);
  return file;
}

test('the monitoring server: build info, uptime, JSON metrics and Prometheus text a real parser reads', async (t) => {
  const agent = spawnAgent([
    '-H', '-L', '127.0.0.1', '-P', '0',
    '-i', 'dummy', '-p', 'rate=50', '-p', 'samples=25', '-o', 'null', '-m', '*', '-f', '0.1',
  ]);
  t.after(() => agent.stop());
  await agent.waitForOutput(/\[http_server\] listen/);
  const port = httpPort(agent);
  const root = JSON.parse((await get(port, '/')).text) as { wsbit: { version: string } };
  assert.match(root.wsbit.version, /^\d+\.\d+\.\d+$/);
  const uptime = JSON.parse((await get(port, '/api/v1/uptime')).text) as { uptime_sec: number; uptime_hr: string };
  assert.ok(uptime.uptime_sec >= 0);
  assert.match(uptime.uptime_hr, /running: {2}0 days, 0 hours, 0 minutes and \d+ seconds?/);

  let metrics: { input: Record<string, { records: number }>; output: Record<string, { proc_records: number }> } = { input: {}, output: {} };
  for (let i = 0; i < 100; i++) {
    metrics = JSON.parse((await get(port, '/api/v1/metrics')).text);
    if (metrics.output['null.0']?.proc_records === 25) break;
    await sleep(50);
  }
  assert.equal(metrics.input['dummy.0']?.records, 25);
  assert.equal(metrics.output['null.0']?.proc_records, 25);

  for (const route of ['/api/v1/metrics/prometheus', '/api/v2/metrics/prometheus']) {
    const parsed = parsePrometheusTextFormat((await get(port, route)).text);
    const sample = (name: string, instance: string) =>
      Number(parsed.find((family) => family.name === name)?.metrics.find((m) => m.labels?.['name'] === instance)?.value);
    assert.equal(sample('fluentbit_input_records_total', 'dummy.0'), 25, route);
    assert.equal(sample('fluentbit_output_proc_records_total', 'null.0'), 25, route);
    assert.equal(parsed.find((family) => family.name === 'fluentbit_output_proc_records_total')?.type, 'COUNTER');
  }
  const v2 = parsePrometheusTextFormat((await get(port, '/api/v2/metrics/prometheus')).text);
  assert.ok(v2.some((family) => family.name === 'fluentbit_uptime'));
  assert.equal((await get(port, '/api/v1/health')).status, 404, 'health needs Health_Check on');
  assert.equal((await get(port, '/nope')).status, 404);
});

test('health turns unhealthy after HC_Errors_Count errors in a period, and recovers', async (t) => {
  const file = conf(
    [
      '[SERVICE]',
      '    Flush 0.1',
      '    HTTP_Server on',
      '    HTTP_Listen 127.0.0.1',
      '    HTTP_Port 0',
      '    Health_Check on',
      '    HC_Errors_Count 2',
      '    HC_Retry_Failure_Count 2',
      '    HC_Period 1',
      '    scheduler.base 1',
      '    scheduler.cap 1',
      '[INPUT]',
      '    Name dummy',
      '    Rate 20',
      '[OUTPUT]',
      '    Name websocket',
      '    Match *',
      '    Host 127.0.0.1',
      '    Port ${WS_PORT}',
      '    Format json_lines',
      '',
    ].join('\n'),
  );
  const server = await startCountingServer('json_lines');
  const port = server.port;
  await server.crash();
  t.after(() => server.close());
  const agent = spawnAgent(['-c', file], { env: { WS_PORT: String(port) } });
  t.after(() => agent.stop());
  await agent.waitForOutput(/\[http_server\] listen/);
  const monitor = httpPort(agent);
  let status = 0;
  for (let i = 0; i < 60 && status !== 500; i++) {
    await sleep(100);
    status = (await get(monitor, '/api/v1/health')).status;
  }
  assert.equal(status, 500, 'unhealthy while the server is down');
  assert.equal((await get(monitor, '/api/v1/health')).text, 'error\n');
  await server.start();
  for (let i = 0; i < 60 && status !== 200; i++) {
    await sleep(100);
    status = (await get(monitor, '/api/v1/health')).status;
  }
  assert.equal(status, 200, 'healthy again once the server is back');
});

test('hot reload under load: SIGHUP swaps the pipeline, 0 records lost; an invalid config keeps the old one', async (t) => {
  const server = await startCountingServer('json_lines');
  t.after(() => server.close());
  const dir = tempDir('wsbit-reload-');
  const file = path.join(dir, 'wsbit.conf');
  const write = (format: string, extra = '') =>
    writeFileSync(
      file,
      [
        '[SERVICE]',
        '    Flush 0.1',
        '    Hot_Reload on',
        '    HTTP_Server on',
        '    HTTP_Listen 127.0.0.1',
        '    HTTP_Port 0',
        '[INPUT]',
        '    Name tcp',
        '    Listen 127.0.0.1',
        `    Port 0`,
        '[OUTPUT]',
        '    Name websocket',
        '    Match *',
        '    Host 127.0.0.1',
        `    Port ${server.port}`,
        `    Format ${format}`,
        extra,
        '',
      ].join('\n'),
    );
  write('json_lines');
  const agent = spawnAgent(['-c', file]);
  t.after(() => agent.stop());
  await agent.waitForOutput(/\[input:tcp:tcp\.0\] listening on/);
  const { TcpFeeder } = await import('../plugins/websocket-output-support.js');
  const tcpPort = () => Number([...agent.stderr().matchAll(/\[input:tcp:tcp\.0\] listening on [^\s]+:(\d+)/g)].at(-1)?.[1]);

  const first = new TcpFeeder(tcpPort(), { count: 1000, perSecond: 2000 });
  await first.done;
  await waitFor(() => server.unique === 1000, 'the first 1000 records');

  write('json_lines', '    Bogus_Key yes');
  agent.child.kill('SIGHUP');
  await agent.waitForOutput('[reload] the new configuration is invalid, the running pipeline is kept');
  const second = new TcpFeeder(tcpPort(), { count: 500, perSecond: 2000, firstSeq: 1001 });
  await second.done;
  await waitFor(() => server.unique === 1500, 'records after the rejected reload');

  write('json_lines');
  const feeder = new TcpFeeder(tcpPort(), { count: 1000, perSecond: 1000, firstSeq: 1501 });
  await sleep(300);
  agent.child.kill('SIGHUP');
  await agent.waitForOutput('[reload] done');
  await feeder.close();
  const third = new TcpFeeder(tcpPort(), { count: 200, perSecond: 2000, firstSeq: 5001 });
  await third.done;
  // The reload keeps the tcp listener and the feeder's connection (issue 21): every record written arrives.
  const written = 1500 + feeder.sent + 200;
  await waitFor(() => server.unique === written, `${written} records at the server (has ${server.unique})`, 20_000);
  const received = async (): Promise<number> => {
    const metrics = JSON.parse((await get(httpPort(agent), '/api/v1/metrics')).text) as { input: Record<string, { records: number }> };
    return metrics.input['tcp.0']?.records ?? 0;
  };
  let accepted = 0;
  for (let i = 0; i < 200; i++) {
    accepted = await received();
    if (accepted === server.unique && server.seqs.has(5200)) break;
    await sleep(50);
  }
  t.diagnostic(
    `hot reload: wsbit received ${accepted} records (${written} written by the clients), the server got ${server.unique} distinct, duplicates ${server.duplicates}`,
  );
  assert.equal(server.unique, accepted, 'every record wsbit received was delivered');
  assert.equal(accepted, written, 'wsbit received every record written');
  assert.equal(server.duplicates, 0);
  assert.ok(server.seqs.has(5200), 'the new pipeline delivers');
  assert.match(agent.stderr(), /\[reload\] done: \d+ buffered records carried over/);
  assert.equal(await agent.stop(), 0);
});

test('-J prints the plugins and their keys as JSON; after a plugin, that plugin only', async () => {
  const all = spawnAgent(['-J']);
  assert.equal(await all.waitForExit(), 0);
  // Fluent Bit's -J shape (test/cli/help.test.ts checks it against Fluent Bit's own output).
  type Option = { name: string; default: string | null };
  const parsed = JSON.parse(all.stdout()) as { outputs: Array<{ name: string; properties: Record<string, Option[]> }> };
  const websocket = parsed.outputs.find((output) => output.name === 'websocket');
  assert.ok(websocket !== undefined);
  const options = Object.values(websocket.properties).flat();
  assert.deepEqual(options.find((option) => option.name === 'retry_limit')?.default, 'no_limits');
  assert.ok(options.some((option) => option.name === 'confirm_delivery'));

  const one = spawnAgent(['-o', 'websocket', '-J']);
  assert.equal(await one.waitForExit(), 0);
  assert.equal((JSON.parse(one.stdout()) as { name: string }).name, 'websocket');
});

test('/api/v1/storage reports chunks when storage.path is set', async (t) => {
  const dir = tempDir('wsbit-ops-storage-');
  const agent = spawnAgent([
    '-H', '-L', '127.0.0.1', '-P', '0', '-b', dir,
    '-i', 'dummy', '-p', 'storage.type=filesystem', '-p', 'rate=20',
    '-o', 'websocket://127.0.0.1:9/', '-m', '*', '-f', '0.1',
  ]);
  t.after(() => agent.stop());
  await agent.waitForOutput(/\[http_server\] listen/);
  let report: { storage_layer: { chunks: { total_chunks: number; fs_chunks: number } } } | null = null;
  for (let i = 0; i < 50; i++) {
    const response = await get(httpPort(agent), '/api/v1/storage');
    assert.equal(response.status, 200);
    report = JSON.parse(response.text);
    if ((report?.storage_layer.chunks.fs_chunks ?? 0) > 0) break;
    await sleep(100);
  }
  assert.ok((report?.storage_layer.chunks.fs_chunks ?? 0) > 0, 'chunks wait on disk while the server is unreachable');
  assert.equal(report?.storage_layer.chunks.total_chunks, report?.storage_layer.chunks.fs_chunks);
});
