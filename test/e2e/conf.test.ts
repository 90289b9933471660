import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, appendFileSync, readdirSync } from 'node:fs';
import { decode, encode } from '@msgpack/msgpack';
import { fetch } from 'undici';
import path from 'node:path';
import { confDir, repoRoot } from '../helpers/paths.js';
import { WebSocketServer } from 'ws';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { httpToBrowserScenario } from '../plugins/websocket-server-support.js';
import { tcpToWebsocketScenario } from '../plugins/websocket-output-support.js';
import { agentScenario, aggregatorScenario, quickstartScenario } from '../plugins/websocket-input-support.js';

/**
 * Every example in conf/ runs here exactly as the README tells users to run it. A scenario drives
 * the example and checks what it produced; a new conf file without a scenario fails the last test.
 */
type Scenario = (agent: RunningAgent, paths: ExamplePaths) => Promise<void>;

/**
 * Where an example keeps its files in this test: the examples read these variables (with /tmp
 * defaults for users), so a test run leaves nothing in /tmp and never meets an earlier run's chunks.
 */
interface ExamplePaths {
  /** WSBIT_TAIL_DIR: the directory the tail examples follow. */
  tailDir: string;
}

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
  'forward-to-stdout.conf': async (agent) => {
    await agent.waitForOutput('listening on 127.0.0.1:24224');
    const ack = await sendForward(24224, ['app.test', [[1700000000, { hello: 'forward', n: 18446744073709551615n }]], { chunk: 'e2e-1' }]);
    assert.deepEqual(ack, { ack: 'e2e-1' });
    await agent.waitForOutput('"hello":"forward"');
    assert.match(agent.stdout(), /^\{"date":1700000000\.0,"hello":"forward","n":18446744073709551615\}$/m);
  },
  'http-to-stdout.conf': async (agent) => {
    await agent.waitForOutput('listening on 127.0.0.1:9880');
    // The README's curl line: curl -X POST -d 'json={"action":"login","user":6}' http://127.0.0.1:9880/foo/bar
    const response = await fetch('http://127.0.0.1:9880/foo/bar', {
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
    assert.match(agent.stdout(), new RegExp(`^\\{"date":\\d+\\.\\d+,"file":"${dir}/app\\.log","message":"${line}"\\}$`, 'm'));
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
  'quickstart.conf': async (agent) => {
    await quickstartScenario(agent);
    // The same records on the terminal, for a user without a browser.
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"message":"hello over WebSocket","level":"info","user":"Jos\\u00e9","latency_ms":12\.5\}$/m);
  },
  'aggregator.conf': async (agent) => {
    await aggregatorScenario(agent);
  },
  'agent.conf': async (agent) => {
    await agentScenario(agent);
  },
  'tail-with-disk-buffer.conf': async (agent, { tailDir: dir }) => {
    // The server is down at first: the line waits on disk, then goes out once the server is up.
    mkdirSync(dir, { recursive: true });
    const line = `disk buffered ${process.pid} ${Date.now()}`;
    appendFileSync(path.join(dir, 'app.log'), `${line}\n`);
    await agent.waitForOutput(/connecting to ws:\/\/127\.0\.0\.1:8080\/logs failed/, 'a refused connection', 15_000);
    const received: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 8080, path: '/logs' });
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => received.push(data.toString())));
    try {
      await waitFor(() => received.join('').includes(line), 'the line at the server', 15_000);
      assert.match(received.join(''), new RegExp(`^\\{"date":\\d+\\.\\d+,"log":"${line}"\\}$`, 'm'));
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  },
  'tcp-to-websocket.conf': async (agent) => {
    await tcpToWebsocketScenario(agent);
  },
  'tcp-to-stdout.conf': async (agent) => {
    await agent.waitForOutput('listening on 127.0.0.1:5170');
    await sendTcp(5170, '{"key 1": 123456789, "key 2": "abcdefg"}\n');
    await agent.waitForOutput('"key 2":"abcdefg"');
    assert.match(agent.stdout(), /^\{"date":\d+\.\d+,"key 1":123456789,"key 2":"abcdefg"\}$/m);
  },
};

/**
 * The quick start runs the way the README starts it, `npm start`. Its build step (prestart) is skipped
 * with --ignore-scripts because `npm test` has just built dist/, and rebuilding under running tests
 * could rewrite files they load. npm does not pass SIGTERM on, so it is stopped with Ctrl-C's SIGINT
 * to the whole process group, and wsbit's own exit is read from its log.
 */
const npmStart: Record<string, string[]> = { 'quickstart.conf': ['npm', 'start', '--ignore-scripts'] };

for (const name of Object.keys(scenarios)) {
  test(`conf/${name} runs as documented`, async () => {
    const work = tempDir('wsbit-conf-');
    const paths: ExamplePaths = { tailDir: path.join(work, 'logs') };
    const env = { WSBIT_STORAGE_PATH: path.join(work, 'storage'), WSBIT_TAIL_DIR: paths.tailDir };
    const command = npmStart[name];
    const agent = spawnAgent(['-c', path.join(confDir, name)], command === undefined ? { env } : { env, command, cwd: repoRoot });
    try {
      await (scenarios[name] as Scenario)(agent, paths);
    } finally {
      if (command === undefined) assert.equal(await agent.stop(), 0, agent.stderr());
      else {
        await agent.stop('SIGINT');
        assert.match(agent.stderr(), /\[engine\] service has stopped/);
      }
    }
    assert.doesNotMatch(agent.stderr(), /\[error\]/);
  });
}

test('every file in conf/ has a scenario in this test', () => {
  const files = readdirSync(confDir).filter((file) => file.endsWith('.conf'));
  const missing = files.filter((file) => !(file in scenarios) && !file.startsWith('parsers'));
  assert.deepEqual(missing, [], 'add a scenario for each example config');
});
