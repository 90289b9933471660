/**
 * The kubernetes filter against the records of the real Fluent Bit 5.1.1 (test/fixtures/kubernetes,
 * made by its make.sh with the same logs, the same preload cache directory and the same fake API
 * server, test/helpers/kube-api.ts), and against a hostile API server: 401, 404, 5xx, garbage, a huge
 * body, and answers that come late or never.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { decode } from '@msgpack/msgpack';
import path from 'node:path';
import { mapEntries } from '../../src/codec/msgpack-map.js';
import { repoRoot } from '../helpers/paths.js';
import { readJsonLinesGolden, seen } from '../helpers/golden.js';
import { startFakeKubeApi, type FakeAnswer, type FakeKubeApi } from '../helpers/kube-api.js';
import { launchAgent, type InProcessAgent } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/temp.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'kubernetes');
const TOKEN = 'test-token';

interface Cluster {
  api: FakeKubeApi;
  logDir: string;
  pkiDir: string;
  tagPrefix: string;
}

/** The fixture's container logs under DIR/var/log/containers, the token files, and the fake API server. */
async function cluster(t: { after(fn: () => unknown): void }, answer?: (path: string) => FakeAnswer | undefined, token = TOKEN): Promise<Cluster> {
  const dir = tempDir('wsbit-kube-');
  const logDir = path.join(dir, 'var', 'log', 'containers');
  const pkiDir = path.join(dir, 'pki');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pkiDir);
  for (const name of readdirSync(path.join(fixtures, 'logs'))) copyFileSync(path.join(fixtures, 'logs', name), path.join(logDir, name.replace(/\.txt$/, '.log')));
  writeFileSync(path.join(pkiDir, 'token'), token);
  writeFileSync(path.join(pkiDir, 'namespace'), 'logging');
  const api = await startFakeKubeApi({ objectsDir: path.join(fixtures, 'cache'), pkiDir, token: TOKEN, ...(answer === undefined ? {} : { answer }) });
  t.after(() => api.close());
  return { api, logDir, pkiDir, tagPrefix: `kube.${logDir.slice(1).replace(/\//g, '.')}.` };
}

/**
 * Runs one of the fixture's Fluent Bit configurations in wsbit, its stdout output replaced by the
 * capture output. Records wait as long as needed for metadata (Fluent Bit's filter blocks instead).
 */
async function runFixtureConf(t: { after(fn: () => unknown): void }, name: string, env: Cluster): Promise<InProcessAgent> {
  Object.assign(process.env, {
    FIXTURE_DIR: fixtures,
    LOG_DIR: env.logDir,
    PKI_DIR: env.pkiDir,
    KUBE_PORT: String(env.api.port),
    TAG_PREFIX: env.tagPrefix,
  });
  const text = readFileSync(path.join(fixtures, `${name}.conf`), 'utf8')
    .replace(/\[OUTPUT\][\s\S]*$/, '')
    .replace(/^(\s+)Name(\s+)kubernetes$/m, '$1Name$2kubernetes\n$1Kube_Meta_Wait 120s');
  const conf = path.join(path.dirname(env.pkiDir), `${name}.conf`);
  writeFileSync(conf, text);
  const running = await launchAgent(['-c', conf, '-o', 'capture', '-m', '*']);
  t.after(() => running.stop());
  return running;
}

/** `date body` per record, sorted: files are read in no fixed order, each file's records in order. */
function sortedRecords(records: Array<{ date: number; body: Buffer }>): string[] {
  return records.map((record) => `${Math.round(record.date * 1e6)} ${record.body.toString('hex')}`).sort();
}

