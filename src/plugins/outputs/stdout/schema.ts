/** The `stdout` output's manifest and keys: what help and validation read without loading its code. */
import { defineOutputManifest } from '../../../pipeline/contracts.js';
import { formatKeys } from '../format-keys.js';

export const stdoutManifest = defineOutputManifest({
  kind: 'output',
  name: 'stdout',
  description: 'Prints events to STDOUT',
  schema: formatKeys('msgpack'),
});
