import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { binPath } from './paths.js';
import { waitFor } from './wait.js';

export interface RunningAgent {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  waitForOutput(pattern: RegExp | string, what?: string, timeoutMs?: number): Promise<void>;
  waitForExit(timeoutMs?: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  cwd?: string;
  /**
   * Run this command line instead of `node bin/wsbit ARGS` (e.g. `npm start`), in a process group of
   * its own that `stop` signals as a whole, as a terminal's Ctrl-C does: npm does not pass SIGTERM
   * on to the script it runs.
   */
  command?: string[];
  /** Run as this user and group (the caller must be root), e.g. to run as a container image's user. */
  user?: { uid: number; gid: number };
}

/** Spawns bin/wsbit as a user would, collecting its output. */
export function spawnAgent(args: string[], options: SpawnOptions = {}): RunningAgent {
  const [program, ...programArgs] = options.command ?? [process.execPath, binPath, ...args];
  const child = spawn(program ?? process.execPath, programArgs, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    detached: options.command !== undefined,
    ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
  });
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  child.stdout.on('data', (data: Buffer) => (out += data.toString()));
  child.stderr.on('data', (data: Buffer) => (err += data.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  const waitForExit = async (timeoutMs = 15_000): Promise<number | null> => {
    await waitFor(() => exitCode !== undefined, `wsbit ${args.join(' ')} to exit\nstderr:\n${err}`, timeoutMs);
    return exited;
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput: (pattern, what, timeoutMs = 15_000) =>
      waitFor(
        () => (typeof pattern === 'string' ? (out + err).includes(pattern) : pattern.test(out + err)),
        `${what ?? String(pattern)}\nstdout:\n${out}\nstderr:\n${err}`,
        timeoutMs,
      ),
    waitForExit,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode === undefined) {
        if (options.command !== undefined && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      }
      return waitForExit();
    },
  };
}
