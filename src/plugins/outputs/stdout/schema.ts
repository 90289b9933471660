import { defineOutputManifest } from '../../../pipeline/contracts.js';
import { formatKeys } from '../format-keys.js';

export const stdoutManifest = defineOutputManifest({
  kind: 'output',
  name: 'stdout',
  description: 'Prints events to STDOUT',
  schema: formatKeys('msgpack'),
});
