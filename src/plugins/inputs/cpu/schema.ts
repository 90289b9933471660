/** The `cpu` input's manifest and keys: what help and validation read without loading its code. */
import { defineInputManifest } from '../../../pipeline/contracts.js';

const schema = [
  { key: 'interval_sec', type: 'int', default: 1, description: 'Seconds between samples.' },
  { key: 'interval_nsec', type: 'int', default: 0, description: 'Nanoseconds added to interval_sec.' },
  { key: 'proc_stat_path', type: 'string', default: '/proc/stat', description: 'Where to read kernel CPU counters (for tests and containers).' },
] as const;

export const cpuManifest = defineInputManifest({
  kind: 'input',
  name: 'cpu',
  description: 'CPU Usage',
  schema,
});
