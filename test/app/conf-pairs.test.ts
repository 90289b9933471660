/**
 * Every example in conf/ written twice (classic `X.conf` and its YAML twin `X.yaml`) loads to the same
 * pipeline, and so does the command line written from the classic file wherever flags can say it:
 * the three ways in (classic, YAML, argv) are one stage, a document, that one loader turns into one
 * `PipelineDescription`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import path from 'node:path';
import { loadParsersFile, parseConfigFile, resolveParsersFile } from '../../src/app/config-files.js';
import { loadPipeline } from '../../src/app/loader.js';
import { parseCommandLine } from '../../src/cli/args.js';
import type { ConfigDocument, ConfigSection } from '../../src/config/document.js';
import type { PipelinePlan } from '../../src/pipeline/description.js';
import { ParserRegistry } from '../../src/pipeline/parser-registry.js';
import { defaultRegistry } from '../../src/plugins/registry.js';
import { upstreamFromSections, type UpstreamSource } from '../../src/upstream/config.js';
import { confDir } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp.js';

const registry = defaultRegistry();

// The examples take their paths from the environment, as test/e2e/conf.test.ts runs them; loading
// creates nothing there, but the values are the ones a run would see.
const work = tempDir('wsbit-conf-pairs-');
process.env['WSBIT_STORAGE_PATH'] = path.join(work, 'storage');
process.env['WSBIT_TAIL_DIR'] = path.join(work, 'tail');

/** Values as JSON can hold them: code by name, patterns by source, bytes in hex, no order stamps. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'function') return `[function ${value.name}]`;
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return [...value.entries()].map(([key, item]) => [plain(key), plain(item)]);
  if (typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'order').map(([key, item]) => [key, plain(item)]));
}

/** An output's upstream as what it means, not where it was written (a file, a name, a path). */
const upstreamView = (source: UpstreamSource | undefined) => {
  if (source === undefined) return null;
  const upstream = upstreamFromSections(source.sections, 1);
  return { name: upstream.name, nodes: plain(upstream.nodes) };
};

type Spec = { definition: { name: string }; instance: string; config: Record<string, unknown>; processors?: Spec[] };

function specView(spec: Spec & Record<string, unknown>): unknown {
  const { definition, processors, upstream, config, ...rest } = spec;
  return {
    plugin: definition.name,
    ...(plain(rest) as Record<string, unknown>),
    // The `upstream` key as written differs by front end; `upstream` below is what it resolved to.
    config: plain({ ...config, ...(config['upstream'] === undefined ? {} : { upstream: config['upstream'] === null ? null : 'resolved' }) }),
    processors: (processors ?? []).map((processor) => specView(processor as Spec & Record<string, unknown>)),
    upstream: upstreamView(upstream as UpstreamSource | undefined),
  };
}

/**
 * What two loads should agree on: service, plugins, instances, resolved configs, routes, processors,
 * upstream nodes and parser names. Warnings name files and lines, and `parsers_file` names each
 * twin's own parsers file, so those are left out (the parsers themselves are compared by name).
 */
function view(pipeline: PipelinePlan): unknown {
  const view = {
    service: plain({ ...pipeline.service, parsers_file: [] }),
    inputs: pipeline.inputs.map((spec) => specView(spec as unknown as Spec & Record<string, unknown>)),
    filters: pipeline.filters.map((spec) => specView(spec as unknown as Spec & Record<string, unknown>)),
    outputs: pipeline.outputs.map((spec) => specView(spec as unknown as Spec & Record<string, unknown>)),
    parsers: pipeline.parsers.names(),
    multilineParsers: pipeline.parsers.multilineNames(),
  };
  // The view must survive JSON: it is what a reader of a failure compares.
  return JSON.parse(JSON.stringify(view)) as unknown;
}

const load = (argv: string[]): PipelinePlan => loadPipeline(parseCommandLine(argv), registry);

/** The service keys the command line has a flag for, and the flag. */
const SERVICE_FLAGS: Readonly<Record<string, (value: string, configDir: string) => string[] | null>> = {
  flush: (value) => ['-f', value],
  log_file: (value) => ['-l', value],
  parsers_file: (value, configDir) => ['-R', path.resolve(resolveParsersFile(value, configDir))],
  'storage.path': (value) => ['-b', value],
  http_server: (value) => (/^(on|true|yes)$/i.test(value) ? ['-H'] : null),
  http_listen: (value) => ['-L', value],
  http_port: (value) => ['-P', value],
  hot_reload: (value) => (/^(on|true|yes)$/i.test(value) ? ['-Y'] : null),
};
const PLUGIN_FLAGS = { input: '-i', filter: '-F', output: '-o' } as const;

