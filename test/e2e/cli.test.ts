import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnAgent } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp.js';

function tempConf(text: string): string {
  const dir = tempDir('wsbit-cli-');
  const file = path.join(dir, 'wsbit.conf');
  writeFileSync(file, text);
  return file;
}

export function listeningPort(stderr: string, instance: string): number {
  const match = new RegExp(`\\[input:[a-z_]+:${instance.replace('.', '\\.')}\\] listening on [^\\s]+:(\\d+)`).exec(stderr);
  if (match === null) throw new Error(`no listening line for ${instance} in:\n${stderr}`);
  return Number(match[1]);
}

test('dummy → stdout: three records, keeps running until SIGTERM, then exits 0', async () => {
  const agent = spawnAgent(['-i', 'dummy', '-p', 'samples=3', '-p', 'rate=10', '-o', 'stdout', '-m', '*', '-f', '0.5']);
  await waitFor(() => (agent.stdout().match(/"message"=>"dummy"/g) ?? []).length === 3, 'three records on stdout');
  await sleep(1200);
  assert.equal(agent.child.exitCode, null, 'still running after the samples');
  assert.equal((agent.stdout().match(/\n/g) ?? []).length, 3);
  assert.match(agent.stdout(), /^\[0\] dummy\.0: \[\[\d+\.\d{9}, \{\}\], \{"message"=>"dummy"\}\]$/m);
  assert.equal(await agent.stop('SIGTERM'), 0);
  assert.match(agent.stderr(), /caught signal \(SIGTERM\)/);
});

test('SIGINT stops the agent too, and buffered records are flushed first', async () => {
  const agent = spawnAgent(['-i', 'dummy', '-p', 'rate=20', '-o', 'stdout', '-p', 'format=json_lines', '-f', '60']);
  await agent.waitForOutput('[wsbit] version=');
  await sleep(600);
  assert.equal(agent.stdout(), '', 'nothing flushed yet with Flush 60');
  assert.equal(await agent.stop('SIGINT'), 0);
  assert.ok((agent.stdout().match(/"message":"dummy"/g) ?? []).length >= 5, agent.stdout());
});

test('tcp → stdout json_lines prints the Fluent Bit docs record with a 16-digit date', async () => {
  const agent = spawnAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', 'stdout', '-p', 'format=json_lines', '-f', '0.2']);
  await agent.waitForOutput(/listening on/);
  const port = listeningPort(agent.stderr(), 'tcp.0');
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end('{"key 1": 123456789, "key 2": "abcdefg"}\n'));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  await agent.waitForOutput('"key 2":"abcdefg"');
  assert.match(agent.stdout(), /^\{"date":\d{10}\.\d{1,6},"key 1":123456789,"key 2":"abcdefg"\}\n$/);
  assert.equal(await agent.stop(), 0);
});

const failures: Array<{ name: string; args: (conf: (text: string) => string) => string[]; message: RegExp }> = [
  {
    name: 'a .conf with a bad indent',
    args: (conf) => ['-c', conf('[INPUT]\n    Name dummy\n  Tag x\n[OUTPUT]\n    Name stdout\n')],
    message: /\[config\] error in .*wsbit\.conf:3: invalid indentation level/,
  },
  {
    name: 'an unknown key',
    args: () => ['-i', 'dummy', '-p', 'bogus=1', '-o', 'stdout'],
    message: /dummy\.0: unknown configuration property 'bogus'\. The following properties are allowed: /,
  },
  {
    name: 'an unknown key in a file names the file and line',
    args: (conf) => ['-c', conf('[INPUT]\n    Name dummy\n\n[OUTPUT]\n    Name  stdout\n    Match *\n    Formatt json\n')],
    message: /\[config\] error in .*wsbit\.conf:7: stdout\.0: unknown configuration property 'formatt' \(did you mean 'format'\?\)/,
  },
  {
    name: 'an unknown plugin name',
    args: () => ['-i', 'dummy', '-o', 'kafka'],
    message: /unknown output plugin 'kafka'\. Available outputs: /,
  },
  {
    name: 'a bad Retry_Limit',
    args: () => ['-i', 'dummy', '-o', 'stdout', '-p', 'retry_limit=-1'],
    message: /stdout\.0: invalid value '-1' for 'retry_limit': expected a positive number of retries, no_limits/,
  },
  {
    name: 'a bad enum value',
    args: () => ['-i', 'dummy', '-o', 'stdout', '-p', 'format=xml'],
    message: /stdout\.0: invalid value 'xml' for 'format': expected one of msgpack, json, json_lines, json_stream, gelf/,
  },
  {
    name: 'a missing config file',
    args: () => ['-c', '/nonexistent/wsbit.conf'],
    message: /could not open configuration file/,
  },
  {
    name: 'a port already in use',
    args: () => ['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', `port=${occupiedPort}`, '-o', 'null'],
    message: /tcp\.0: cannot listen on 127\.0\.0\.1:\d+/,
  },
];

