import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { decode, encode } from '@msgpack/msgpack';
import { fetch } from 'undici';
import path from 'node:path';
import { confDir, repoRoot } from '../helpers/paths.js';
import { exampleCheckout, ExamplePorts, examplePortsIn, onPath } from '../helpers/example-ports.js';
import { WebSocketServer } from 'ws';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { httpToBrowserScenario } from '../plugins/websocket-server-support.js';
import { tcpToWebsocketScenario } from '../plugins/websocket-output-support.js';
import { agentScenario, aggregatorScenario, quickstartScenario } from '../plugins/websocket-input-support.js';
import { agentToAggregatorsScenario, aggregatorToForwardScenario, tcpToHttpScenario } from '../upstream/conf-scenarios.js';
import { readmeCommandChecks, readmeCommands, RUN_IN_CONF_TEST } from './readme-commands.js';

/**
 * Every example in conf/ runs here as the README tells users to run it, on free ports in place of the
 * example's own (test/helpers/example-ports.ts), so that it runs beside a user's `npm start` or
 * anything else on those ports. A scenario drives the example and checks what it produced; a new conf
 * file without a scenario fails the last test.
 */
type Scenario = (agent: RunningAgent, example: ExampleRun) => Promise<void>;

/** Where an example runs in this test. */
interface ExampleRun {
  /**
   * WSBIT_TAIL_DIR: the directory the tail examples follow. The examples read such variables (with
   * /tmp defaults for users), so a test run leaves nothing in /tmp and never meets an earlier run's chunks.
   */
  tailDir: string;
  /** The free port that stands in for one of the example's own. */
  port: (examplePort: number) => number;
}

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
/** The ports the examples and the README's commands name; each test maps them to free ones. */
const examplePorts = examplePortsIn(readmeCommands(readme));

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** Sends one Forward-mode message with a chunk id and resolves with the server's ack. */
function sendForward(port: number, message: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(encode(message, { useBigInt64: true })));
    socket.on('data', (data: Buffer) => {
      resolve(decode(data));
      socket.end();
    });
    socket.on('error', reject);
  });
}

