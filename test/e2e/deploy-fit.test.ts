/**
 * The deployment files fit together and with the example receiver: the image tag, the port, path and
 * token the agents ship with and the aggregator listens on, the Dockerfile's build and health check,
 * the plain Docker host's config, the README's YAML example on its own, and the DaemonSet's RBAC with
 * deploy/kubernetes.conf against a test API server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WebSocketServer } from 'ws';
import { repoRoot } from '../helpers/paths.js';
import { startFakeKubeApi } from '../helpers/kube-api.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const read = (file: string): string => readFileSync(path.join(repoRoot, file), 'utf8');

/** The value of `key` in the first section named `name` of a classic file (its first occurrence). */
function classicKey(text: string, name: string, key: string): string {
  const sections = text.split(/^\[/m).filter((section) => new RegExp(`^\\w+\\]\\s*\\n(?:.*\\n)*?\\s+Name\\s+${name}\\s*$`, 'm').test(section));
  const section = sections[0];
  assert.ok(section !== undefined, `a ${name} section`);
  const value = new RegExp(`^\\s+${key.replace('.', '\\.')}\\s+(.+)$`, 'im').exec(section)?.[1];
  assert.ok(value !== undefined, `${key} in the ${name} section`);
  return value.trim();
}

interface DaemonSetContainer {
  image: string;
  args?: string[];
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}

interface KubeObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec: { serviceAccountName?: string; automountServiceAccountToken?: boolean } } };
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
  roleRef?: { kind: string; name: string };
  data?: Record<string, string>;
}

/** The DaemonSet's one container. */
function daemonSetContainer(): DaemonSetContainer | undefined {
  const objects = parseAllDocuments(read('deploy/kubernetes-daemonset.yaml')).map(
    (document) => document.toJSON() as { kind: string; spec?: { template: { spec: { containers: DaemonSetContainer[] } } } },
  );
  return objects.find((object) => object.kind === 'DaemonSet')?.spec?.template.spec.containers[0];
}

/** `${VAR:-default}` → default; anything else as it is. */
const envDefault = (value: string): string => /^\$\{\w+:-(.*)\}$/.exec(value)?.[1] ?? value;

test('one image tag everywhere: the package version, in the Dockerfile, the README and the DaemonSet', () => {
  const { version } = JSON.parse(read('package.json')) as { version: string };
  const tag = `wsbit:${version}`;
  for (const file of ['Dockerfile', 'README.md', 'deploy/kubernetes-daemonset.yaml']) {
    const builds = [...read(file).matchAll(/docker build -t (\S+) \./g)].map((match) => match[1]);
    const runs = [...read(file).matchAll(/\bwsbit:\d[\w.-]*/g)].map((match) => match[0]);
    assert.ok(builds.length + runs.length > 0, `${file} names the image`);
    for (const named of [...builds, ...runs]) assert.equal(named, tag, `${file}: ${named}`);
  }
  assert.equal(daemonSetContainer()?.image, tag);
});

