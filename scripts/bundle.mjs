#!/usr/bin/env node
// The build's last step: bundles the agent that bin/wsbit runs into dist/bundle/, from tsc's output
// in dist/src/ (the tests keep importing dist/src/ module by module).
//
// Why: Node's ESM loader resolves and reads every module file on its own, and with ~120 of them
// its resolver functions run hot enough for V8 to optimise them, which pulls the optimising
// compiler into memory. Bundled, an idle `-i dummy -o websocket` agent takes 49 MB, against 58 MB
// module by module.
//
// - Each plugin's code stays a chunk of its own, loaded by the registry's import() when a
//   configuration names it. esbuild puts a module in a chunk by the set of entry points that reach
//   it, and counts each import() target as one; so every import() target also imports the CLI's
//   main module here, which puts everything the agent loads at start in one chunk instead of one
//   per combination of plugins that share it.
// - The packages are bundled too, each in the chunk of the plugins that use it (ws, undici,
//   @msgpack/msgpack), commander in the start chunk, yaml in a chunk of its own: Node loads a
//   CommonJS package module by module, which costs two to three times the memory of its code
//   bundled (ws: 12 MB against 6, yaml: 9 against 3).
// - Source maps are written beside the chunks: `node --enable-source-maps bin/wsbit` shows stack
//   traces in the TypeScript sources (off by default: Node then reads every map at start, ~10 MB).
// - The websocket_server live page is read next to the module that serves it, so its files are
//   copied next to the chunks.
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const outdir = 'dist/bundle';
const main = resolve('dist/src/cli/main.js');

const importTargets = new Set();
const oneStartChunk = {
  name: 'one-start-chunk',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind === 'dynamic-import') importTargets.add(resolve(args.resolveDir, args.path));
      return undefined;
    });
    pluginBuild.onLoad({ filter: /\.js$/ }, (args) => {
      if (!importTargets.has(args.path)) return undefined;
      // Appended, so the lines of tsc's source map still match.
      const contents = `${readFileSync(args.path, 'utf8')}\nimport ${JSON.stringify(main)};\n`;
      return { contents, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

// commander requires node:child_process only to start subcommand executables, which wsbit has none
// of; loading it (and dgram with it) costs 0.2 MB, so commander gets it on first use.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'node:child_process', namespace: 'lazy-builtin' } : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require(${JSON.stringify(args.path)}))[key] });\n`,
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { 'young-generation': 'dist/src/app/young-generation.js', 'startup-signals': 'dist/src/app/startup-signals.js', run: 'dist/src/cli/run.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The packages are CommonJS: their require() of Node's modules needs a require in an ES module.
  // Made on first use, as few chunks call it: making one resolves node_modules paths every time.
  banner: {
    js: "import { createRequire as wsbitCreateRequire } from 'node:module';\nlet wsbitRequire;\nconst require = (id) => (wsbitRequire ??= wsbitCreateRequire(import.meta.url))(id);",
  },
  chunkNames: '[name]-[hash]',
  // Whitespace costs memory (~0.8 MB of the idle agent's RSS): the loader keeps each chunk's text.
  // Names stay as written, so stack traces name their functions; the source maps give the lines.
  minifyWhitespace: true,
  sourcemap: 'linked',
  plugins: [oneStartChunk, lazyChildProcess],
  logLevel: 'warning',
});
if (importTargets.size === 0) {
  console.error('bundle: no import() target found; the plugins would not get chunks of their own');
  process.exit(1);
}
cpSync('dist/src/plugins/outputs/websocket-server/live-page', join(outdir, 'live-page'), { recursive: true });
