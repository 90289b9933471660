import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { confDir } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';

/**
 * YAML configurations through bin/wsbit, as a user runs them: processors on one path only, checked on
 * the bytes a real `ws` server receives; content_modifier against Fluent Bit's own output; hot
 * reload, the monitoring server, -D and command-line sections beside -c file.yaml.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'wsbit-yaml-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeYaml(name: string, lines: readonly string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A `ws` server on a loopback port 0 that keeps every text message it is sent. */
async function recordingServer(): Promise<{ port: number; lines: () => Array<Record<string, unknown>>; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const messages: string[] = [];
  wss.on('connection', (socket) => socket.on('message', (data: Buffer) => messages.push(data.toString('utf8'))));
  return {
    port: (wss.address() as AddressInfo).port,
    lines: () => messages.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}

test('content_modifier on the input reaches both outputs; on one of two outputs it changes only that one', async () => {
  const a = await recordingServer();
  const b = await recordingServer();
  const output = (port: number, extra: string[]) => [
    '    - name: websocket', '      match: app', '      host: 127.0.0.1', `      port: ${port}`, '      format: json_lines', ...extra,
  ];
  const file = writeYaml('paths.yaml', [
    'service:', '  flush: 0.2', '  grace: 1',
    'pipeline:',
    '  inputs:',
    '    - name: dummy', '      tag: app', '      rate: 20', '      samples: 3',
    `      dummy: '{"message":"hi","secret":"pw"}'`,
    '      processors:', '        logs:',
    '          - name: content_modifier', '            action: insert', '            key: via_input', '            value: "yes"',
    '  outputs:',
    ...output(a.port, [
      '      processors:', '        logs:',
      '          - name: content_modifier', '            action: hash', '            key: secret',
      '          - name: content_modifier', '            action: upsert', '            key: only_a', '            value: "1"',
    ]),
    ...output(b.port, []),
  ]);
  const agent = spawnAgent(['-c', file]);
  try {
    await waitFor(() => a.lines().length >= 3 && b.lines().length >= 3, 'three records at each server', 20_000);
    const sha256OfPw = '30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4';
    for (const record of a.lines()) {
      assert.deepEqual({ ...record, date: 0 }, { date: 0, message: 'hi', secret: sha256OfPw, via_input: 'yes', only_a: '1' });
    }
    for (const record of b.lines()) {
      assert.deepEqual({ ...record, date: 0 }, { date: 0, message: 'hi', secret: 'pw', via_input: 'yes' });
    }
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
    await a.close();
    await b.close();
  }
  assert.doesNotMatch(agent.stderr(), /\[error\]/);
});

test('content_modifier does what Fluent Bit 5.1.1 does with every action (test/fixtures/yaml)', async () => {
  const fixtures = path.resolve(process.cwd(), 'test/fixtures/yaml');
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'content-modifier.fluent-bit.out'), 'utf8')) as Record<string, unknown>;
  const agent = spawnAgent(['-c', path.join(fixtures, 'content-modifier.yaml')]);
  try {
    await agent.waitForOutput(/^\{"date".*\}$/m, 'the record', 20_000);
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  const line = agent.stdout().split('\n').find((text) => text.startsWith('{')) ?? '';
  const record = JSON.parse(line) as Record<string, unknown>;
  // Same keys, same order, same values; only the time differs.
  assert.deepEqual(Object.entries({ ...record, date: 0 }), Object.entries({ ...expected, date: 0 }));
  assert.match(agent.stderr(), /1 of 1 records kept 'keep' unchanged: its value cannot be converted to int/);
});