test('the agents ship to the port, path and token the example aggregator listens on', () => {
  const aggregator = read('conf/aggregator.conf');
  const port = classicKey(aggregator, 'websocket', 'Port');
  const ingestPath = classicKey(aggregator, 'websocket', 'Path');
  const token = classicKey(aggregator, 'websocket', 'Token');
  assert.equal(token, '${WSBIT_TOKEN:-wsbit-example-token}');
  for (const file of ['deploy/wsbit.conf', 'deploy/docker-host.conf', 'conf/agent.conf']) {
    const agent = read(file);
    assert.equal(envDefault(classicKey(agent, 'websocket', 'Port')), port, `${file}: Port`);
    assert.equal(classicKey(agent, 'websocket', 'URI'), ingestPath, `${file}: URI`);
    assert.equal(classicKey(agent, 'websocket', 'Header'), `Authorization Bearer ${token}`, `${file}: the token header`);
  }
  const env = daemonSetContainer()?.env ?? [];
  assert.equal(env.find((entry) => entry.name === 'WSBIT_WS_PORT')?.value, port);
  assert.ok(env.find((entry) => entry.name === 'WSBIT_TOKEN')?.valueFrom !== undefined, 'the DaemonSet takes the token from a secret');
  // The Dockerfile's docker run lines give the token too.
  const runs = read('Dockerfile').replace(/\\\n#\s*/g, ' ').split('\n').filter((line) => line.includes('docker run'));
  assert.equal(runs.length, 2, 'a plain Docker host and a Kubernetes node');
  for (const run of runs) assert.match(run, /-e WSBIT_TOKEN=\S+/);
});

test('the Dockerfile compiles src/ only, pins its base image to a full version, and checks /api/v1/health', () => {
  const dockerfile = read('Dockerfile');
  const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1] ?? '');
  assert.equal(bases.length, 2);
  for (const base of bases) assert.match(base, /^node:\d+\.\d+\.\d+-[a-z]+-slim$/);
  assert.equal(bases[0], bases[1], 'the build and the runtime on the same Node');
  const build = dockerfile.split(/^FROM /m)[1] ?? '';
  assert.doesNotMatch(build, /^COPY (test|bench)\b/m);
  assert.match(build, /tsc -p tsconfig\.build\.json/);
  // What `npm run build` does after tsc, the image does too: the live page's check and its files.
  const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  for (const step of (scripts['build'] ?? '').split(' && ').slice(1)) assert.ok(build.includes(step), `the build stage runs ${step}`);
  const buildConfig = JSON.parse(read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')) as { extends: string; include: string[] };
  assert.equal(buildConfig.extends, './tsconfig.json');
  assert.deepEqual(buildConfig.include, ['src/**/*.ts']);
  assert.match(dockerfile, /^HEALTHCHECK .*CMD \["node", "-e", .*\/api\/v1\/health/m);
});

test("the Dockerfile's HEALTHCHECK command passes while deploy/wsbit.conf runs and fails once it stopped", async (t) => {
  const line = /^HEALTHCHECK .*? CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
  assert.ok(line !== undefined);
  const [node, ...args] = JSON.parse(line) as string[];
  assert.equal(node, 'node');
  const dir = tempDir('wsbit-healthcheck-');
  mkdirSync(path.join(dir, 'logs'));
  const agent = spawnAgent(['-c', path.join(repoRoot, 'deploy', 'wsbit.conf')], {
    env: { WSBIT_WS_HOST: '127.0.0.1', WSBIT_WS_PORT: '9', WSBIT_STATE_DIR: dir, WSBIT_CONTAINER_LOGS: path.join(dir, 'logs'), WSBIT_HTTP_PORT: '0' },
  });
  t.after(() => agent.stop('SIGKILL').catch(() => undefined));
  const listening = /listen iface=\S+ tcp_port=(\d+)/;
  await agent.waitForOutput(listening, 'the monitoring server', 20_000);
  const port = listening.exec(agent.stderr())?.[1] ?? '';
  const check = (): number | null => spawnSync(process.execPath, args, { env: { ...process.env, WSBIT_HTTP_PORT: port }, timeout: 10_000 }).status;
  assert.equal(check(), 0);
  assert.equal(await agent.stop('SIGTERM'), 0, agent.stderr());
  assert.equal(check(), 1);
});

test('deploy/docker-host.conf ships a container json-file log, stack traces joined and the container id added, with the token', async (t) => {
  const dir = tempDir('wsbit-docker-host-');
  const id = 'ab'.repeat(32);
  const containers = path.join(dir, 'containers');
  mkdirSync(path.join(containers, id), { recursive: true });
  mkdirSync(path.join(dir, 'state'));
  const log = path.join(containers, id, `${id}-json.log`);
  writeFileSync(log, '');
  writeFileSync(path.join(containers, id, 'config.v2.json'), '{}\n');

  const authorizations: string[] = [];
  const received: Array<Record<string, unknown>> = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ingest' });
  server.on('connection', (socket, request) => {
    authorizations.push(request.headers.authorization ?? '');
    socket.on('message', (data: Buffer) => {
      for (const text of data.toString('utf8').split('\n')) if (text !== '') received.push(JSON.parse(text) as Record<string, unknown>);
    });
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  const agent = spawnAgent(['-c', path.join(repoRoot, 'deploy', 'docker-host.conf')], {
    env: {
      WSBIT_WS_HOST: '127.0.0.1',
      WSBIT_WS_PORT: String(port),
      WSBIT_TOKEN: 'choose-a-secret',
      WSBIT_STATE_DIR: path.join(dir, 'state'),
      WSBIT_DOCKER_CONTAINERS: containers,
      WSBIT_HTTP_PORT: '0',
    },
  });
  t.after(() => agent.stop('SIGKILL').catch(() => undefined));
  await agent.waitForOutput('following 1 file');
  const entry = (time: string, stream: string, text: string): string => `${JSON.stringify({ log: `${text}\n`, stream, time: `2026-12-05T07:00:${time}Z` })}\n`;
  appendFileSync(log, [
    entry('00.000000001', 'stdout', 'hello from a container'),
    entry('01.000000001', 'stderr', 'Traceback (most recent call last):'),
    entry('01.000000002', 'stderr', '  File "/app/x.py", line 1, in <module>'),
    entry('01.000000003', 'stderr', 'ZeroDivisionError: division by zero'),
    entry('02.000000001', 'stdout', 'after'),
  ].join(''));
  await waitFor(() => received.length >= 3, `three records at the receiver\n${agent.stderr()}`, 30_000);
  assert.equal(await agent.stop('SIGTERM'), 0, agent.stderr());
  assert.doesNotMatch(agent.stderr(), /\[error\]/);

  assert.deepEqual(authorizations, ['Bearer choose-a-secret']);
  assert.deepEqual(received.map((record) => record['log']), [
    'hello from a container\n',
    'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>\nZeroDivisionError: division by zero\n',
    'after\n',
  ]);
  for (const record of received) assert.equal(record['container_id'], id);
});

test("the README's YAML example passes -D on its own", () => {
  const example = /^```yaml\n([\s\S]*?)^```/m.exec(read('README.md'))?.[1];
  assert.ok(example !== undefined);
  const dir = tempDir('wsbit-readme-yaml-');
  const file = path.join(dir, 'app.yaml');
  writeFileSync(file, example);
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'wsbit'), '-c', file, '-D'], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'configuration test is successful\n');
});

