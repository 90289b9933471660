/**
 * The Docker image runs as shipped. Docker itself cannot run here, so the image's default command
 * (ENTRYPOINT + CMD) runs as an unprivileged user, as the image's USER does, in a temp dir laid out
 * as the image's files: its WORKDIR holds what the final stage's COPY lines and `npm ci --omit=dev`
 * put there (this checkout's files and build, its production dependencies), /etc/wsbit holds the
 * deploy/ configs, /var/lib/wsbit is the volume the Dockerfile creates for its user, /var/log is the
 * host's logs. Under root the command runs as `nobody`; under any other user it already runs
 * unprivileged. The copies let `nobody` run it from a checkout only its owner can read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, cpSync, chownSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  /** Image path → checkout path, from the final stage's COPY lines (a build stage's output is in this checkout's build). */
  copies: Array<{ from: string; to: string }>;
  comment: string;
}

/** The final stage of the Dockerfile, as the image sees it. */
function readImage(): Image {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const lines = text.split('\n');
  const comment = lines.filter((line) => line.startsWith('#')).join('\n');
  const stages = text.split(/^FROM /m).slice(1);
  // A build stage's WORKDIR is where it stands for the checkout: `COPY --from=build /src/dist/bundle` is dist/bundle here.
  const stageWorkdirs = new Map(
    stages.map((stage) => [/^\S+\s+AS\s+(\S+)/i.exec(stage)?.[1] ?? '', /^WORKDIR\s+(\S+)/m.exec(stage)?.[1] ?? '/'] as const),
  );
  const final = (stages[stages.length - 1] ?? '').split('\n').slice(1).filter((line) => line.trim() !== '' && !line.startsWith('#'));
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
    } else if (instruction === 'COPY') {
      const stage = /^--from=(\S+)$/.exec(rest[0] ?? '')?.[1];
      const operands = stage === undefined ? rest : rest.slice(1);
      // COPY SRC... DEST: with several sources, DEST is a directory that takes each by its name.
      const sources = operands.slice(0, -1);
      const to = path.posix.resolve(image.workdir, operands[operands.length - 1] ?? '');
      for (const source of sources) {
        const stageWorkdir = stage === undefined ? undefined : stageWorkdirs.get(stage);
        assert.ok(stage === undefined || stageWorkdir !== undefined, `COPY --from=${stage ?? ''}: no such stage`);
        const from = stageWorkdir === undefined ? source : path.posix.relative(stageWorkdir, source);
        image.copies.push({ from, to: sources.length > 1 ? path.posix.join(to, path.posix.basename(source)) : to });
      }
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

/** Whether other users may pass through `dir` and every directory above it. */
function searchableByOthers(dir: string): boolean {
  for (let current = realpathSync(dir); ; current = path.dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

/**
 * The temp dir that stands for the image's `/`. Another user must reach it: the test runner's own
 * temp dir or a user's TMPDIR may be private (0700), so it then goes in /tmp, and is removed all the same.
 */
function imageRoot(user: { uid: number; gid: number } | undefined): string {
  if (user === undefined) return tempDir('wsbit-image-');
  const parent = [tmpdir(), '/tmp'].find(searchableByOthers);
  assert.ok(parent !== undefined, `neither ${tmpdir()} nor /tmp can be reached by uid ${user.uid}`);
  const root = tempDir('wsbit-image-', parent);
  // mkdtemp makes it private; the unprivileged user must reach what is below.
  chmodSync(root, 0o755);
  return root;
}

/** The packages `npm ci --omit=dev` installs: package.json's dependencies and theirs, as installed here. */
function productionPackages(): string[] {
  const manifest = (dir: string): { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> } =>
    JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  const found = new Set<string>();
  const queue = Object.keys(manifest(repoRoot).dependencies ?? {});
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const dir = path.join(repoRoot, 'node_modules', name);
    if (found.has(name)) continue;
    // An optional dependency that is not installed here is not in the image's lock either.
    if (!existsSync(dir)) continue;
    found.add(name);
    const { dependencies = {}, optionalDependencies = {} } = manifest(dir);
    queue.push(...Object.keys(dependencies), ...Object.keys(optionalDependencies));
  }
  return [...found];
}

interface Mapped {
  root: string;
  /** Where the image's WORKDIR is, the command's working directory. */
  workdir: string;
  volume: string;
  logs: string;
  command: string[];
}

/** Lays out the image's files under a temp dir and returns its default command with paths mapped. */
function mapImage(image: Image, user: { uid: number; gid: number } | undefined, volumeOwned: boolean): Mapped {
  const root = imageRoot(user);
  const inRoot = (file: string): string => path.join(root, file);
  const volume = inRoot('/var/lib/wsbit');
  const logs = inRoot('/var/log');
  mkdirSync(path.join(logs, 'containers'), { recursive: true });
  // The Dockerfile's RUN: the volume directory, owned by the image's user.
  mkdirSync(volume, { recursive: true });
  if (volumeOwned) {
    if (user !== undefined) chownSync(volume, user.uid, user.gid);
  } else {
    // As the image was before: a directory its user cannot write.
    if (user === undefined) chmodSync(volume, 0o555);
  }
  // The final stage: `npm ci --omit=dev` in the WORKDIR, then the COPY lines.
  const workdir = inRoot(image.workdir);
  assert.ok(image.runs.some((run) => /\bnpm ci --omit=dev\b/.test(run)), 'the image installs its production dependencies with npm ci --omit=dev');
  for (const name of productionPackages()) cpSync(path.join(repoRoot, 'node_modules', name), path.join(workdir, 'node_modules', name), { recursive: true, dereference: true });
  for (const { from, to } of image.copies) {
    assert.ok(existsSync(path.join(repoRoot, from)), `COPY ${from}: not in this checkout (npm run build makes dist/)`);
    cpSync(path.join(repoRoot, from), inRoot(to), { recursive: true, dereference: true });
  }
  // The image's config, with its paths mapped the same way; its monitoring server on loopback, port 0.
  const configInImage = image.cmd[image.cmd.indexOf('-c') + 1] ?? '';
  const configFile = inRoot(configInImage);
  const config = readFileSync(configFile, 'utf8');
  const httpPort = /^(\s+HTTP_Port\s+)\S+$/m;
  assert.match(config, httpPort, `${configInImage} sets HTTP_Port`);
  writeFileSync(
    configFile,
    config
      .replace(/\/var\/lib\/wsbit/g, volume)
      .replace(/\/var\/log/g, logs)
      .replace(/^(\s+HTTP_Listen\s+)0\.0\.0\.0$/m, '$1127.0.0.1')
      .replace(httpPort, '$10'),
  );
  const command = [...image.entrypoint, ...image.cmd].map((arg) => {
    if (arg === 'node') return process.execPath;
    return arg.startsWith('/') && existsSync(inRoot(arg)) ? inRoot(arg) : arg;
  });
  return { root, workdir, volume, logs, command };
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
    cwd: mapped.workdir,
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
    cwd: mapped.workdir,
    env: { ...image.env, WSBIT_WS_HOST: '127.0.0.1' },
    ...(user === undefined ? {} : { user }),
  });
  assert.notEqual(await agent.waitForExit(20_000), 0);
  assert.match(agent.stderr(), new RegExp(`cannot create storage\\.path '${mapped.volume.replace(/[.]/g, '\\.')}/buffer': EACCES`));
});
