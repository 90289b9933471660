/**
 * The Docker image runs as shipped. Docker itself cannot run here, so the image's default command
 * (ENTRYPOINT + CMD) runs as an unprivileged user, as the image's USER does, with the image's paths
 * mapped into a temp dir: /opt/wsbit is this checkout, /etc/wsbit/wsbit.conf is deploy/wsbit.conf,
 * /var/lib/wsbit is the volume the Dockerfile creates for its user, /var/log is the host's logs.
 * Under root the command runs as `nobody`; under any other user it already runs unprivileged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, copyFileSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { repoRoot } from '../helpers/paths.js';
import { spawnAgent, type RunningAgent } from '../helpers/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

interface Image {
  user: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  volumes: string[];
  env: Record<string, string>;
  runs: string[];
  /** Image path → checkout path, from the final stage's COPY lines. */
  copies: Array<{ from: string; to: string }>;
  comment: string;
}

/** The final stage of the Dockerfile, as the image sees it. */
function readImage(): Image {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const lines = text.split('\n');
  const comment = lines.filter((line) => line.startsWith('#')).join('\n');
  const stages = text.split(/^FROM /m);
  const final = (stages[stages.length - 1] ?? '').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const image: Image = { user: 'root', workdir: '/', entrypoint: [], cmd: [], volumes: [], env: {}, runs: [], copies: [], comment };
  for (const line of final) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instruction === 'USER') image.user = args;
    else if (instruction === 'WORKDIR') image.workdir = args;
    else if (instruction === 'ENTRYPOINT') image.entrypoint = JSON.parse(args) as string[];
    else if (instruction === 'CMD') image.cmd = JSON.parse(args) as string[];
    else if (instruction === 'VOLUME') image.volumes.push(...(JSON.parse(args) as string[]));
    else if (instruction === 'RUN') image.runs.push(args);
    else if (instruction === 'ENV') {
      const [key = '', value = ''] = args.split('=');
      image.env[key] = value;
    } else if (instruction === 'COPY' && !args.startsWith('--from=')) {
      // COPY SRC... DEST: with several sources, DEST is a directory that takes each by its name.
      const sources = rest.slice(0, -1);
      const to = path.posix.resolve(image.workdir, rest[rest.length - 1] ?? '');
      for (const from of sources) image.copies.push({ from, to: sources.length > 1 ? path.posix.join(to, path.posix.basename(from)) : to });
    }
  }
  return image;
}

/** Whom the command runs as: `nobody` when the tests run as root, else the current (unprivileged) user. */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('nobody:'));
  const [, , uid, gid] = entry?.split(':') ?? [];
  assert.ok(uid !== undefined && gid !== undefined, 'a nobody user in /etc/passwd');
  return { uid: Number(uid), gid: Number(gid) };
}

interface Mapped {
  root: string;
  volume: string;
  logs: string;
  command: string[];
}

/** Lays out the image's paths under a temp dir and returns its default command with paths mapped. */
function mapImage(image: Image, user: { uid: number; gid: number } | undefined, volumeOwned: boolean): Mapped {
  const root = tempDir('wsbit-image-');
  // mkdtemp makes it private; the unprivileged user must reach what is below.
  chmodSync(root, 0o755);
  const volume = path.join(root, 'var', 'lib', 'wsbit');
  const logs = path.join(root, 'var', 'log');
  mkdirSync(path.join(logs, 'containers'), { recursive: true });
  // The Dockerfile's RUN: the volume directory, owned by the image's user.
  mkdirSync(volume, { recursive: true });
  if (volumeOwned) {
    if (user !== undefined) chownSync(volume, user.uid, user.gid);
  } else {
    // As the image was before: a directory its user cannot write.
    if (user === undefined) chmodSync(volume, 0o555);
  }
  const imagePath = (file: string): string => {
    const copy = image.copies.find(({ to }) => file === to || file.startsWith(`${to}/`));
    if (copy !== undefined && file === copy.to && !copy.from.endsWith('/') && existsSync(path.join(repoRoot, copy.from)) && statSync(path.join(repoRoot, copy.from)).isFile()) {
      return path.join(repoRoot, copy.from);
    }
    if (file.startsWith(`${image.workdir}/`)) return path.join(repoRoot, file.slice(image.workdir.length + 1));
    if (file.startsWith('/var/lib/wsbit') || file.startsWith('/var/log')) return path.join(root, file);
    return file;
  };
  // The image's config, with its paths mapped the same way; its monitoring server on loopback, port 0.
  const configInImage = image.cmd[image.cmd.indexOf('-c') + 1] ?? '';
  const config = readFileSync(imagePath(configInImage), 'utf8')
    .replace(/\/var\/lib\/wsbit/g, volume)
    .replace(/\/var\/log/g, logs)
    .replace(/^(\s+HTTP_Listen\s+)0\.0\.0\.0$/m, '$1127.0.0.1')
    .replace(/^(\s+HTTP_Port\s+)2020$/m, '$10');
  const configFile = path.join(root, 'etc', 'wsbit', 'wsbit.conf');
  mkdirSync(path.dirname(configFile), { recursive: true });
  writeFileSync(configFile, config);
  // Files copied beside the config (the parsers file it names) go beside the mapped config too.
  for (const copy of image.copies) {
    if (copy.to !== configInImage && path.posix.dirname(copy.to) === path.posix.dirname(configInImage)) {
      copyFileSync(path.join(repoRoot, copy.from), path.join(path.dirname(configFile), path.posix.basename(copy.to)));
    }
  }
  const command = [...image.entrypoint, ...image.cmd].map((arg) => {
    if (arg === 'node') return process.execPath;
    if (arg === configInImage) return configFile;
    return imagePath(arg);
  });
  return { root, volume, logs, command };
}

