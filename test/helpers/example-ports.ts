/**
 * The examples (conf/ and the README's commands) listen and send on fixed ports: 8090, 5170, 8080…
 * A test that ran them as written would fail beside a running `npm start` or anything else on those
 * ports, and two such tests could not run at once. The tests run them on free ports instead: the
 * same text with each example port replaced by one that is free now.
 */
import { accessSync, constants, cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { confDir, repoRoot } from './paths.js';
import { freePorts } from './ports.js';
import { tempDir } from './temp.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/**
 * Every port an example names: the value of each `Port`/`port:` key in conf/ (classic and YAML), and
 * each `127.0.0.1:PORT` or `127.0.0.1 PORT` in `commands` (the README's command lines).
 */
export function examplePortsIn(commands: readonly string[]): number[] {
  const ports = new Set<number>();
  for (const file of filesUnder(confDir)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(?:-\s+)?port:?\s+(\d+)\s*$/gim)) ports.add(Number(match[1]));
  }
  for (const command of commands) {
    for (const match of command.matchAll(/\b127\.0\.0\.1[: ](\d+)\b/g)) ports.add(Number(match[1]));
  }
  return [...ports].sort((a, b) => a - b);
}

/** The examples' ports, each mapped to its own free port for one test. */
export class ExamplePorts {
  private constructor(private readonly map: ReadonlyMap<number, number>) {}

  static async allocate(examplePorts: readonly number[]): Promise<ExamplePorts> {
    const free = await freePorts(examplePorts.length);
    return new ExamplePorts(new Map(examplePorts.map((port, i) => [port, free[i] as number])));
  }

  /** The free port that stands in for the example's `examplePort`. */
  of(examplePort: number): number {
    const port = this.map.get(examplePort);
    if (port === undefined) throw new Error(`${examplePort} is not a port of the examples (${[...this.map.keys()].join(', ')})`);
    return port;
  }

  /** `text` with every example port (as a whole number) replaced by its free port. */
  rewrite(text: string): string {
    const pattern = new RegExp(`\\b(${[...this.map.keys()].join('|')})\\b`, 'g');
    return text.replace(pattern, (port) => String(this.of(Number(port))));
  }
}

/**
 * A temp dir laid out like the checkout for the examples' command lines (`./bin/wsbit -c conf/…`,
 * `npm start`): conf/ copied with its ports rewritten, bin/ linked to this checkout's (so it runs
 * this build), and package.json for `npm start`.
 */
export function exampleCheckout(ports: ExamplePorts): string {
  const dir = tempDir('wsbit-examples-');
  const conf = path.join(dir, 'conf');
  mkdirSync(conf);
  cpSync(confDir, conf, { recursive: true });
  for (const file of filesUnder(conf)) writeFileSync(file, ports.rewrite(readFileSync(file, 'utf8')));
  symlinkSync(path.join(repoRoot, 'bin'), path.join(dir, 'bin'));
  cpSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
  return dir;
}

/** Whether `name` is an executable on PATH. */
export function onPath(name: string, pathVariable = process.env['PATH'] ?? ''): boolean {
  return pathVariable.split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