for (const name of ['api', 'preload', 'tag', 'kubelet']) {
  test(`golden: ${name}.conf gives Fluent Bit's records, byte for byte`, async (t) => {
    const expected = readJsonLinesGolden(path.join(fixtures, `${name}.fluent-bit.out`));
    const env = await cluster(t);
    const running = await runFixtureConf(t, name, env);
    await running.waitFor(() => seen(running).length >= expected.length, `${expected.length} records`);
    // Nothing more comes: what Fluent Bit dropped (exclusions) wsbit drops too.
    await running.stop();
    const records = seen(running).map((record) => ({ date: record.sec + record.nsec / 1e9, body: record.body }));
    assert.equal(records.length, expected.length);
    assert.deepEqual(sortedRecords(records), sortedRecords(expected));
    for (const line of readFileSync(path.join(fixtures, `${name}.fluent-bit.warnings`), 'utf8').split('\n')) {
      const annotation = /(unknown annotation|annotation '[^']+' not allowed) .*$/.exec(line);
      if (annotation !== null) assert.ok(running.logs().includes(annotation[0]), `wsbit warns as Fluent Bit does: ${annotation[0]}`);
    }
    if (name === 'tag') assert.equal(env.api.requests.length, 0, 'Use_Tag_For_Meta asks nothing');
    if (name === 'kubelet') {
      const lists = env.api.requests.filter((request) => request.path === '/pods').length;
      assert.ok(lists >= 1 && lists <= 4, `at most one /pods request per pod (${lists})`);
      assert.ok(env.api.requests.every((request) => request.path === '/pods'), 'nothing asked of the API server');
    }
    if (name === 'preload') {
      // Only the pod without a cache file (and its 404) went to the server.
      assert.deepEqual([...new Set(env.api.requests.map((request) => request.path))], ['/api/v1/namespaces/default/pods/ghost-5f6d7']);
    }
    if (name === 'api') {
      // One request per pod and per namespace, however many records; each with the token.
      const paths = env.api.requests.map((request) => request.path).sort();
      assert.deepEqual(paths, [...new Set(paths)]);
      assert.ok(env.api.requests.every((request) => request.authorization === `Bearer ${TOKEN}`));
    }
  });
}

const POD = 'web-7d4b9c6f5-x2x9z';
const WEB_TAG = `kube.var.log.containers.${POD}_default_nginx-5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65.log`;

