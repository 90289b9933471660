/** The `stdin` input's manifest and keys: what help and validation read without loading its code. */
import { defineInputManifest } from '../../../pipeline/contracts.js';

const schema = [
  { key: 'buffer_size', type: 'size', default: '16000', description: 'Largest pending message, in bytes; a longer one is discarded with a warning.' },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) applied to each line instead of reading JSON. Lines it cannot parse are logged and dropped.' },
] as const;

export const stdinManifest = defineInputManifest({
  kind: 'input',
  name: 'stdin',
  description: 'Standard Input',
  schema,
});