export const scenarios: Record<string, Scenario> = {
  'forward-to-stdout.conf': async (agent, { port }) => {
    await agent.waitForOutput(`listening on 127.0.0.1:${port(24224)}`);
    const ack = await sendForward(port(24224), ['app.test', [[1700000000, { hello: 'forward', n: 18446744073709551615n }]], { chunk: 'e2e-1' }]);
    assert.deepEqual(ack, { ack: 'e2e-1' });
    await agent.waitForOutput('"hello":"forward"');
    assert.match(agent.stdout(), /^\{"date":1700000000\.0,"hello":"forward","n":18446744073709551615\}$/m);
  },
  'http-to-stdout.conf': async (agent, { port }) => {
    await agent.waitForOutput(`listening on 127.0.0.1:${port(9880)}`);
    // The README's curl line: curl -X POST -d 'json={"action":"login","user":6}' http://127.0.0.1:9880/foo/bar
    const response = await fetch(`http://127.0.0.1:${port(9880)}/foo/bar`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'json={"action":"login","user":6}',
    });
    assert.equal(response.status, 201);
    await agent.waitForOutput('"action":"login"');
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"action":"login","user":6\}$/m);
  },
  'tail-to-stdout.conf': async (agent, { tailDir: dir }) => {
    // Once the first scan is done, lines added to a file it found are read, and new files are read whole.
    await agent.waitForOutput(/\[input:tail:tail\.0\] (no files match|following)/);
    mkdirSync(dir, { recursive: true });
    const line = `e2e ${process.pid} ${Date.now()}`;
    appendFileSync(path.join(dir, 'app.log'), `{"message":"${line}"}\nplain text line\n`);
    await agent.waitForOutput('plain text line', 'both lines', 10_000);
    // A parsed line gets path_key after its own keys (flb_tail_pack_line_map); a raw one before.
    assert.match(agent.stdout(), new RegExp(`^\\{"date":\\d+\\.\\d+,"message":"${line}","file":"${dir}/app\\.log"\\}$`, 'm'));
    assert.match(agent.stdout(), new RegExp(`^\\{"date":\\d+\\.\\d+,"file":"${dir}/app\\.log","log":"plain text line"\\}$`, 'm'));
  },
  'http-to-browser.conf': async (agent) => {
    await httpToBrowserScenario(agent);
  },
  'dummy-filter-to-stdout.conf': async (agent) => {
    await agent.waitForOutput(/(\{"date":[^\n]*\n){3}/, 'three JSON lines');
    assert.equal(agent.stdout().trim().split('\n').length, 3);
    assert.match(
      agent.stdout(),
      /^\{"date":\d+\.\d+,"level":"error","msg":"payment declined","order_id":18446744073709551615,"amount":3\.0,"service":"checkout"\}$/m,
    );
    assert.doesNotMatch(agent.stdout(), /cart viewed|debug_trace/);
  },
  'dummy-to-stdout.conf': async (agent) => {
    await agent.waitForOutput(/(\{"date":[^\n]*"message":"hello from wsbit"[^\n]*\n){3}/, 'three JSON lines');
    assert.equal(agent.stdout().trim().split('\n').length, 3);
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"message":"hello from wsbit","level":"info"\}$/m);
  },
  'quickstart.conf': async (agent, { port }) => {
    await quickstartScenario(agent, { input: port(8090), page: port(8091) });
    // The same records on the terminal, for a user without a browser.
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"message":"hello over WebSocket","level":"info","user":"Jos\\u00e9","latency_ms":12\.5\}$/m);
  },
  'aggregator.conf': async (agent, { port }) => {
    await aggregatorScenario(agent, port);
  },
  'agent.conf': async (agent, { port }) => {
    await agentScenario(agent, port);
  },
  'tail-with-disk-buffer.conf': async (agent, { tailDir: dir, port }) => {
    // The server is down at first: the line waits on disk, then goes out once the server is up.
    mkdirSync(dir, { recursive: true });
    const line = `disk buffered ${process.pid} ${Date.now()}`;
    appendFileSync(path.join(dir, 'app.log'), `${line}\n`);
    await agent.waitForOutput(`connecting to ws://127.0.0.1:${port(8080)}/logs failed`, 'a refused connection', 15_000);
    const received: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: port(8080), path: '/logs' });
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => received.push(data.toString())));
    try {
      await waitFor(() => received.join('').includes(line), 'the line at the server', 15_000);
      assert.match(received.join(''), new RegExp(`^\\{"date":\\d+\\.\\d+,"log":"${line}"\\}$`, 'm'));
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  },
  'tcp-to-websocket.conf': async (agent, { port }) => {
    await tcpToWebsocketScenario(agent, port);
  },
  'tcp-to-http.conf': async (agent, { port }) => {
    await tcpToHttpScenario(agent, port);
  },
  'aggregator-to-forward.conf': async (agent, { port }) => {
    await aggregatorToForwardScenario(agent, port);
  },
  'agent-to-aggregators.conf': async (agent, { port }) => {
    await agentToAggregatorsScenario(agent, port);
  },
  'tcp-to-stdout.conf': async (agent, { port }) => {
    await agent.waitForOutput(`listening on 127.0.0.1:${port(5170)}`);
    await sendTcp(port(5170), '{"key 1": 123456789, "key 2": "abcdefg"}\n');
    await agent.waitForOutput('"key 2":"abcdefg"');
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}$/m);
  },
};

/**
 * The quick start runs the way the README starts it, `npm start` (in a copy of the checkout's layout
 * whose conf/ has free ports, see exampleCheckout). Its build step (prestart) is skipped with
 * --ignore-scripts because `npm test` has just built dist/, and rebuilding under running tests could
 * rewrite files they load. npm does not pass SIGTERM on, so it is stopped with Ctrl-C's SIGINT to the
 * whole process group, and wsbit's own exit is read from its log.
 */
