import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgent } from '../helpers/pipeline.js';
import { confDir } from '../helpers/paths.js';
import { spawnAgent } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp.js';

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

test('tcp with a parser: format none implied, each line parsed; a line the parser refuses is logged and counted', async (t) => {
  const running = await startAgent(['-R', 'conf/parsers.conf', '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'parser=nginx', '-o', 'capture', '-f', '0.05']);
  t.after(() => running.stop());
  const port = running.agent.input('tcp.0')?.listeningPort?.();
  assert.equal(typeof port, 'number');
  await sendTcp(port as number, '10.1.1.1 - - [13/Jul/2023:08:21:04 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/7.81.0"\ngarbage line\n');
  await waitFor(() => running.events().length === 1, 'the parsed record');
  await waitFor(() => running.agent.metrics.get('wsbit_input_rejected_records_total', 'tcp.0') === 1, 'the refused line counted');
  const [event] = running.events();
  assert.equal(event?.sec, Date.UTC(2023, 6, 13, 8, 21, 4) / 1000);
  assert.deepEqual(event?.body, { remote: '10.1.1.1', host: '-', user: '-', method: 'GET', path: '/', code: '200', size: '615', referer: '-', agent: 'curl/7.81.0' });
  assert.ok(running.lines.some((line) => /\[ warn\] \[input:tcp:tcp\.0\] parser 'nginx' could not parse a line, skipping/.test(line)), running.lines.join(''));
});

test('stdin with -R and a parser: each line parsed (bin/wsbit, as a user runs it)', async () => {
  const agent = spawnAgent(['-R', 'conf/parsers.conf', '-i', 'stdin', '-p', 'parser=logfmt', '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_key=false', '-f', '0.1'], {
    stdin: 'level=info msg="user logged in" user=6\r\nlevel=warn msg=slow\n\nlast=1',
  });
  await agent.waitForOutput('"last":"1"');
  assert.equal(await agent.stop(), 0, agent.stderr());
  assert.equal(agent.stdout(), '{"level":"info","msg":"user logged in","user":"6"}\n{"level":"warn","msg":"slow"}\n{"last":"1"}\n');
});

test('Parsers_File in a config file is found next to that file, from any working directory', async () => {
  const dir = tempDir('wsbit-pf-');
  fs.copyFileSync(path.join(confDir, 'parsers.conf'), path.join(dir, 'my-parsers.conf'));
  const conf = path.join(dir, 'main.conf');
  fs.writeFileSync(conf, '[SERVICE]\n    Flush 0.1\n    Parsers_File my-parsers.conf\n[INPUT]\n    Name stdin\n    Parser apache2\n[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n');
  const agent = spawnAgent(['-c', conf], { stdin: '1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 10\n', cwd: tmpdir() });
  await agent.waitForOutput('"user":"bob"');
  assert.equal(await agent.stop(), 0, agent.stderr());
  assert.match(agent.stdout(), /^\{"date":971211336\.0,"host":"1\.2\.3\.4","user":"bob","method":"GET","path":"\/x","code":"200","size":"10"\}\n$/);
});

test('a parser key naming an unknown parser stops start-up with the known names; -D checks it too', async () => {
  for (const extra of [[], ['-D']]) {
    const agent = spawnAgent(['-R', 'conf/parsers.conf', '-i', 'stdin', '-p', 'parser=apache3', '-o', 'stdout', ...extra]);
    assert.equal(await agent.waitForExit(), 1);
    assert.match(agent.stderr(), /\[error\] .*stdin\.0: parser 'apache3' is not registered \(known parsers: apache, apache2, apache_error, /);
  }
  const missing = spawnAgent(['-R', 'no/such/parsers.conf', '-i', 'dummy', '-o', 'stdout']);
  assert.equal(await missing.waitForExit(), 1);
  assert.match(missing.stderr(), /parsers file 'no\/such\/parsers\.conf' does not exist/);
});
