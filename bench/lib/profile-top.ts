import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The functions with the most self time in a V8 CPU profile (`node --cpu-prof`), for reading a
 * benchmark's profile without DevTools:
 *
 *   WSBIT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" WSBIT_BENCH_RUNS=1 \
 *     WSBIT_BENCH_SCENARIOS=tcp-json_lines WSBIT_BENCH_SIZES=100 node dist/bench/websocket.js
 *   node dist/bench/lib/profile-top.js /tmp/prof/*.cpuprofile [N]
 *
 * Samples of one function at one place in one file are added up; times are in ms. "mostly called
 * from" is the caller that accounts for most of that self time, skipping Node's own frames (so a
 * Buffer copy is charged to the code that asked for it).
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(frame: CallFrame): string {
  if (frame.url === '') return '';
  const file = frame.url.replace(/^file:\/\//, '');
  const shown = file.includes('/dist/') ? file.slice(file.indexOf('/dist/') + 6) : file.startsWith('node:') ? file : path.basename(file);
  return `${shown}:${frame.lineNumber + 1}`;
}

function label(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'}\t${where(frame)}`;
}

function top(file: string, count: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const selfUs = new Map<string, number>();
  const callersUs = new Map<string, Map<string, number>>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    if (frame === undefined) return;
    const key = label(frame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    // The first caller outside Node's own code: `_copyActual` is mostly interesting for who copies.
    let parentId = parents.get(id);
    let parentFrame = frames.get(parentId ?? -1);
    while (parentFrame !== undefined && parentFrame.url.startsWith('node:') && parentId !== undefined) {
      parentId = parents.get(parentId);
      parentFrame = frames.get(parentId ?? -1);
    }
    if (parentFrame === undefined) return;
    const callers = callersUs.get(key) ?? new Map<string, number>();
    const caller = label(parentFrame).replace('\t', ' ');
    callers.set(caller, (callers.get(caller) ?? 0) + delta);
    callersUs.set(key, callers);
  });
  console.log(`\n${file}: ${(totalUs / 1000).toFixed(0)} ms sampled\n`);
  console.log('| self ms | self % | function | where | mostly called from |');
  console.log('|---|---|---|---|---|');
  for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    const [name, place] = key.split('\t');
    const caller = [...(callersUs.get(key) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    console.log(`| ${(us / 1000).toFixed(0)} | ${((us / totalUs) * 100).toFixed(1)} | ${name ?? ''} | ${place ?? ''} | ${caller.trim()} |`);
  }
}

const args = process.argv.slice(2);
const count = args.length > 1 && /^\d+$/.test(args[args.length - 1] ?? '') ? Number(args.pop()) : 15;
for (const file of args) top(file, count);