/** A tcp input tagged as the web pod's container log, into the kubernetes filter. */
async function tcpAgent(t: { after(fn: () => unknown): void }, env: Cluster, props: string[]): Promise<InProcessAgent> {
  const running = await launchAgent([
    '-i', 'tcp', '-p', 'port=0', '-p', 'listen=127.0.0.1', '-t', WEB_TAG,
    '-F', 'kubernetes', '-m', 'kube.*',
    '-p', `kube_url=${env.api.url}`, '-p', `kube_ca_file=${env.api.caFile}`, '-p', `kube_token_file=${path.join(env.pkiDir, 'token')}`,
    ...props.flatMap((prop) => ['-p', prop]),
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  return running;
}

async function send(port: number, lines: readonly string[]): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(lines.map((line) => `${line}\n`).join(''));
  await new Promise<void>((resolve) => socket.end(resolve));
}

const line = (n: number): string => JSON.stringify({ log: `{"n":${n}}\n`, stream: 'stdout' });
const bodies = (running: InProcessAgent): Array<Record<string, unknown>> => seen(running).map((record) => decode(record.body) as Record<string, unknown>);

const metric = (running: InProcessAgent, name: string): number =>
  running.agent.metrics.snapshot().filter((row) => row.metric === name).reduce((sum, row) => sum + row.value, 0);

const badAnswers: Array<[string, FakeAnswer, RegExp]> = [
  ['404', { status: 404, body: '{"kind":"Status","code":404}' }, /HTTP 404/],
  ['500', { status: 500, body: 'etcdserver: request timed out' }, /HTTP 500: etcdserver/],
  ['garbage JSON', { status: 200, body: '{"kind":"Pod","metadata":{"name":' }, /invalid JSON/],
  ['a body over Buffer_Size', { status: 200, body: `{"kind":"Pod","metadata":{"annotations":{"big":"${'x'.repeat(64 * 1024)}"}}}` }, /over buffer_size \(\d+ bytes\)/],
];

for (const [what, answer, message] of badAnswers) {
  test(`an API server answering ${what}: an error logged and counted, the records pass without pod metadata`, async (t) => {
    const env = await cluster(t, (urlPath) => (urlPath.includes('/pods/') ? answer : undefined));
    const running = await tcpAgent(t, env, ['merge_log=on']);
    await send(running.tcpPort(), [line(1), line(2)]);
    await running.waitFor(() => seen(running).length >= 2, 'two records');
    await running.waitForLog(message);
    assert.deepEqual(bodies(running), [
      { log: '{"n":1}\n', stream: 'stdout', n: 1 },
      { log: '{"n":2}\n', stream: 'stdout', n: 2 },
    ]);
    assert.equal(metric(running, 'wsbit_filter_kubernetes_request_errors_total'), 1);
    assert.match(running.logs(), /\[error\].*cannot get metadata of pod default\/web-7d4b9c6f5-x2x9z/);
    // A failed pod is not asked again at once: the next records pass as they are.
    await send(running.tcpPort(), [line(3)]);
    await running.waitFor(() => seen(running).length >= 3, 'the third record');
    assert.equal(env.api.requests.filter((request) => request.path.includes('/pods/')).length, 1);
  });
}

test('a wrong token: the 401 is an error, records pass, nothing crashes', async (t) => {
  const env = await cluster(t, undefined, 'stale-token');
  const running = await tcpAgent(t, env, []);
  await send(running.tcpPort(), [line(1)]);
  await running.waitFor(() => seen(running).length >= 1, 'the record');
  await running.waitForLog(/HTTP 401/);
  assert.equal(env.api.requests[0]?.authorization, 'Bearer stale-token');
  assert.deepEqual(bodies(running), [{ log: '{"n":1}\n', stream: 'stdout' }]);
});

test('records wait for a slow answer, in order, and get the metadata when it comes', async (t) => {
  let answerNow = (): void => undefined;
  const gate = new Promise<void>((resolve) => (answerNow = resolve));
  const env = await cluster(t, (urlPath) => (urlPath.includes('/pods/') ? { until: gate } : undefined));
  const gated = env.api;
  const running = await tcpAgent(t, env, ['kube_meta_wait=120s']);
  for (let n = 1; n <= 3; n++) {
    await send(running.tcpPort(), [line(n)]);
    await running.waitFor(() => metric(running, 'fluentbit_input_records_total') >= n, `record ${n} read`);
  }
  await running.waitFor(() => gated.requests.length >= 1, 'the pod request');
  assert.equal(seen(running).length, 0, 'held while the API server thinks');
  answerNow();
  await running.waitFor(() => seen(running).length >= 3, 'three records');
  const received = bodies(running);
  assert.deepEqual(received.map((body) => body['log']), ['{"n":1}\n', '{"n":2}\n', '{"n":3}\n']);
  for (const body of received) assert.equal((body['kubernetes'] as Record<string, unknown>)['pod_id'], '0b9c4e3a-5d7f-4a8e-9c1b-2f6d8e7a9b10');
  assert.equal(gated.requests.length, 1, 'one request for the three emits');
  assert.equal(metric(running, 'wsbit_filter_kubernetes_waits_total'), 1);
  assert.equal(metric(running, 'wsbit_filter_kubernetes_late_records_total'), 0);
});

test('an API server that does not answer: records pass after kube_meta_wait with the tag\'s metadata, logged once and counted', async (t) => {
  let answerNow = (): void => undefined;
  const gate = new Promise<void>((resolve) => (answerNow = resolve));
  t.after(() => answerNow());
  const env = await cluster(t, (urlPath) => (urlPath.includes('/pods/') ? { until: gate } : undefined));
  const running = await tcpAgent(t, env, ['kube_meta_wait=1s']);
  await send(running.tcpPort(), [line(1), line(2)]);
  await running.waitFor(() => seen(running).length >= 2, 'two records');
  const tagOnly = { pod_name: POD, namespace_name: 'default', container_name: 'nginx', docker_id: '5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65' };
  assert.deepEqual(bodies(running).map((body) => body['kubernetes']), [tagOnly, tagOnly]);
  // Later records do not wait again while the request is out.
  await send(running.tcpPort(), [line(3)]);
  await running.waitFor(() => seen(running).length >= 3, 'the third record');
  assert.equal(metric(running, 'wsbit_filter_kubernetes_late_records_total'), 3);
  assert.equal(running.countLines(/passed with the tag's metadata only/), 1, 'one summary line, not one per record');
  // The answer comes: from then on records have the pod's metadata.
  answerNow();
  await running.waitForLog(/got the metadata of pod default\/web-7d4b9c6f5-x2x9z/);
  await send(running.tcpPort(), [line(4)]);
  await running.waitFor(() => seen(running).length >= 4, 'the fourth record');
  assert.equal((bodies(running)[3]?.['kubernetes'] as Record<string, unknown>)['pod_id'], '0b9c4e3a-5d7f-4a8e-9c1b-2f6d8e7a9b10');
});

test('at shutdown, held records go on with what is known: none is lost', async (t) => {
  const env = await cluster(t, (urlPath) => (urlPath.includes('/pods/') ? { until: new Promise(() => undefined) } : undefined));
  const running = await tcpAgent(t, env, ['kube_meta_wait=120s']);
  await send(running.tcpPort(), [line(1), line(2)]);
  await running.waitFor(() => env.api.requests.length >= 1, 'the pod request');
  await running.waitFor(() => metric(running, 'fluentbit_input_records_total') >= 2, 'both records read');
  await running.stop();
  assert.deepEqual(bodies(running).map((body) => body['log']), ['{"n":1}\n', '{"n":2}\n']);
});

test('a tag that is no container log passes untouched, with one warning per tag', async (t) => {
  const env = await cluster(t);
  const running = await launchAgent([
    '-i', 'tcp', '-p', 'port=0', '-p', 'listen=127.0.0.1', '-t', 'kube.var.log.containers.not-a-container.log',
    '-F', 'kubernetes', '-m', '*', '-p', `kube_url=${env.api.url}`, '-p', `kube_ca_file=${env.api.caFile}`,
    '-o', 'capture', '-m', '*', '-f', '0.05',
  ]);
  t.after(() => running.stop());
  await send(running.tcpPort(), [line(1)]);
  await send(running.tcpPort(), [line(2)]);
  await running.waitFor(() => seen(running).length >= 2, 'two records');
  assert.deepEqual(bodies(running), [{ log: '{"n":1}\n', stream: 'stdout' }, { log: '{"n":2}\n', stream: 'stdout' }]);
  assert.equal(running.countLines(/\[ ?warn\].*invalid pattern for given tag kube\.var\.log\.containers\.not-a-container\.log/), 1);
  assert.equal(env.api.requests.length, 0);
});

test("Fluent Bit's keys that do nothing here are accepted with one info line each", async (t) => {
  const env = await cluster(t);
  const running = await tcpAgent(t, env, ['use_journal=on', 'dummy_meta=on', 'aws_use_pod_association=on', 'tls.debug=2']);
  for (const key of ['use_journal', 'dummy_meta', 'aws_use_pod_association', 'tls.debug']) {
    assert.equal(running.countLines(new RegExp(`\\[ ?info\\].*'${key.replace('.', '\\.')}' is accepted and does nothing here: `)), 1, key);
  }
});

test('YAML: the filter as an input processor and as a filter, keys as Fluent Bit spells them', async (t) => {
  const env = await cluster(t);
  const file = path.join(path.dirname(env.pkiDir), 'kube.yaml');
  writeFileSync(
    file,
    [
      'pipeline:',
      '  inputs:',
      '    - name: tcp',
      '      listen: 127.0.0.1',
      '      port: 0',
      `      tag: ${WEB_TAG}`,
      '      processors:',
      '        logs:',
      '          - name: kubernetes',
      '            Use_Tag_For_Meta: on',
      '            Merge_Log: on',
      '            Merge_Log_Key: app',
      '  filters:',
      '    - name: kubernetes',
      '      match: kube.*',
      `      kube_url: ${env.api.url}`,
      `      kube_ca_file: ${env.api.caFile}`,
      `      kube_token_file: ${path.join(env.pkiDir, 'token')}`,
      '      labels: off',
      '      annotations: off',
      '',
    ].join('\n'),
  );
  const running = await launchAgent(['-c', file, '-o', 'capture', '-m', '*', '-f', '0.05']);
  t.after(() => running.stop());
  await send(running.tcpPort(), [line(7)]);
  await running.waitFor(() => seen(running).length >= 1, 'the record');
  const entries = [...decodeMapEntries(seen(running)[0]?.body ?? Buffer.alloc(0))];
  // The processor's tag-only map first, then the filter's, from the API server.
  assert.deepEqual(entries.map(([key]) => key), ['log', 'stream', 'app', 'kubernetes', 'kubernetes']);
  assert.deepEqual(entries[2]?.[1], { n: 7 });
  const maps = entries.filter(([key]) => key === 'kubernetes').map(([, value]) => value as Record<string, unknown>);
  assert.deepEqual(Object.keys(maps[0] ?? {}), ['pod_name', 'namespace_name', 'container_name', 'docker_id']);
  assert.deepEqual(Object.keys(maps[1] ?? {}), ['pod_name', 'namespace_name', 'pod_id', 'host', 'pod_ip', 'container_name', 'docker_id', 'container_hash', 'container_image']);
});

/** A body's entries in order, repeated keys included (decode keeps only the last). */
function* decodeMapEntries(body: Buffer): Generator<[string, unknown]> {
  for (const entry of mapEntries(body) ?? []) {
    yield [decode(entry.keyBuf.subarray(entry.keyStart, entry.keyEnd)) as string, decode(entry.valueBuf.subarray(entry.valueStart, entry.end))];
  }
}

test("as an output's processor, where nothing can be held, records pass at once with what the tag tells", async (t) => {
  let answerNow = (): void => undefined;
  const gate = new Promise<void>((resolve) => (answerNow = resolve));
  t.after(() => answerNow());
  const env = await cluster(t, (urlPath) => (urlPath.includes('/pods/') ? { until: gate } : undefined));
  const file = path.join(path.dirname(env.pkiDir), 'output-processor.yaml');
  writeFileSync(
    file,
    [
      'pipeline:',
      '  inputs:',
      '    - name: tcp',
      '      listen: 127.0.0.1',
      '      port: 0',
      `      tag: ${WEB_TAG}`,
      '  outputs:',
      '    - name: capture',
      "      match: '*'",
      '      processors:',
      '        logs:',
      '          - name: kubernetes',
      `            kube_url: ${env.api.url}`,
      `            kube_ca_file: ${env.api.caFile}`,
      `            kube_token_file: ${path.join(env.pkiDir, 'token')}`,
      '',
    ].join('\n'),
  );
  const running = await launchAgent(['-c', file, '-f', '0.05']);
  t.after(() => running.stop());
  await send(running.tcpPort(), [line(1)]);
  await running.waitFor(() => seen(running).length >= 1, 'the record');
  assert.deepEqual(bodies(running)[0]?.['kubernetes'], { pod_name: POD, namespace_name: 'default', container_name: 'nginx', docker_id: '5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65' });
  assert.equal(metric(running, 'wsbit_filter_kubernetes_late_records_total'), 1);
});