let occupiedPort = 0;

for (const failure of failures) {
  test(`exits non-zero with one clear line for ${failure.name}`, async (t) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    occupiedPort = (blocker.address() as net.AddressInfo).port;
    t.after(() => blocker.close());
    const agent = spawnAgent(failure.args(tempConf));
    const code = await agent.waitForExit();
    assert.notEqual(code, 0);
    // Start-up failures may follow the version banner; configuration failures come alone.
    const lines = agent.stderr().trim().split('\n').filter((line) => !line.includes('[ info] [wsbit] version='));
    assert.equal(lines.length, 1, `one line expected, got:\n${agent.stderr()}`);
    assert.match(lines[0] ?? '', /^\[\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[error\] /);
    assert.match(lines[0] ?? '', failure.message);
    assert.doesNotMatch(agent.stderr(), /\n\s+at /, 'no stack trace');
  });
}

test('-D validates and prints the Fluent Bit message', async () => {
  const agent = spawnAgent(['-i', 'dummy', '-o', 'stdout', '-D']);
  assert.equal(await agent.waitForExit(), 0);
  assert.equal(agent.stdout(), 'configuration test is successful\n');
});

test('-D creates nothing: a storage.path that does not exist stays absent; one that cannot be made is reported', async () => {
  const dir = tempDir('wsbit-dry-');
  const storage = path.join(dir, 'not', 'yet', 'storage');
  const ok = spawnAgent(['-i', 'dummy', '-p', 'storage.type=filesystem', '-b', storage, '-o', 'null', '-D']);
  assert.equal(await ok.waitForExit(), 0, ok.stderr());
  assert.equal(ok.stdout(), 'configuration test is successful\n');
  assert.deepEqual(readdirSync(dir), [], 'nothing created below the temp dir');

  writeFileSync(path.join(dir, 'a-file'), '');
  const blocked = path.join(dir, 'a-file', 'storage');
  const bad = spawnAgent(['-i', 'dummy', '-p', 'storage.type=filesystem', '-b', blocked, '-o', 'null', '-D']);
  assert.equal(await bad.waitForExit(), 1);
  assert.match(bad.stderr(), new RegExp(`cannot create storage\\.path '${blocked.replace(/[.]/g, '\\.')}': ENOTDIR`));
  assert.deepEqual(readdirSync(dir), ['a-file']);
});

test('-V prints the version; -h the flags and plugins; -o NAME -h the plugin keys', async () => {
  const version = spawnAgent(['-V']);
  assert.equal(await version.waitForExit(), 0);
  assert.match(version.stdout(), /^wsbit v\d+\.\d+\.\d+\n$/);

  const help = spawnAgent(['-h']);
  assert.equal(await help.waitForExit(), 0);
  assert.match(help.stdout(), /-p, --prop="A=B"/);
  assert.match(help.stdout(), /Outputs\n(.|\n)*websocket/);

  const pluginHelp = spawnAgent(['-o', 'stdout', '-h']);
  assert.equal(await pluginHelp.waitForExit(), 0);
  assert.match(pluginHelp.stdout(), /^json_date_format\s+enum\s+double\s+Timestamp format/m);
  assert.match(pluginHelp.stdout(), /^retry_limit\s+/m);
});

test('Log_File and -q: the log goes to the file; -q silences it', async () => {
  const dir = tempDir('wsbit-log-');
  const logFile = path.join(dir, 'wsbit.log');
  const agent = spawnAgent(['-i', 'dummy', '-o', 'null', '-l', logFile]);
  await waitFor(() => {
    try {
      return readFileSync(logFile, 'utf8').includes('[wsbit] version=');
    } catch {
      return false;
    }
  }, 'the log file');
  assert.equal(await agent.stop(), 0);
  assert.equal(agent.stderr(), '');

  const quiet = spawnAgent(['-i', 'dummy', '-o', 'null', '-q']);
  await sleep(500);
  assert.equal(await quiet.stop(), 0);
  assert.equal(quiet.stderr(), '');
});

test('-v shows debug lines, which the default info level hides', async () => {
  const verbose = spawnAgent(['-i', 'dummy', '-p', 'rate=20', '-o', 'null', '-v', '-f', '0.2']);
  await verbose.waitForOutput('[debug]');
  assert.equal(await verbose.stop(), 0);
  assert.match(verbose.stderr(), /\[debug\] \[engine\] chunk '[^']+' with \d+ records? from dummy\.0 routed to null\.0/);

  const normal = spawnAgent(['-i', 'dummy', '-p', 'rate=20', '-o', 'null', '-f', '0.2']);
  await sleep(800);
  assert.equal(await normal.stop(), 0);
  assert.doesNotMatch(normal.stderr(), /\[debug\]/);
});
