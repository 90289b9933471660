import { defineOutputManifest } from '../../../pipeline/contracts.js';

export const nullManifest = defineOutputManifest({
  kind: 'output',
  name: 'null',
  description: 'Throws away events',
  schema: [],
});
