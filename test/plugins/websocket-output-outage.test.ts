/**
 * An outage of the websocket output's server (issue 12, items 6 and 8): sequenced records flow into a
 * tcp input while a `ws` server is stopped and restarted on the same port. Every record must arrive, in
 * order (workers 0), and the log must tell the outage in a few true lines rather than one per chunk per
 * retry. WSBIT_OUTAGE_SECONDS and WSBIT_OUTAGE_RATE change the outage's length and the records per
 * second, for measuring (defaults: a 12 s outage, 250 records at 10 per second).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sleep, waitFor } from '../helpers/wait.js';
import { endScenario, decodeRecords, figures, startCountingServer, startTestAgent, TcpFeeder, type CountingServer, type RunningTestAgent } from './websocket-output-support.js';

let server: CountingServer | undefined;
let agent: RunningTestAgent | undefined;
let feeder: TcpFeeder | undefined;
afterEach(async () => {
  await endScenario(feeder, agent, server);
  [feeder, agent, server] = [undefined, undefined, undefined];
});

const outageSeconds = Number(process.env['WSBIT_OUTAGE_SECONDS'] ?? 12);
const perSecond = Number(process.env['WSBIT_OUTAGE_RATE'] ?? 10);
/** Enough records to flow before, during and after the outage. */
const count = Math.max(250, Math.ceil((outageSeconds + 10) * perSecond));
/** Lines a user sees at the default log level. */
const loud = /^\[[^\]]+\] \[ ?(info|warn|error)\]/;

describe('a server outage', () => {
  it(`${outageSeconds} s down while ${count} sequenced records arrive: all delivered, zero inversions, a few true log lines`, async (t) => {
    server = await startCountingServer('json_lines', true);
    const peer = server;
    agent = await startTestAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${peer.port}/`, '-p', 'format=json_lines', '-f', '0.2',
    ]);
    const running = agent;
    feeder = new TcpFeeder(agent.tcpPort(), { count, perSecond, padBytes: 10 });
    const feeding = feeder;
    await running.waitFor(() => peer.records >= 20, 'records flowing before the outage', 15_000);
    const linesBefore = running.lines.length;
    const downAt = Date.now();
    await peer.crash();
    await sleep(outageSeconds * 1000);
    await peer.start();
    const upAt = Date.now();
    await running.waitFor(() => peer.records > 0 && peer.firstMessageAfterStartMs !== null, 'the first message after the restart', 20_000);
    await feeding.done;
    await running.waitFor(() => peer.lost(feeding.sent) === 0, `all ${feeding.sent} records`, 30_000);
    await running.waitForLog(/\] \[engine\] output websocket\.0 caught up/, 10_000);

    const seqs = peer.messages.flatMap((message) => decodeRecords('json_lines', message.data).map((record) => record['seq'] as number));
    let inversions = 0;
    for (let i = 1; i < seqs.length; i++) if ((seqs[i] as number) < (seqs[i - 1] as number)) inversions++;
    const outageLines = running.lines.slice(linesBefore).filter((line) => loud.test(line));
    t.diagnostic(figures('outage', feeding.sent, peer, `inversions ${inversions}, outage ${upAt - downAt} ms`));
    t.diagnostic(`${outageLines.length} lines at info level and above from the crash to caught up:\n${outageLines.join('').trimEnd()}`);

    assert.equal(peer.lost(feeding.sent), 0, 'every record arrived');
    assert.equal(inversions, 0, 'in order: no record arrived after a later one');
    assert.ok(outageLines.length <= 10, `a few state-change lines, not one per chunk per retry (${outageLines.length})`);
    assert.ok(!outageLines.some((line) => /retry in \d+ seconds/.test(line)), 'no retry promise the reconnect does not keep');
    const text = outageLines.join('');
    assert.match(text, /\[ warn\] \[output:websocket:websocket\.0\] connection to ws:\/\/127\.0\.0\.1:\d+\/ down: .*; down since /);
    assert.match(text, /\[ warn\] \[engine\] output websocket\.0 cannot deliver: \d+ chunks? \(\d+ records?\) wait; the next attempt as soon as the output is back, at the latest in \d+ s/);
    // The figures printed are the ones measured here, within the slack of a loaded machine.
    const upAgain = /connection up again after (\d+\.\d) s down \(since [^,]+, (\d+) failed attempts?\)/.exec(text);
    assert.ok(upAgain !== null, 'the recovery is logged with the length of the outage');
    const downSeconds = Number(upAgain[1]);
    assert.ok(downSeconds >= outageSeconds - 1 && downSeconds <= (Date.now() - downAt) / 1000, `down ${downSeconds} s, measured ${upAt - downAt} ms`);
    assert.match(text, /\[ info\] \[engine\] output websocket\.0 delivers again after \d+\.\d s \(failing since [^)]+\); \d+ more chunks? \(\d+ records?\) to catch up/);
    const caughtUp = /caught up: delivered (\d+) chunks? \((\d+) records?\)/.exec(running.logs());
    assert.ok(caughtUp !== null);
    assert.ok(Number(caughtUp[2]) >= 1);
  });
});
