import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tempDir } from '../helpers/temp.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack gives a package that installs and runs from a clean directory', { timeout: 240_000 }, () => {
  const dir = tempDir('wsbit-pack-');
  // dist/ is already built by `npm test`; --ignore-scripts keeps pack from rebuilding it under running tests.
  const packed = JSON.parse(execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { encoding: 'utf8' })) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const [tarball] = packed;
  assert.ok(tarball !== undefined);
  const files = tarball.files.map((file) => file.path);
  assert.ok(files.includes('bin/wsbit'));
  // bin/wsbit runs the bundled agent; the module-by-module build is for the tests.
  assert.ok(files.includes('dist/bundle/run.js'));
  assert.ok(files.includes('dist/bundle/startup-signals.js'));
  // The live page is not TypeScript: the build copies its parts next to the chunks, which read them.
  for (const part of ['index.html', 'style.css', 'script.js']) {
    assert.ok(files.includes(`dist/bundle/live-page/${part}`), `the live page's ${part} is packed`);
  }
  assert.ok(files.some((file) => file.startsWith('conf/')));
  assert.ok(!files.some((file) => file.startsWith('dist/test/') || file.startsWith('dist/src/') || file.startsWith('src/')), 'no tests, unbundled build or TypeScript sources');
  // The license the package declares, and every document the README links to.
  assert.ok(files.includes('LICENSE'));
  assert.match(readFileSync('LICENSE', 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
  const linkedDocs = [...readFileSync('README.md', 'utf8').matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1] ?? '');
  assert.ok(linkedDocs.length > 0);
  for (const doc of linkedDocs) assert.ok(files.includes(doc), `${doc} is packed`);
  // Installing must not build: the compiled code is in the tarball, and no install-time script runs.
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { license: string; scripts: Record<string, string> };
  assert.equal(manifest.license, 'Apache-2.0');
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts[script], undefined, `no ${script} script`);
  assert.equal(manifest.scripts['prepack'], 'npm run build', 'npm pack builds first');

  const app = path.join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), '{"name":"wsbit-install-check","version":"1.0.0","private":true}\n');
  const install = spawnSync(npm, ['install', '--no-audit', '--no-fund', path.join(dir, tarball.filename)], { cwd: app, encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  assert.doesNotMatch(install.stderr, /install-scripts|prepare/, 'npm warns about no install script');
  assert.ok(existsSync(path.join(app, 'node_modules', 'wsbit', 'dist', 'bundle', 'run.js')));
  const version = spawnSync('npx', ['--no-install', 'wsbit', '-V'], { cwd: app, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^wsbit v\d+\.\d+\.\d+\n$/);
  const dryRun = spawnSync('npx', ['--no-install', 'wsbit', '-c', 'node_modules/wsbit/conf/tcp-to-stdout.conf', '-D'], { cwd: app, encoding: 'utf8' });
  assert.equal(dryRun.status, 0, dryRun.stderr);
  assert.equal(dryRun.stdout, 'configuration test is successful\n');
  // YAML needs the yaml package at run time, not only in development.
  const yamlDryRun = spawnSync('npx', ['--no-install', 'wsbit', '-c', 'node_modules/wsbit/conf/tcp-to-stdout.yaml', '-D'], { cwd: app, encoding: 'utf8' });
  assert.equal(yamlDryRun.status, 0, yamlDryRun.stderr);
});

const dockerInstructions = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

test('the Dockerfile is well formed: known instructions, JSON-form entrypoint, files it copies exist', () => {
  const lines = readFileSync('Dockerfile', 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  assert.match(lines[0] ?? '', /^FROM node:20/);
  for (const line of lines) {
    const instruction = line.split(/\s+/)[0] ?? '';
    assert.ok(dockerInstructions.has(instruction), `unknown instruction in: ${line}`);
    if (instruction === 'ENTRYPOINT' || instruction === 'CMD') assert.doesNotThrow(() => JSON.parse(line.slice(instruction.length)), line);
    if (instruction === 'COPY' && !line.includes('--from=')) {
      for (const source of line.split(/\s+/).slice(1, -1)) assert.ok(existsSync(source), `COPY source ${source} exists`);
    }
  }
});

test('the Kubernetes manifests parse as YAML and describe a DaemonSet running wsbit', () => {
  const documents = parseAllDocuments(readFileSync('deploy/kubernetes-daemonset.yaml', 'utf8'));
  for (const document of documents) assert.deepEqual(document.errors, []);
  const objects = documents.map((document) => document.toJSON() as { kind: string; spec?: unknown; data?: Record<string, string> });
  assert.deepEqual(objects.map((object) => object.kind), ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']);
  const data = objects.find((object) => object.kind === 'ConfigMap')?.data ?? {};
  assert.match(data['wsbit.conf'] ?? '', /Name\s+websocket/);
  assert.match(data['kubernetes.conf'] ?? '', /Name\s+kubernetes/);
});

test('the systemd unit has the sections and keys systemd needs', () => {
  const text = readFileSync('deploy/wsbit.service', 'utf8');
  const sections = [...text.matchAll(/^\[(\w+)\]$/gm)].map((match) => match[1]);
  assert.deepEqual(sections, ['Unit', 'Service', 'Install']);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    assert.match(line, /^[A-Z][A-Za-z]+=\S/, `not a Key=value line: ${line}`);
  }
  assert.match(text, /^ExecStart=.*wsbit -c /m);
  assert.match(text, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

test('the example deploy configs pass wsbit -D', () => {
  for (const file of ['deploy/wsbit.conf', 'deploy/kubernetes.conf']) {
    const result = spawnSync(process.execPath, ['bin/wsbit', '-c', file, '-D'], {
      encoding: 'utf8',
      env: { ...process.env, WSBIT_WS_HOST: '127.0.0.1' },
    });
    assert.equal(result.status, 0, `${file}: ${result.stderr}`);
  }
});
