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

/** Spawns bin/wsbit as a user would, collecting its output. */
export function spawnAgent(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string; cwd?: string } = {}): RunningAgent {
  const child = spawn(process.execPath, [binPath, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
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
      if (exitCode === undefined) child.kill(signal);
      return waitForExit();
    },
  };
}
