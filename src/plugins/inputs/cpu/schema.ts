/** The `cpu` input's manifest and keys: what help and validation read without loading its code. */
import { defineInputManifest } from '../../../pipeline/contracts.js';

const schema = [
  { key: 'interval_sec', type: 'int', default: 1, description: 'Seconds between samples.' },
  { key: 'interval_nsec', type: 'int', default: 0, description: 'Nanoseconds added to interval_sec.' },
  { key: 'proc_stat_path', type: 'string', default: '/proc/stat', description: 'Where to read kernel CPU counters (for tests and containers).' },
  { key: 'pid', type: 'int', default: -1, description: "Measure this process only (from /proc/PID/stat): cpu_p, user_p and system_p as shares of the whole machine; -1: the machine, per core too." },
] as const;

export const cpuManifest = defineInputManifest({
  kind: 'input',
  name: 'cpu',
  description: 'CPU Usage',
  schema,
});
