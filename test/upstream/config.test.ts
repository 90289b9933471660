import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClassicConfigText } from '../../src/config/classic.js';
import type { ConfigSection } from '../../src/config/document.js';
import { loadUpstreamFile } from '../../src/app/config-files.js';
import { ConfigError } from '../../src/base/errors.js';
import { upstreamFromSections } from '../../src/upstream/config.js';
import { tempDir } from './support.js';

const FILE = '/virtual/upstream.conf';
const parse = (lines: string[], defaultPort = 24224) => upstreamFromSections(parseClassicConfigText(lines.join('\n'), FILE).sections, defaultPort);

function rejects(lines: string[], line: number | null, reason: RegExp): void {
  assert.throws(
    () => parse(lines),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      if (line !== null) assert.ok(error.message.includes(`${FILE}:${line}:`), `${error.message} names line ${line}`);
      assert.match(error.message, reason);
      return true;
    },
  );
}

test("Fluent Bit's upstream file: nodes in order, per-node keys, defaults filled", () => {
  const upstream = parse([
    '[UPSTREAM]',
    '    name       forward-balancing',
    '',
    '[NODE]',
    '    name       node-1',
    '    host       127.0.0.1',
    '    port       43000',
    '',
    '[NODE]',
    '    host       10.0.0.2',
    '    uri        /ingest',
    '    header     X-Node two',
    '    header     X-Other 2',
    '    shared_key secret-2',
    '    tls        on',
    '    tls.verify off',
    '    tls.vhost  logs.example',
  ]);
  assert.equal(upstream.name, 'forward-balancing');
  assert.deepEqual(upstream.nodes.map((node) => [node.name, node.host, node.port, node.uri, node.sharedKey]), [
    ['node-1', '127.0.0.1', 43000, null, null],
    ['10.0.0.2:24224', '10.0.0.2', 24224, '/ingest', 'secret-2'],
  ]);
  assert.deepEqual(upstream.nodes[1]?.headers, [{ name: 'X-Node', value: 'two' }, { name: 'X-Other', value: '2' }]);
  assert.equal(upstream.nodes[0]?.tls, null);
  assert.equal(upstream.nodes[1]?.tls?.verify, false);
  assert.equal(upstream.nodes[1]?.tls?.servername, 'logs.example');
});

test('sections from another front end (YAML upstream_servers) build the same upstream', () => {
  const origin = { file: 'fluent-bit.yaml', line: 3 };
  const sections: ConfigSection[] = [
    { kind: 'upstream_servers', header: 'upstream_servers', origin, entries: [{ key: 'name', value: 'up' }], groups: [] },
    { kind: 'node', header: 'node', origin, entries: [{ key: 'name', value: 'a' }, { key: 'host', value: '127.0.0.1' }, { key: 'port', value: '9000' }], groups: [] },
  ];
  const upstream = upstreamFromSections(sections, 80);
  assert.deepEqual(upstream.nodes.map((node) => `${node.name}=${node.host}:${node.port}`), ['a=127.0.0.1:9000']);
});

test('mistakes are ConfigErrors naming the file, line and key', () => {
  rejects(['[UPSTREAM]', '    name up', '[NODE]', '    name a', '    port 1'], 3, /upstream 'up' \[NODE\] 'a': 'host' is required/);
  rejects(['[UPSTREAM]', '    name up', '[NODE]', '    host h', '    prot 1'], 5, /unknown configuration property 'prot'.*Did you mean 'port'\?|unknown configuration property 'prot'.*allowed: name, host, port/);
  rejects(['[UPSTREAM]', '    name up', '[NODE]', '    host h', '    port 70000'], 3, /invalid value '70000' for 'port': expected 1 to 65535/);
  rejects(['[UPSTREAM]', '    name up', '[NODE]', '    host h', '    tls maybe'], 5, /invalid value 'maybe' for 'tls'/);
  rejects(['[NODE]', '    host h'], null, /exactly one \[UPSTREAM\] section, found 0/);
  rejects(['[UPSTREAM]', '    name up'], 1, /upstream 'up' has no \[NODE\] section/);
  rejects(['[UPSTREAM]', '    other x'], 2, /unknown configuration property 'other'/);
  rejects(['[UPSTREAM]', '    name up', '[NODE]', '    name a', '    host h', '[NODE]', '    name a', '    host i'], 6, /two nodes named 'a'/);
  rejects(['[UPSTREAM]', '    name up', '[INPUT]', '    name dummy'], 3, /section \[INPUT\] does not belong in an upstream file/);
});

test('loadUpstreamFile reads a file relative to a base directory, with @SET variables', (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  dir.write('up.conf', ['@SET PORT=4500', '[UPSTREAM]', '    name up', '[NODE]', '    host 127.0.0.1', '    port ${PORT}', ''].join('\n'));
  assert.equal(loadUpstreamFile('up.conf', 80, dir.dir).nodes[0]?.port, 4500);
  assert.throws(() => loadUpstreamFile('missing.conf', 80, dir.dir), (error: unknown) => error instanceof ConfigError && /missing\.conf/.test(error.message));
});