const npmStart: Record<string, string[]> = { 'quickstart.yaml': ['npm', 'start', '--ignore-scripts'] };

// Each example's YAML twin runs the same scenario.
for (const name of Object.keys(scenarios).flatMap((conf) => [conf, conf.replace(/\.conf$/, '.yaml')])) {
  test(`conf/${name} runs as documented`, async () => {
    const work = tempDir('wsbit-conf-');
    const ports = await ExamplePorts.allocate(examplePorts);
    const checkout = exampleCheckout(ports);
    const example: ExampleRun = { tailDir: path.join(work, 'logs'), port: (examplePort) => ports.of(examplePort) };
    const env = { WSBIT_STORAGE_PATH: path.join(work, 'storage'), WSBIT_TAIL_DIR: example.tailDir };
    const command = npmStart[name];
    const agent = spawnAgent(['-c', path.join(checkout, 'conf', name)], command === undefined ? { env } : { env, command, cwd: checkout });
    try {
      await (scenarios[name.replace(/\.yaml$/, '.conf')] as Scenario)(agent, example);
    } finally {
      if (command === undefined) assert.equal(await agent.stop(), 0, agent.stderr());
      else {
        await agent.stop('SIGINT');
        await agent.waitForOutput('[engine] service has stopped', 'wsbit stopped', 20_000);
      }
    }
    assert.doesNotMatch(agent.stderr(), /\[error\]/);
  });
}

test('every file in conf/ has a scenario in this test', () => {
  const files = readdirSync(confDir).filter((file) => file.endsWith('.conf'));
  const missing = files.filter((file) => !(file in scenarios) && !file.startsWith('parsers'));
  assert.deepEqual(missing, [], 'add a scenario for each example config');
  const yamlFiles = readdirSync(confDir).filter((file) => file.endsWith('.yaml'));
  assert.deepEqual(files.map((file) => file.replace(/\.conf$/, '.yaml')).filter((twin) => !yamlFiles.includes(twin)), [], 'add a YAML twin (wsbit --convert) for each example config');
});

/**
 * The README's `nc` lines need an nc. A machine without one gets test/helpers/bin/nc, a few lines of
 * Node that do what `nc -N` does, first on PATH (test/e2e/nc-stand-in.test.ts checks it).
 */
const pathWithNc = onPath('nc') ? {} : { PATH: `${path.join(repoRoot, 'test', 'helpers', 'bin')}${path.delimiter}${process.env['PATH'] ?? ''}` };

/**
 * The README's own commands (test/e2e/readme-commands.ts lists them), run as written through `sh -c`,
 * except that the examples' ports are replaced by free ones, from a copy of the checkout's layout
 * whose conf/ has the same free ports. Each group is a README block or part of one; the shell sits
 * between the test and wsbit, so wsbit's clean stop is read from its log.
 */
interface ReadmeRun {
  /** The free port that stands in for one the README names. */
  port: (examplePort: number) => number;
  run: (line: string, env?: NodeJS.ProcessEnv) => RunningAgent;
}

async function readmeRun(): Promise<ReadmeRun> {
  const ports = await ExamplePorts.allocate(examplePorts);
  const checkout = exampleCheckout(ports);
  return {
    port: (examplePort) => ports.of(examplePort),
    run: (line, env = {}) => {
      assert.equal(readmeCommandChecks[line], RUN_IN_CONF_TEST, `not a README command run here: ${line}`);
      assert.ok(readmeCommands(readme).includes(line), `not in the README: ${line}`);
      return spawnAgent([], { command: ['sh', '-c', ports.rewrite(line)], cwd: checkout, env: { ...pathWithNc, ...env } });
    },
  };
}

/** Runs one of the README's `nc` lines, which must return by itself once its line is sent. */
async function sendWithNc(commands: ReadmeRun, line: string): Promise<void> {
  const client = commands.run(line);
  try {
    assert.equal(await client.waitForExit(), 0, `${line}\nstdout:\n${client.stdout()}\nstderr:\n${client.stderr()}`);
  } finally {
    await client.stop('SIGKILL');
  }
}