test('the DaemonSet runs deploy/kubernetes.conf as a service account that may read pods and namespaces', () => {
  const objects = parseAllDocuments(read('deploy/kubernetes-daemonset.yaml')).map((document) => document.toJSON() as KubeObject);
  const daemonSet = objects.find((object) => object.kind === 'DaemonSet');
  const namespace = daemonSet?.metadata.namespace;
  const account = daemonSet?.spec?.template?.spec.serviceAccountName;
  assert.ok(account !== undefined, 'the DaemonSet names a service account');
  assert.notEqual(daemonSet?.spec?.template?.spec.automountServiceAccountToken, false, 'the token is mounted');
  assert.ok(objects.some((object) => object.kind === 'ServiceAccount' && object.metadata.name === account && object.metadata.namespace === namespace));
  const binding = objects.find(
    (object) => object.kind === 'ClusterRoleBinding' && (object.subjects ?? []).some((subject) => subject.kind === 'ServiceAccount' && subject.name === account && subject.namespace === namespace),
  );
  assert.ok(binding !== undefined, 'a ClusterRoleBinding for the service account');
  assert.equal(binding.roleRef?.kind, 'ClusterRole');
  const role = objects.find((object) => object.kind === 'ClusterRole' && object.metadata.name === binding.roleRef?.name);
  for (const resource of ['pods', 'namespaces']) {
    for (const verb of ['get', 'list', 'watch']) {
      assert.ok(
        (role?.rules ?? []).some((rule) => rule.apiGroups.includes('') && rule.resources.includes(resource) && rule.verbs.includes(verb)),
        `the ClusterRole allows ${verb} on ${resource}`,
      );
    }
  }
  // The config the DaemonSet runs is in the ConfigMap it mounts, and has the kubernetes filter.
  const args = daemonSetContainer()?.args ?? [];
  const configFile = args[args.indexOf('-c') + 1] ?? '';
  const data = objects.find((object) => object.kind === 'ConfigMap')?.data ?? {};
  assert.equal(configFile, '/etc/wsbit/kubernetes.conf');
  assert.match(data[path.basename(configFile)] ?? '', /^\s+Name\s+kubernetes$/m);
});

