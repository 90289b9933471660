/**
 * The quick start as a new user runs it (conf/quickstart.yaml, on free ports, from a fresh working
 * directory): its state goes under `.wsbit/` of the directory it starts from, the first log line
 * says where, and Ctrl-C is quiet and clean — the records on their way finish the round trip, so
 * nothing is warned about and nothing waits on disk for the next start.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { confDir } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../plugins/websocket-input-support.js';

/** Every file below `dir`, recursively (the chunk files of storage.path). */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

const warnings = (agent: RunningAgent): string[] => agent.stderr().split('\n').filter((line) => /\[ ?(warn|error)\]/.test(line));
const received = (agent: RunningAgent): number => agent.stdout().split('\n').filter((line) => line.includes('hello over WebSocket')).length;

test('the quick start keeps its state in .wsbit/ of its working directory and stops on SIGINT with no warning and nothing left to replay', async () => {
  const cwd = realpathSync(tempDir('wsbit-quickstart-cwd-'));
  const [input, page] = [await freePort(), await freePort()];
  const conf = readFileSync(path.join(confDir, 'quickstart.yaml'), 'utf8').replaceAll('8090', String(input)).replaceAll('8091', String(page));
  assert.match(conf, /storage\.path: \$\{WSBIT_STORAGE_PATH:-\.wsbit\/quickstart\}/);
  writeFileSync(path.join(cwd, 'quickstart.yaml'), conf);
  const storage = path.join(cwd, '.wsbit', 'quickstart');
  // The variable the conf tests set would move the storage elsewhere: the default is under test.
  const env = { WSBIT_STORAGE_PATH: undefined };

  const first = spawnAgent(['-c', 'quickstart.yaml'], { cwd, env });
  await first.waitForOutput('connection up');
  await waitFor(() => received(first) >= 3, `three records round the loop\nstderr:\n${first.stderr()}`, 15_000);
  const firstLine = first.stderr().split('\n')[0] ?? '';
  assert.match(firstLine, /\[ info\] \[storage\] storage\.path is (.+)$/);
  assert.equal(firstLine.replace(/.* storage\.path is /, ''), storage);
  assert.equal(await first.stop('SIGINT'), 0);
  assert.deepEqual(warnings(first), [], `no warning at a Ctrl-C stop, got:\n${first.stderr()}`);
  assert.match(first.stderr(), /\[engine\] service has stopped/);
  assert.doesNotMatch(first.stderr(), /stay in storage\.path/);
  assert.deepEqual(filesBelow(storage), [], 'no chunk left in storage.path');

  const second = spawnAgent(['-c', 'quickstart.yaml'], { cwd, env });
  await second.waitForOutput('connection up');
  await waitFor(() => received(second) >= 1, `a record round the loop\nstderr:\n${second.stderr()}`, 15_000);
  assert.equal(await second.stop('SIGINT'), 0);
  assert.doesNotMatch(second.stderr(), /left by an earlier run/);
  assert.deepEqual(warnings(second), [], `no warning at the next start and stop, got:\n${second.stderr()}`);
  assert.deepEqual(filesBelow(storage), []);
});