test('the Dockerfile makes /var/lib/wsbit for its unprivileged user, declares it a volume, and documents a complete docker run', () => {
  const image = readImage();
  assert.notEqual(image.user, 'root');
  assert.notEqual(image.user, '0');
  assert.ok(image.volumes.includes('/var/lib/wsbit'), `VOLUME ${image.volumes.join(', ')}`);
  assert.ok(
    image.runs.some((run) => /mkdir -p \/var\/lib\/wsbit\b/.test(run) && run.includes(`chown ${image.user}:${image.user} /var/lib/wsbit`)),
    'a RUN creates /var/lib/wsbit owned by the USER',
  );
  const deployConfig = readFileSync(path.join(repoRoot, 'deploy', 'wsbit.conf'), 'utf8');
  assert.match(deployConfig, /^\s+storage\.path\s+(\$\{WSBIT_STATE_DIR:-)?\/var\/lib\/wsbit\}?\//m, 'the default config buffers in the volume');
  // The run line gives the volume, the log mount, the receiver and the monitoring port.
  const run = image.comment.replace(/\\\n#\s*/g, ' ');
  assert.match(run, /docker run .*-v [\w./-]+:\/var\/lib\/wsbit/);
  assert.match(run, /docker run .*-v \/var\/log:\/var\/log:ro/);
  assert.match(run, /docker run .*-e WSBIT_WS_HOST=\S+/);
  assert.match(run, /docker run .*-p 2020:2020/);
});

test("the image's default command starts as an unprivileged user, ships a log line, and stops cleanly", async (t) => {
  const image = readImage();
  const user = unprivilegedUser();
  const mapped = mapImage(image, user, true);
  const received: string[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ingest' });
  wss.on('connection', (ws) => ws.on('message', (data: Buffer) => received.push(data.toString())));
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const port = (wss.address() as { port: number }).port;
  // A container's log, named as the kubelet names it, exists when wsbit starts (Read_From_Head off:
  // it is followed from its end). Its lines are in the CRI format the config's multiline.parser reads.
  const logFile = path.join(mapped.logs, 'containers', `app-5d9f7_default_app-${'0123456789abcdef'.repeat(4)}.log`);
  const criLine = (text: string): string => `2026-12-03T22:00:00.000000000Z stdout F ${text}\n`;
  writeFileSync(logFile, criLine('written before the start, not shipped'));

  const agent: RunningAgent = spawnAgent([], {
    command: mapped.command,
    cwd: repoRoot,
    env: { ...image.env, WSBIT_WS_HOST: '127.0.0.1', WSBIT_WS_PORT: String(port) },
    ...(user === undefined ? {} : { user }),
  });
  t.after(() => agent.stop('SIGKILL').catch(() => undefined));
  const listening = /listen iface=127\.0\.0\.1 tcp_port=(\d+)/;
  await agent.waitForOutput(listening, 'the monitoring server', 20_000);
  await agent.waitForOutput(/\[input:tail:tail\.0\] following/, 'tail following the log', 20_000);
  const health = await fetch(`http://127.0.0.1:${Number(listening.exec(agent.stderr())?.[1])}/api/v1/health`);
  assert.equal(health.status, 200);

  const line = `from the image's command ${process.pid}`;
  appendFileSync(logFile, criLine(line));
  await waitFor(() => received.join('').includes(line), 'the log line at the receiver', 20_000);

  assert.doesNotMatch(received.join(''), /not shipped/);
  assert.equal(await agent.stop('SIGTERM'), 0, agent.stderr());
  assert.doesNotMatch(agent.stderr(), /\[error\]/);
  // The buffer and the offsets were written into the volume, as the image's user.
  const buffer = statSync(path.join(mapped.volume, 'buffer'));
  assert.ok(buffer.isDirectory());
  assert.equal(buffer.uid, user?.uid ?? process.getuid?.());
  assert.ok(existsSync(path.join(mapped.volume, 'tail.db')));
});

test('without the directory owned by its user, the same command fails with a clear EACCES (what the image did before)', async () => {
  const image = readImage();
  const user = unprivilegedUser();
  const mapped = mapImage(image, user, false);
  const agent = spawnAgent([], {
    command: mapped.command,
    cwd: repoRoot,
    env: { ...image.env, WSBIT_WS_HOST: '127.0.0.1' },
    ...(user === undefined ? {} : { user }),
  });
  assert.notEqual(await agent.waitForExit(20_000), 0);
  assert.match(agent.stderr(), new RegExp(`cannot create storage\\.path '${mapped.volume.replace(/[.]/g, '\\.')}/buffer': EACCES`));
});