/**
 * The argv that says what the classic document says, or why there is none (a key with no flag,
 * processors or groups, which only files have).
 */
function argvFor(document: ConfigDocument, configDir: string): string[] | string {
  const service: string[] = [];
  const plugins: string[] = [];
  for (const section of document.sections) {
    if (section.groups.length > 0) return `[${section.header}] has groups`;
    if (section.kind === 'service') {
      for (const entry of section.entries) {
        const flags = SERVICE_FLAGS[entry.key]?.(entry.value, configDir);
        if (flags === undefined || flags === null) return `service key '${entry.key}' has no flag`;
        service.push(...flags);
      }
      continue;
    }
    const kind = section.kind;
    if (kind !== 'input' && kind !== 'filter' && kind !== 'output') return `[${section.header}] is not a plugin`;
    if (section.processors !== undefined) return `[${section.header}] has processors`;
    plugins.push(...pluginArgv(section, kind, configDir));
  }
  return [...plugins, ...service];
}

function pluginArgv(section: ConfigSection, kind: keyof typeof PLUGIN_FLAGS, configDir: string): string[] {
  const argv = [PLUGIN_FLAGS[kind], section.entries.find((entry) => entry.key === 'name')?.value ?? ''];
  for (const { key, value } of section.entries) {
    if (key === 'name') continue;
    if (key === 'tag' && kind === 'input') argv.push('-t', value);
    else if (key === 'match' && kind !== 'input') argv.push('-m', value);
    // A file's relative upstream starts at its directory; the command line's at the working directory.
    else if (key === 'upstream') argv.push('-p', `upstream=${path.resolve(configDir, value)}`);
    else argv.push('-p', `${key}=${value}`);
  }
  return argv;
}

const names = fs.readdirSync(confDir).sort();
const pairs = names.filter((name) => name.endsWith('.conf') && names.includes(name.replace(/\.conf$/, '.yaml'))).map((name) => name.replace(/\.conf$/, ''));
/** Parsers files hold no pipeline: their twins are compared as parsers. */
const parsersPairs = pairs.filter((name) => name.startsWith('parsers'));
const pipelinePairs = pairs.filter((name) => !parsersPairs.includes(name));

/** The pairs whose classic file the command line can say in full (the others set keys that have no flag). */
const EXPRESSIBLE_ON_THE_COMMAND_LINE = ['forward-to-stdout', 'http-to-stdout', 'tail-to-stdout', 'tcp-to-stdout'];

describe('conf/ examples written twice load to one pipeline', () => {
  let yamlCompared = 0;
  let cliCompared = 0;
  const notExpressible: string[] = [];

  for (const name of pipelinePairs) {
    it(`conf/${name}.conf and conf/${name}.yaml`, () => {
      const classic = view(load(['-c', path.join(confDir, `${name}.conf`)]));
      assert.deepEqual(view(load(['-c', path.join(confDir, `${name}.yaml`)])), classic);
      yamlCompared++;

      const argv = argvFor(parseConfigFile(path.join(confDir, `${name}.conf`)), confDir);
      if (typeof argv === 'string') {
        notExpressible.push(name);
        assert.ok(!EXPRESSIBLE_ON_THE_COMMAND_LINE.includes(name), `${name}: ${argv}`);
        return;
      }
      assert.deepEqual(view(load(argv)), classic, `wsbit ${argv.join(' ')}`);
      cliCompared++;
    });
  }

  for (const name of parsersPairs) {
    it(`conf/${name}.conf and conf/${name}.yaml register the same parsers`, () => {
      const registered = (file: string) => {
        const parsers = new ParserRegistry();
        loadParsersFile(path.join(confDir, file), parsers);
        return { parsers: parsers.names(), multiline: parsers.multilineNames() };
      };
      const classic = registered(`${name}.conf`);
      assert.ok(classic.parsers.length > 0);
      assert.deepEqual(registered(`${name}.yaml`), classic);
      yamlCompared++;
    });
  }

  it('compared every pair, and from the command line every pair it can say', () => {
    assert.ok(pipelinePairs.length >= 15, `pairs found: ${pairs.join(', ')}`);
    assert.equal(yamlCompared, pipelinePairs.length + parsersPairs.length);
    assert.deepEqual(
      pipelinePairs.filter((name) => !notExpressible.includes(name)),
      EXPRESSIBLE_ON_THE_COMMAND_LINE,
    );
    assert.equal(cliCompared, EXPRESSIBLE_ON_THE_COMMAND_LINE.length);
  });
});