test('hot reload of a YAML file by SIGHUP and by POST /api/v2/reload, with the monitoring server', async () => {
  const file = path.join(dir, 'reload.yaml');
  const write = (message: string) =>
    writeFileSync(file, [
      'service:', '  flush: 0.2', '  hot_reload: on', '  http_server: on', '  http_listen: 127.0.0.1', '  http_port: 0',
      'pipeline:', '  inputs:', '    - name: dummy', '      rate: 10', `      dummy: '{"message":"${message}"}'`,
      '  outputs:', '    - name: stdout', '      match: "*"', '      format: json_lines', '',
    ].join('\n'));
  write('first');
  const agent = spawnAgent(['-c', file]);
  try {
    await agent.waitForOutput('"message":"first"');
    const port = Number(/\[http_server\] listen iface=\S+ tcp_port=(\d+)/.exec(agent.stderr())?.[1]);
    const metrics = (await (await fetch(`http://127.0.0.1:${port}/api/v1/metrics`)).json()) as { input: Record<string, unknown> };
    assert.ok('dummy.0' in metrics.input);

    write('second');
    agent.child.kill('SIGHUP');
    await agent.waitForOutput('"message":"second"', 'records of the reloaded pipeline', 20_000);

    write('third');
    // The monitoring server keeps running across a reload, on the same port.
    const response = await fetch(`http://127.0.0.1:${port}/api/v2/reload`, { method: 'POST' });
    assert.ok(response.status < 300, `reload answered ${response.status}`);
    await agent.waitForOutput('"message":"third"', 'records after POST /api/v2/reload', 20_000);

    writeFileSync(file, 'service:\n\tflush: 1\n');
    agent.child.kill('SIGHUP');
    await agent.waitForOutput(/the new configuration is invalid, the running pipeline is kept: .*reload\.yaml:2:1: invalid YAML: Tabs/);
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
});

test('-D checks a YAML file, and -i/-o/-p on the command line go beside -c file.yaml', async () => {
  const file = writeYaml('dry.yaml', ['pipeline:', '  inputs:', '    - name: dummy', '      samples: 1', '  outputs:', '    - name: stdout', '      match: "*"']);
  const dry = spawnAgent(['-c', file, '-D']);
  assert.equal(await dry.waitForExit(), 0, dry.stderr());
  assert.match(dry.stdout() + dry.stderr(), /configuration test is successful/);

  const bad = spawnAgent(['-c', writeYaml('bad.yaml', ['pipeline:', '  inputs:', '    - name: dummy', '      rate: often']), '-D']);
  assert.equal(await bad.waitForExit(), 1);
  assert.match(bad.stderr(), /bad\.yaml:4:7: dummy\.0: invalid value 'often' for 'rate': expected an integer/);

  const mixed = spawnAgent(['-i', 'dummy', '-p', 'dummy={"from":"cli"}', '-p', 'samples=1', '-c', file, '-o', 'stdout', '-m', '*', '-p', 'format=json_lines']);
  try {
    await mixed.waitForOutput('"from":"cli"');
    await mixed.waitForOutput('"message":"dummy"');
  } finally {
    assert.equal(await mixed.stop(), 0, mixed.stderr());
  }
});

/** YAML-only examples in conf/ (processors have no classic form); the twins of .conf files run in conf.test.ts. */
const yamlOnlyScenarios: Record<string, (agent: RunningAgent) => Promise<void>> = {
  'processors-to-stdout.yaml': async (agent) => {
    await agent.waitForOutput(/(\{"date":[^\n]*\n){3}/, 'three JSON lines');
    // The same bytes as Fluent Bit 5.1.1 prints for this file, apart from the time.
    const expected =
      '"msg":"payment declined","user":"alice","card":"9bbef19476623ca56c17da75fd57734dbf82530686043a6e491c6d71befe8f6e","latency_ms":12,"printed_by":"stdout"}';
    for (const line of agent.stdout().trim().split('\n')) assert.match(line, new RegExp(`^\\{"date":\\d+\\.\\d+,${expected.replace(/[{}]/g, '\\$&')}$`));
  },
};

for (const [name, scenario] of Object.entries(yamlOnlyScenarios)) {
  test(`conf/${name} runs as documented`, async () => {
    const agent = spawnAgent(['-c', path.join(confDir, name)]);
    try {
      await scenario(agent);
    } finally {
      assert.equal(await agent.stop(), 0, agent.stderr());
    }
    assert.doesNotMatch(agent.stderr(), /\[error\]/);
  });
}

test('every YAML-only file in conf/ has a scenario in this test', () => {
  const yamlOnly = readdirSync(confDir).filter((file) => file.endsWith('.yaml') && !file.startsWith('parsers') && !existsSync(path.join(confDir, file.replace(/\.yaml$/, '.conf'))));
  assert.deepEqual(yamlOnly.filter((file) => !(file in yamlOnlyScenarios)), []);
});
