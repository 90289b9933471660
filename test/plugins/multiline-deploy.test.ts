import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WebSocketServer } from 'ws';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { repoRoot } from '../helpers/paths.js';

const deployDir = path.join(repoRoot, 'deploy');
const containerId = (seed: string): string => seed.repeat(64).slice(0, 64);

test('the DaemonSet ConfigMap holds deploy/kubernetes.conf, deploy/wsbit.conf and deploy/parsers.conf verbatim', () => {
  const documents = parseAllDocuments(fs.readFileSync(path.join(deployDir, 'kubernetes-daemonset.yaml'), 'utf8'));
  const configMap = documents.map((document) => document.toJSON() as { kind: string; data?: Record<string, string> }).find((object) => object.kind === 'ConfigMap');
  assert.equal(configMap?.data?.['wsbit.conf'], fs.readFileSync(path.join(deployDir, 'wsbit.conf'), 'utf8'));
  assert.equal(configMap?.data?.['parsers.conf'], fs.readFileSync(path.join(deployDir, 'parsers.conf'), 'utf8'));
  assert.equal(configMap?.data?.['kubernetes.conf'], fs.readFileSync(path.join(deployDir, 'kubernetes.conf'), 'utf8'));
});

/** A CRI log line as containerd writes it. */
const cri = (time: string, stream: 'stdout' | 'stderr', marker: 'P' | 'F', text: string): string => `2026-11-22T10:00:${time}Z ${stream} ${marker} ${text}\n`;

test('deploy/wsbit.conf ships one record per stack trace, with namespace, pod and container, to a WebSocket server', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsbit-deploy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const logs = path.join(dir, 'containers');
  const state = path.join(dir, 'state');
  fs.mkdirSync(logs);
  fs.mkdirSync(state);
  const javaFile = path.join(logs, `payments-api-7d9f8b6c5-x2x4q_shop_api-${containerId('a1')}.log`);
  const pythonFile = path.join(logs, `report-worker-0_jobs_worker-${containerId('b2')}.log`);
  fs.writeFileSync(javaFile, '');
  fs.writeFileSync(pythonFile, '');

  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ingest' });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const received: Array<Record<string, unknown>> = [];
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => {
      for (const line of data.toString('utf8').split('\n')) if (line !== '') received.push(JSON.parse(line) as Record<string, unknown>);
    });
  });
  const port = (server.address() as { port: number }).port;

  // A stdout output matching one exact tag shows the tag Tag_Regex made from the file name.
  const apiTag = 'kube.shop.payments-api-7d9f8b6c5-x2x4q.api';
  const agent = spawnAgent(['-o', 'stdout', '-m', apiTag, '-p', 'format=json_lines', '-c', path.join(deployDir, 'wsbit.conf')], {
    env: { WSBIT_WS_HOST: '127.0.0.1', WSBIT_WS_PORT: String(port), WSBIT_STATE_DIR: state, WSBIT_CONTAINER_LOGS: logs, WSBIT_HTTP_PORT: '0' },
  });
  t.after(() => agent.stop());
  await agent.waitForOutput('following 2 files');

  fs.appendFileSync(javaFile, [
    cri('00.100000000', 'stdout', 'F', 'INFO starting payments api'),
    cri('01.000000000', 'stderr', 'F', 'Exception in thread "main" java.lang.IllegalStateException: order 17 has no lines'),
    cri('01.000000001', 'stderr', 'F', '\tat com.example.orders.OrderService.total(OrderService.java:42)'),
    // A long frame split by the runtime: P pieces, then the F one.
    cri('01.000000002', 'stderr', 'P', '\tat com.example.orders.Order'),
    cri('01.000000003', 'stderr', 'P', 'Service.checkout(OrderServ'),
    cri('01.000000004', 'stderr', 'F', 'ice.java:31)'),
    cri('01.000000005', 'stderr', 'F', 'Caused by: java.lang.NullPointerException: lines is null'),
    cri('01.000000006', 'stderr', 'F', '\t... 2 more'),
    cri('02.000000000', 'stdout', 'F', 'INFO order 18 paid'),
  ].join(''));
  fs.appendFileSync(pythonFile, [
    cri('03.000000000', 'stderr', 'F', 'Traceback (most recent call last):'),
    cri('03.000000001', 'stderr', 'P', '  File "/app/report.py", line 14, in <mod'),
    cri('03.000000002', 'stderr', 'F', 'ule>'),
    cri('03.000000003', 'stderr', 'F', '    main()'),
    cri('03.000000004', 'stderr', 'F', 'ZeroDivisionError: division by zero'),
    cri('04.000000000', 'stdout', 'F', 'report done'),
  ].join(''));

  await waitFor(() => received.length >= 5, `five records at the WebSocket server\n${agent.stderr()}${JSON.stringify(received)}`, 30_000);
  assert.equal(await agent.stop(), 0);

  const byPod = (pod: string): Array<Record<string, unknown>> => received.filter((record) => record['pod_name'] === pod);
  const strip = (record: Record<string, unknown>): Record<string, unknown> => {
    const { date: _date, time: _time, container_id: _id, ...rest } = record;
    return rest;
  };
  const api = { pod_name: 'payments-api-7d9f8b6c5-x2x4q', namespace_name: 'shop', container_name: 'api' };
  const worker = { pod_name: 'report-worker-0', namespace_name: 'jobs', container_name: 'worker' };
  assert.deepEqual(byPod(api.pod_name).map(strip), [
    { ...api, stream: 'stdout', _p: 'F', log: 'INFO starting payments api' },
    {
      ...api, stream: 'stderr', _p: 'F',
      log: 'Exception in thread "main" java.lang.IllegalStateException: order 17 has no lines\n' +
        '\tat com.example.orders.OrderService.total(OrderService.java:42)\n' +
        '\tat com.example.orders.OrderService.checkout(OrderService.java:31)\n' +
        'Caused by: java.lang.NullPointerException: lines is null\n' +
        '\t... 2 more',
    },
    { ...api, stream: 'stdout', _p: 'F', log: 'INFO order 18 paid' },
  ]);
  assert.deepEqual(byPod(worker.pod_name).map(strip), [
    {
      ...worker, stream: 'stderr', _p: 'F',
      log: 'Traceback (most recent call last):\n  File "/app/report.py", line 14, in <module>\n    main()\nZeroDivisionError: division by zero',
    },
    { ...worker, stream: 'stdout', _p: 'F', log: 'report done' },
  ]);
  // Each stack trace is timed by its first line, and the container id is kept.
  const trace = byPod(api.pod_name)[1] ?? {};
  assert.equal(trace['time'], '2026-11-22T10:00:01.000000000Z');
  assert.equal(trace['date'], Date.UTC(2026, 10, 22, 10, 0, 1) / 1000);
  assert.equal(trace['container_id'], containerId('a1'));
  assert.equal(received.length, 5);
  const printed = agent.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(printed.map((record) => record['log']), byPod(api.pod_name).map((record) => record['log']));
});
