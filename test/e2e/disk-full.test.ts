import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import { request } from 'undici';
import { binPath } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { startCountingServer } from '../plugins/websocket-output-support.js';
import { openClient, type SendingClient } from '../plugins/websocket-input-support.js';

/**
 * A real full disk (issue 21): storage.path on a 2 MB tmpfs, the output's server down, records
 * streamed through the three acknowledging inputs (forward with an ack request, the websocket input
 * with a ping after each message, http) until the disk is full; then kill -9, a restart on a larger
 * tmpfs holding the same files, the server up: every acknowledged record must arrive.
 *
 * The tmpfs is mounted in a mount namespace of the agent's own (unshare), so nothing leaks: the
 * namespace ends with its processes. Before the namespace ends, its shell copies the storage out
 * (after the kill -9, so the copy is what the killed agent left), and the restart copies it back in.
 */

const BATCH = 50;
const PAD = 'p'.repeat(200);
const ACK_TIMEOUT_MS = 1000;
/** Seq ranges tell the inputs apart at the server. */
const BASE = { forward: 1_000_000, websocket: 2_000_000, http: 3_000_000 } as const;
type Source = keyof typeof BASE;

/** `unshare -m` as root (CI), else in a user namespace (`-rm`); fails loudly if neither works here. */
function unshareArgs(): string[] {
  for (const flags of [['-m'], ['-rm']]) {
    if (spawnSync('unshare', [...flags, 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s']).status === 0) return ['unshare', ...flags];
  }
  throw new Error('this test needs a mount namespace to mount a small tmpfs: run it as root, or where `unshare -rm` (user namespaces) works');
}

function agentArgs(storageDir: string, serverPort: number): string[] {
  const input = (name: string, ...props: string[]) => ['-i', name, '-p', 'listen=127.0.0.1', '-p', 'port=0', '-p', 'storage.type=filesystem', ...props.flatMap((p) => ['-p', p])];
  return [
    '-b', storageDir,
    ...input('forward'),
    ...input('websocket', 'tag=ws'),
    ...input('http'),
    '-o', `websocket://127.0.0.1:${serverPort}/ingest`, '-p', 'format=json_lines', '-m', '*',
    '-f', '0.2',
  ];
}

function portOf(agent: RunningAgent, plugin: string): number {
  const match = new RegExp(`\\[input:${plugin}:${plugin}\\.0\\] listening on [^\\s,]*:(\\d+)`).exec(agent.stderr());
  if (match === null) throw new Error(`no ${plugin} port in:\n${agent.stderr()}`);
  return Number(match[1]);
}

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

function records(source: Source, from: number): Array<{ seq: number; src: Source; pad: string }> {
  return Array.from({ length: BATCH }, (_, i) => ({ seq: BASE[source] + from + i, src: source, pad: PAD }));
}

/** One Forward mode message asking for an ack, on a connection of its own: true when acked. */
function sendForward(port: number, batch: ReturnType<typeof records>, chunk: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = Buffer.alloc(0);
    const done = (acked: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(acked);
    };
    const timer = setTimeout(() => done(false), ACK_TIMEOUT_MS);
    socket.on('data', (data: Buffer) => {
      answer = Buffer.concat([answer, data]);
      try {
        done((decode(answer) as { ack?: string }).ack === chunk);
      } catch {
        // Not complete yet.
      }
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    const now = Math.floor(Date.now() / 1000);
    socket.write(encode(['app.fw', batch.map((body) => [now, body]), { chunk }]));
  });
}

/** The status, with `Retry-After` when the answer has one (`503+5`), or 0 when the request failed. */
async function sendHttp(port: number, body: string): Promise<string> {
  try {
    const response = await request(`http://127.0.0.1:${port}/app.http`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await response.body.dump();
    const retryAfter = response.headers['retry-after'];
    return `${response.statusCode}${typeof retryAfter === 'string' ? `+${retryAfter}` : ''}`;
  } catch {
    return '0';
  }
}

/** The websocket input's sender: a message, then a ping; the pong confirms it. */
class WebsocketSender {
  private client: SendingClient | null = null;
  constructor(private readonly port: number) {}

  async send(batch: ReturnType<typeof records>, id: number): Promise<boolean> {
    try {
      this.client ??= await openClient(`ws://127.0.0.1:${this.port}/`);
      await this.client.send(JSON.stringify(batch));
      await this.client.ping(`p${id}`, ACK_TIMEOUT_MS);
      return true;
    } catch {
      this.client?.close();
      this.client = null;
      return false;
    }
  }

  close(): void {
    this.client?.close();
  }
}

interface Tally {
  acked: Set<number>;
  refusals: number;
  attempts: number;
}

/** Sends batches until `refusals` of them were not acknowledged (the disk is full) or `maxAttempts`. */
async function stream(source: Source, send: (batch: ReturnType<typeof records>, attempt: number) => Promise<boolean>, tally: Tally, refusals: number, maxAttempts: number): Promise<void> {
  while (tally.refusals < refusals && tally.attempts < maxAttempts) {
    const batch = records(source, tally.attempts * BATCH);
    tally.attempts++;
    if (await send(batch, tally.attempts)) for (const record of batch) tally.acked.add(record.seq);
    else tally.refusals++;
  }
}

test('disk full with kill -9: forward acks, websocket pongs and http 201s are all delivered after a restart on a larger disk', { timeout: 120_000 }, async (t) => {
  const unshare = unshareArgs();
  const mountPoint = tempDir('wsbit-diskfull-mnt-');
  const saved = tempDir('wsbit-diskfull-saved-');
  const server = await startCountingServer('json_lines');
  const serverPort = server.port;
  await server.crash();
  t.after(() => server.close());

  // The shell waits for the agent, then copies what the killed agent left on the tmpfs.
  const firstScript = 'dir=$1; out=$2; shift 2; mount -t tmpfs -o size=2m tmpfs "$dir" || exit 90; "$@" & echo "agent-pid $!" >&2; wait $!; cp -a "$dir/." "$out/" && echo "storage copied" >&2';
  const first = spawnAgent([], { command: [...unshare, 'sh', '-c', firstScript, 'sh', mountPoint, saved, process.execPath, binPath, ...agentArgs(mountPoint, serverPort)] });
  t.after(() => first.stop('SIGKILL'));
  await first.waitForOutput(/\[input:http:http\.0\] listening on/);
  await first.waitForOutput(/\[input:websocket:websocket\.0\] listening on/);
  await first.waitForOutput(/\[input:forward:forward\.0\] listening on/);
  const pid = Number(/agent-pid (\d+)/.exec(first.stderr())?.[1]);
  const ports = { forward: portOf(first, 'forward'), websocket: portOf(first, 'websocket'), http: portOf(first, 'http') };
  const rssStart = rssKiB(pid);

  const tallies: Record<Source, Tally> = {
    forward: { acked: new Set(), refusals: 0, attempts: 0 },
    websocket: { acked: new Set(), refusals: 0, attempts: 0 },
    http: { acked: new Set(), refusals: 0, attempts: 0 },
  };
  const ws = new WebsocketSender(ports.websocket);
  t.after(() => ws.close());
  const senders: Record<Source, (batch: ReturnType<typeof records>, attempt: number) => Promise<boolean>> = {
    forward: (batch, attempt) => sendForward(ports.forward, batch, `c${attempt}`),
    websocket: (batch, attempt) => ws.send(batch, attempt),
    http: async (batch) => (await sendHttp(ports.http, JSON.stringify(batch))) === '201',
  };
  // 2 MB hold about 8,000 such records: 2,000 attempts per input is far more than the disk takes.
  await Promise.all((Object.keys(senders) as Source[]).map((source) => stream(source, senders[source], tallies[source], 3, 2000)));
  await first.waitForOutput(/\[storage\] cannot write chunk '[^']+': (ENOSPC|.*no space)/i, 'the disk-full error');
  const rssFull = rssKiB(pid);

  // Memory while full: senders keep offering about 46 MB more over http; none of it may stay in memory.
  const big = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ seq: BASE.http + 900_000 + i, src: 'http', pad: PAD })));
  const statuses = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const status = await sendHttp(ports.http, big);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  const offeredKiB = (400 * Buffer.byteLength(big)) / 1024;
  const rssAfter = rssKiB(pid);
  assert.deepEqual([...statuses.keys()], ['503+5'], `while the disk is full every request is refused with 503 and Retry-After: ${JSON.stringify([...statuses])}`);

  process.kill(pid, 'SIGKILL');
  await first.waitForOutput('storage copied', 'the storage copied out of the namespace');
  await first.waitForExit();
  const errorLines = first.stderr().match(/\[storage\] cannot write chunk/g) ?? [];
  assert.equal(errorLines.length, 1, `one error line on entering the state:\n${first.stderr()}`);

  await server.start();
  const secondScript = 'dir=$1; out=$2; shift 2; mount -t tmpfs -o size=64m tmpfs "$dir" || exit 90; cp -a "$out/." "$dir/" || exit 91; exec "$@"';
  const second = spawnAgent([], { command: [...unshare, 'sh', '-c', secondScript, 'sh', mountPoint, saved, process.execPath, binPath, ...agentArgs(mountPoint, serverPort)] });
  t.after(() => second.stop('SIGKILL'));
  const missing = (source: Source): number[] => [...tallies[source].acked].filter((seq) => !server.seqs.has(seq));
  await waitFor(
    () => (Object.keys(tallies) as Source[]).every((source) => missing(source).length === 0),
    `every acknowledged record at the server\n${second.stderr()}`,
    30_000,
  );
  assert.equal(await second.stop(), 0);
  for (const line of second.stderr().split('\n').filter((text) => /\[storage\]/.test(text) && !/storage\.path is/.test(text))) t.diagnostic(`restart: ${line}`);

  for (const source of Object.keys(tallies) as Source[]) {
    const { acked, refusals, attempts } = tallies[source];
    const delivered = [...server.seqs.keys()].filter((seq) => seq >= BASE[source] && seq < BASE[source] + 1_000_000).length;
    t.diagnostic(`${source}: ${attempts} batches, ${acked.size} records acknowledged, ${refusals} batches not acknowledged, ${delivered} delivered, ${missing(source).length} acknowledged but lost`);
    assert.ok(acked.size > 0, `${source}: some records were acknowledged before the disk was full`);
    assert.ok(refusals > 0, `${source}: the full disk refused some batches`);
    assert.deepEqual(missing(source), [], `${source}: acknowledged = delivered`);
  }
  t.diagnostic(`RSS: ${rssStart} KiB at start, ${rssFull} KiB when the disk was full, ${rssAfter} KiB after ${Math.round(offeredKiB)} KiB more were offered and refused`);
  assert.ok(rssAfter - rssFull < offeredKiB, `memory does not take what a full disk refuses: ${rssFull} → ${rssAfter} KiB with ${Math.round(offeredKiB)} KiB offered`);
});
