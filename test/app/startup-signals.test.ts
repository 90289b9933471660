import assert from 'node:assert/strict';
import test from 'node:test';
import { main, type CliIo } from '../../src/cli/main.js';
import { catchStartupSignals, takeStartupSignal } from '../../src/app/startup-signals.js';

test('a SIGTERM caught while the agent loads stops the service cleanly once it has started', async () => {
  catchStartupSignals();
  // What the kernel would deliver while bin/wsbit imports the agent's modules.
  process.emit('SIGTERM', 'SIGTERM');
  let stderr = '';
  const io: CliIo = { stdout: () => undefined, stderr: (text) => (stderr += text) };
  const exitCode = await main(['-i', 'dummy', '-o', 'null', '-q'], io);
  assert.equal(exitCode, 0);
  assert.equal(takeStartupSignal(), undefined, 'the early signal was consumed by the service');
  assert.equal(process.listenerCount('SIGTERM'), 0, 'no signal handler is left behind');
});

test('without an early signal the catcher reports none and leaves no handler', () => {
  catchStartupSignals();
  assert.equal(process.listenerCount('SIGINT'), 1);
  assert.equal(takeStartupSignal(), undefined);
  assert.equal(process.listenerCount('SIGINT'), 0);
});
