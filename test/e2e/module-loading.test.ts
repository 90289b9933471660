/**
 * The agent loads only what its configuration uses: bin/wsbit runs with a module trace
 * (helpers/module-trace.ts), and each file it loaded is read back to its sources (a chunk of the
 * bundle by its source map), so a plugin's code or a package that comes in where it is not needed
 * fails here, bundled or not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/paths.js';
import { freePort } from '../helpers/ports.js';
import { spawnAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';

const traceModule = pathToFileURL(path.join(repoRoot, 'dist', 'test', 'helpers', 'module-trace.js')).href;
const bundleDir = path.join(repoRoot, 'dist', 'bundle');
const distSrc = path.join(repoRoot, 'dist', 'src');

/** The source files behind a loaded file: a bundle chunk's from its source map, a dist/src module's own. */
function sourcesOf(file: string): string[] {
  if (file.startsWith(`${bundleDir}/`) && file.endsWith('.js') && existsSync(`${file}.map`)) {
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    return map.sources.map((source) => path.resolve(path.dirname(file), source));
  }
  if (file.startsWith(`${distSrc}/`)) return [path.join(repoRoot, 'src', path.relative(distSrc, file)).replace(/\.js$/, '.ts')];
  return [file];
}

interface Loaded {
  chunks: string[];
  sources: string[];
  has(source: string): boolean;
  hasPackage(name: string): boolean;
}

/** Runs wsbit until it has started (or, with `started` null, until it exits), then stops it at once; what it loaded. */
async function modulesLoaded(args: string[], started: RegExp | null = /\[wsbit\] version=/): Promise<Loaded> {
  const dir = tempDir('wsbit-modules-');
  const trace = path.join(dir, 'trace');
  writeFileSync(trace, '');
  const agent = spawnAgent(args, { env: { NODE_OPTIONS: `--import=${traceModule}`, WSBIT_MODULE_TRACE: trace } });
  if (started === null) {
    assert.equal(await agent.waitForExit(), 0, agent.stderr());
  } else {
    try {
      await agent.waitForOutput(started, 'the agent to start');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      // A second stop signal exits at once, without waiting for Grace; the trace is written at exit.
      agent.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));
      agent.child.kill('SIGTERM');
      await agent.waitForExit();
    }
  }
  const files = [...new Set(readFileSync(trace, 'utf8').split('\n').filter((line) => line !== ''))].map((url) => fileURLToPath(url));
  const sources = [...new Set(files.flatMap(sourcesOf))];
  return {
    chunks: files.filter((file) => file.startsWith(`${bundleDir}/`)),
    sources,
    has: (source) => sources.includes(path.join(repoRoot, source)),
    hasPackage: (name) => sources.some((source) => source.includes(`/node_modules/${name}/`)),
  };
}

const runtimes = [
  'src/plugins/inputs/tail.ts',
  'src/plugins/inputs/tcp.ts',
  'src/plugins/inputs/websocket.ts',
  'src/plugins/inputs/forward.ts',
  'src/plugins/filters/content-modifier.ts',
  'src/plugins/outputs/http.ts',
  'src/plugins/outputs/forward.ts',
  'src/plugins/outputs/websocket-server.ts',
  'src/plugins/outputs/websocket.ts',
  'src/plugins/outputs/null.ts',
];
const heavyPackages = ['undici', 'ws', 'yaml', '@msgpack/msgpack'];

function assertOnly(loaded: Loaded, expected: { runtimes: string[]; packages: string[] }): void {
  assert.ok(loaded.chunks.length > 0, 'bin/wsbit runs the bundle in dist/bundle');
  assert.ok(loaded.has('src/cli/main.ts') && loaded.has('src/plugins/registry.ts'), 'the trace reads the chunks back to their sources');
  for (const runtime of runtimes) assert.equal(loaded.has(runtime), expected.runtimes.includes(runtime), `${runtime} ${expected.runtimes.includes(runtime) ? 'is' : 'is not'} loaded`);
  for (const name of heavyPackages) assert.equal(loaded.hasPackage(name), expected.packages.includes(name), `${name} ${expected.packages.includes(name) ? 'is' : 'is not'} loaded`);
  // The monitoring server (node:http) comes in with HTTP_Server on only.
  assert.equal(loaded.has('src/monitoring/server.ts'), false, 'no monitoring server');
}

test('-i dummy -o websocket loads the dummy and websocket plugins and no heavy package', async () => {
  const port = await freePort();
  const loaded = await modulesLoaded(['-i', 'dummy', '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${port}`], /target ws:\/\//);
  assert.ok(loaded.has('src/plugins/inputs/dummy.ts'));
  assertOnly(loaded, { runtimes: ['src/plugins/outputs/websocket.ts'], packages: [] });
});

test('-i dummy -o null loads the null output only', async () => {
  assertOnly(await modulesLoaded(['-i', 'dummy', '-o', 'null']), { runtimes: ['src/plugins/outputs/null.ts'], packages: [] });
});

test('-i tcp -o websocket does without ws, which only the websocket input and websocket_server use', async () => {
  const port = await freePort();
  const loaded = await modulesLoaded(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${port}`], /target ws:\/\//);
  assertOnly(loaded, { runtimes: ['src/plugins/inputs/tcp.ts', 'src/plugins/outputs/websocket.ts'], packages: [] });
});

test('a YAML file naming the http output loads yaml, the http output and undici', async () => {
  const port = await freePort();
  const dir = tempDir('wsbit-modules-conf-');
  const file = path.join(dir, 'http.yaml');
  writeFileSync(
    file,
    ['pipeline:', '  inputs:', '    - name: dummy', '  outputs:', '    - name: http', '      match: "*"', '      host: 127.0.0.1', `      port: ${port}`, ''].join('\n'),
  );
  const loaded = await modulesLoaded(['-c', file]);
  assertOnly(loaded, { runtimes: ['src/plugins/outputs/http.ts'], packages: ['yaml', 'undici'] });
});

test('a websocket input loads ws; HTTP_Server on loads the monitoring server', async () => {
  const loaded = await modulesLoaded(['-i', 'websocket', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'null', '-H', '-L', '127.0.0.1', '-P', '0'], /listen iface=/);
  assert.ok(loaded.has('src/plugins/inputs/websocket.ts'));
  assert.ok(loaded.hasPackage('ws'));
  assert.ok(loaded.has('src/monitoring/server.ts'));
  assert.ok(!loaded.hasPackage('undici') && !loaded.hasPackage('yaml'));
});

test('-h and -J show every plugin from the manifests, loading no plugin code and no package', async () => {
  for (const args of [['-h'], ['-J'], ['-o', 'http', '-h']]) {
    const loaded = await modulesLoaded(args, null);
    assertOnly(loaded, { runtimes: [], packages: [] });
    assert.ok(loaded.has('src/plugins/outputs/http/schema.ts') && loaded.has('src/plugins/inputs/tail/schema.ts'), 'the manifests are what help reads');
  }
});