/** Stops every one of them, even when one fails to stop, then checks that each stopped cleanly. */
async function stopCleanly(...agents: RunningAgent[]): Promise<void> {
  await Promise.all(agents.map((agent) => agent.stop('SIGTERM').catch(() => agent.stop('SIGKILL').catch(() => undefined))));
  for (const agent of agents) {
    // The shell is gone once signalled; wsbit, which got the signal too, may still be flushing.
    await agent.waitForOutput('[engine] service has stopped', 'wsbit stopped', 20_000);
    assert.doesNotMatch(agent.stderr(), /\[error\]/);
  }
}

test('README: three dummy records, one a second, printed; it keeps running until stopped', async () => {
  const agent = (await readmeRun()).run("./bin/wsbit -i dummy -p samples=3 -o stdout -m '*' -f 0.5");
  try {
    await waitFor(() => (agent.stdout().match(/"message"=>"dummy"/g) ?? []).length === 3, 'three records', 15_000);
    const times = [...agent.stdout().matchAll(/^\[0\] dummy\.0: \[\[(\d+\.\d{9}), \{\}\], \{"message"=>"dummy"\}\]$/gm)].map((match) => Number(match[1]));
    assert.equal(times.length, 3, agent.stdout());
    // One a second is dummy's rate (event times, not the wall clock of this loaded machine).
    for (let i = 1; i < times.length; i++) assert.ok(Math.abs((times[i] as number) - (times[i - 1] as number) - 1) < 0.5, `times ${times.join(', ')}`);
    assert.equal(agent.child.exitCode, null, 'still running');
  } finally {
    await stopCleanly(agent);
  }
});

test("README: CPU usage shipped to a WebSocket server (Fluent Bit's docs example), the README's one-line wsbit server", async () => {
  const commands = await readmeRun();
  const server = commands.run('./bin/wsbit -i websocket://127.0.0.1:8080 -o stdout');
  const agents: RunningAgent[] = [server];
  try {
    await server.waitForOutput(`listening on 127.0.0.1:${commands.port(8080)}`);
    agents.unshift(commands.run("./bin/wsbit -i cpu -t cpu -o websocket://127.0.0.1:8080/something -m '*'"));
    await server.waitForOutput(/"cpu_p"=>\d/, 'a cpu record printed by the server', 15_000);
  } finally {
    // The client first, so that its last chunk still reaches the server.
    for (const agent of agents) await stopCleanly(agent);
  }
});

test('README: JSON over TCP printed as JSON lines, sent with nc', async () => {
  const commands = await readmeRun();
  const agent = commands.run('./bin/wsbit -i tcp://127.0.0.1:5170 -o stdout -p format=json_lines');
  try {
    await agent.waitForOutput(`listening on 127.0.0.1:${commands.port(5170)}`);
    await sendWithNc(commands, 'echo \'{"key 1": 123456789, "key 2": "abcdefg"}\' | nc -q0 127.0.0.1 5170');
    await agent.waitForOutput('"key 2":"abcdefg"');
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}$/m);
  } finally {
    await stopCleanly(agent);
  }
});

test('README: -D checks a configuration; -o websocket -h lists its keys with their effective defaults', async () => {
  const commands = await readmeRun();
  const dry = commands.run('./bin/wsbit -c conf/tcp-to-websocket.conf -D');
  await dry.waitForExit();
  assert.equal(dry.stdout(), 'configuration test is successful\n', dry.stderr());
  const help = commands.run('./bin/wsbit -o websocket -h');
  await help.waitForExit();
  assert.match(help.stdout(), /^retry_limit +string +no_limits /m);
  assert.match(help.stdout(), /^port +int +80 \(443 with tls on\) /m);
});