test('deploy/kubernetes.conf ships container logs with the pod metadata of the API server, JSON logs merged', async (t) => {
  const dir = tempDir('wsbit-deploy-kube-');
  const logs = path.join(dir, 'containers');
  const objects = path.join(dir, 'objects');
  const secrets = path.join(dir, 'serviceaccount');
  for (const sub of [logs, objects, secrets, path.join(dir, 'state')]) mkdirSync(sub);
  const id = 'c3'.repeat(32);
  const pod = 'payments-api-7d9f8b6c5-x2x4q';
  writeFileSync(
    path.join(objects, `shop_${pod}.meta`),
    JSON.stringify({
      kind: 'Pod',
      metadata: { name: pod, namespace: 'shop', uid: 'f00dfeed-0000-4000-8000-000000000001', labels: { app: 'payments' }, annotations: { team: 'payments' } },
      spec: { nodeName: 'node-7' },
      status: { podIP: '10.244.7.9', containerStatuses: [{ name: 'api', image: 'registry.example.com/payments:3.1', imageID: 'registry.example.com/payments@sha256:abc', containerID: `containerd://${id}` }] },
    }),
  );
  writeFileSync(path.join(secrets, 'token'), 'node-token');
  const api = await startFakeKubeApi({ objectsDir: objects, pkiDir: secrets, token: 'node-token' });
  t.after(() => api.close());
  const log = path.join(logs, `${pod}_shop_api-${id}.log`);
  writeFileSync(log, '');

  const received: Array<Record<string, unknown>> = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ingest' });
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => {
      for (const text of data.toString('utf8').split('\n')) if (text !== '') received.push(JSON.parse(text) as Record<string, unknown>);
    });
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const agent = spawnAgent(['-c', path.join(repoRoot, 'deploy', 'kubernetes.conf')], {
    env: {
      WSBIT_WS_HOST: '127.0.0.1',
      WSBIT_WS_PORT: String((server.address() as { port: number }).port),
      WSBIT_STATE_DIR: path.join(dir, 'state'),
      WSBIT_CONTAINER_LOGS: logs,
      WSBIT_HTTP_PORT: '0',
      WSBIT_KUBE_URL: api.url,
      WSBIT_KUBE_SECRETS: secrets,
    },
  });
  t.after(() => agent.stop('SIGKILL').catch(() => undefined));
  await agent.waitForOutput('following 1 file');
  appendFileSync(log, [
    '2026-12-05T08:00:00.000000001Z stdout F {"level":"info","msg":"order 18 paid"}\n',
    '2026-12-05T08:00:01.000000001Z stderr F plain text\n',
  ].join(''));
  await waitFor(() => received.length >= 2, `two records at the receiver\n${agent.stderr()}`, 30_000);
  assert.equal(await agent.stop('SIGTERM'), 0, agent.stderr());
  assert.doesNotMatch(agent.stderr(), /\[error\]/);

  const kubernetes = {
    pod_name: pod,
    namespace_name: 'shop',
    pod_id: 'f00dfeed-0000-4000-8000-000000000001',
    labels: { app: 'payments' },
    annotations: { team: 'payments' },
    host: 'node-7',
    pod_ip: '10.244.7.9',
    container_name: 'api',
    docker_id: id,
    container_hash: 'registry.example.com/payments@sha256:abc',
    container_image: 'registry.example.com/payments:3.1',
  };
  const [merged, plain] = received;
  assert.equal(merged?.['log'], undefined, 'Keep_Log Off: the merged log is left out');
  assert.equal(merged?.['msg'], 'order 18 paid');
  assert.equal(plain?.['log'], 'plain text');
  for (const record of received) {
    assert.deepEqual(record['kubernetes'], kubernetes);
    assert.equal(record['pod_name'], pod, 'the names from the file name are kept');
  }
  assert.deepEqual(new Set(api.requests.map((request) => `${request.path} ${request.authorization}`)), new Set([`/api/v1/namespaces/shop/pods/${pod} Bearer node-token`]));
});
