/** The `null` output's manifest and keys: what help and validation read without loading its code. */
import { defineOutputManifest } from '../../../pipeline/contracts.js';

export const nullManifest = defineOutputManifest({
  kind: 'output',
  name: 'null',
  description: 'Throws away events',
  schema: [],
});