test('README: aggregator and agent with a chosen token; a line sent to the agent with nc reaches the aggregator', async () => {
  const work = tempDir('wsbit-readme-');
  const commands = await readmeRun();
  const aggregator = commands.run('WSBIT_TOKEN=choose-a-secret ./bin/wsbit -c conf/aggregator.conf', { WSBIT_STORAGE_PATH: path.join(work, 'aggregator') });
  const agents: RunningAgent[] = [aggregator];
  try {
    await aggregator.waitForOutput(`listening on 127.0.0.1:${commands.port(8090)}`);
    const agent = commands.run('WSBIT_TOKEN=choose-a-secret ./bin/wsbit -c conf/agent.conf', { WSBIT_STORAGE_PATH: path.join(work, 'agent') });
    agents.unshift(agent);
    await agent.waitForOutput(`listening on 127.0.0.1:${commands.port(5170)}`);
    await sendWithNc(commands, 'echo \'{"message":"hello from the agent"}\' | nc -q0 127.0.0.1 5170');
    await aggregator.waitForOutput('"message":"hello from the agent"', 'the line at the aggregator', 20_000);
    await aggregator.waitForOutput('"message":"agent heartbeat"');
    assert.match(aggregator.stdout(), /^\{"date":\d+\.\d+,"message":"hello from the agent"\}$/m);
  } finally {
    await stopCleanly(...agents);
  }
});

/** The README's raw upgrade with curl, byte for byte what curl sends (curl itself is not a dependency of the tests). */
function upgradeLikeCurl(port: number, target: string, headers: string[]): { received: () => Buffer; close: () => void } {
  const chunks: Buffer[] = [];
  const socket = net.connect(port, '127.0.0.1', () => {
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n${headers.map((header) => `${header}\r\n`).join('')}\r\n`);
  });
  socket.on('data', (data: Buffer) => chunks.push(data));
  socket.on('error', () => undefined);
  return { received: () => Buffer.concat(chunks), close: () => socket.destroy() };
}

test("README: fluent-plugin-websocket's example (http input, websocket_server with add_time, buffered_messages and token), driven as its curl lines do", async () => {
  const postLine = `curl -X POST -d 'json={"action":"login","user":6}' http://127.0.0.1:8888/foo/bar`;
  const upgradeLine =
    "curl --include --no-buffer --header 'Connection: Upgrade' --header 'Upgrade: websocket' --header 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' --header 'Sec-WebSocket-Version: 13' 'http://127.0.0.1:8080/?token=MyT0ken'";
  const readme = readmeCommands(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
  for (const line of [postLine, upgradeLine]) assert.ok(readme.includes(line), `not in the README: ${line}`);
  const commands = await readmeRun();
  const agent = commands.run('./bin/wsbit -i http://127.0.0.1:8888 -o websocket_server://127.0.0.1:8080 -p add_time=on -p buffered_messages=100 -p token=MyT0ken');
  const httpPort = commands.port(8888);
  const serverPort = commands.port(8080);
  try {
    await agent.waitForOutput(`listening on 127.0.0.1:${httpPort}`);
    await agent.waitForOutput(`listening on 127.0.0.1:${serverPort}`);
    // The first curl line: a form post (curl's default content type) with the record in its json field.
    const posted = await fetch(`http://127.0.0.1:${httpPort}/foo/bar`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'json={"action":"login","user":6}',
    });
    assert.equal(posted.status, 201);
    // The second: the upgrade with the token in the query; the record posted before it comes as the replay.
    const headers = [...upgradeLine.matchAll(/--header '([^']+)'/g)].map((match) => match[1] ?? '');
    const client = upgradeLikeCurl(serverPort, '/?token=MyT0ken', headers);
    try {
      await waitFor(() => /\["foo\.bar",\d+,\{"action":"login","user":6\}\]/.test(client.received().toString('latin1')), 'the replayed record', 15_000);
      assert.match(client.received().toString('latin1'), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    } finally {
      client.close();
    }
    const refused = upgradeLikeCurl(serverPort, '/?token=wrong', headers);
    try {
      await waitFor(() => refused.received().length > 0, 'an answer to a wrong token');
      assert.match(refused.received().toString('latin1'), /^HTTP\/1\.1 401 /);
    } finally {
      refused.close();
    }
  } finally {
    await stopCleanly(agent);
  }
});
