/** The `cpu` input's manifest and keys: what help and validation read without loading its code. */
import { defineInputManifest } from '../../../pipeline/contracts.js';
import { onlyDefaultKey } from '../../../config/inert-keys.js';

const schema = [
  { key: 'interval_sec', type: 'int', default: 1, description: 'Seconds between samples.' },
  { key: 'interval_nsec', type: 'int', default: 0, description: 'Nanoseconds added to interval_sec.' },
  { key: 'proc_stat_path', type: 'string', default: '/proc/stat', description: 'Where to read kernel CPU counters (for tests and containers).' },
  onlyDefaultKey('pid', 'int', -1, 'Measure the CPU use of this process only.', 'not supported yet; wsbit measures the whole machine'),
] as const;

export const cpuManifest = defineInputManifest({
  kind: 'input',
  name: 'cpu',
  description: 'CPU Usage',
  schema,
});
