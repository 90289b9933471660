import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The README's performance figures come from the bench, not from hand copies: a benchmark prints its
 * summary as a markdown block, and with WSBIT_BENCH_README=1 also writes it into README.md between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, with the command line and the machine
 * that made it, so a reader can tell a quick run from a full one and rerun it.
 */
const README = path.join(process.cwd(), 'README.md');
/** The load before the first run, for the facts line: the machine is shared, and it shows in the figures. */
const loadAtStart = os.loadavg()[0] ?? 0;
/** Settings that do not change a figure, so they stay out of the command line. */
const NOT_SETTINGS = new Set(['WSBIT_BENCH_README', 'WSBIT_BENCH_COMMAND']);

/** The settings (FLUENT_BIT and every WSBIT_*) and the command this process runs under. */
export function benchCommand(): string {
  const settings = Object.entries(process.env)
    .filter(([key, value]) => value !== undefined && value !== '' && (key === 'FLUENT_BIT' || key.startsWith('WSBIT_')) && !NOT_SETTINGS.has(key))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${/^[\w./,:=+-]*$/.test(value as string) ? value : `'${value}'`}`);
  // run.ts says how it was asked; a script run on its own is its own command.
  const command = process.env['WSBIT_BENCH_COMMAND'] ?? `node ${path.relative(process.cwd(), process.argv[1] ?? '')}`;
  return [...settings, command].join(' ');
}

function commit(): string | null {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return null;
  // README.md itself is left out: an earlier benchmark of the same run may just have written its block.
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!README.md'], { encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' with uncommitted changes'}`;
}

/** "Made with `command` on <date, commit, machine, load>", then the caller's own facts. */
export function provenance(facts: string[]): string {
  const cpus = os.cpus();
  const revision = commit();
  const machine = [
    new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    ...(revision === null ? [] : [`wsbit at ${revision}`]),
    `${cpus.length} × ${(cpus[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim()}`,
    `${Math.round(os.totalmem() / 2 ** 30)} GB RAM`,
    `${os.type()} ${os.release()}`,
    `Node ${process.version}`,
  ];
  const load = `load average ${loadAtStart.toFixed(1)} at the start and ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end`;
  return ['Made with', '', '```', benchCommand(), '```', '', `on ${[...machine, ...facts, load].join('; ')}.`].join('\n');
}

/** Prints the block and, with WSBIT_BENCH_README=1, puts it into README.md between its markers. */
export function publish(name: string, body: string): void {
  const block = `<!-- Written by \`npm run bench\` with WSBIT_BENCH_README=1 (bench/lib/readme.ts): edit the bench, not this block. -->\n${body}`;
  console.log(`\nREADME block bench:${name} (WSBIT_BENCH_README=1 writes it into README.md):\n\n${block}`);
  if (process.env['WSBIT_BENCH_README'] !== '1') return;
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const text = readFileSync(README, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${README} has no ${start} … ${end} block to write into; add the two markers where the figures belong`);
  writeFileSync(README, `${text.slice(0, from + start.length)}\n${block}\n${text.slice(to)}`);
  console.log(`\nWrote bench:${name} into ${README}.`);
}
