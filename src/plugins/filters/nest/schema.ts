/** The `nest` filter's manifest and keys: what help and validation read without loading its code. */
import { defineFilterManifest } from '../../../pipeline/contracts.js';

const schema = [
  { key: 'Operation', type: 'enum', values: ['nest', 'lift'], default: null, description: 'nest: move the keys that match Wildcard into a map under Nest_under; lift: move the keys of the map under Nested_under up to the top level.' },
  { key: 'Wildcard', type: 'string', multiple: true, description: "nest: a key to move, or a prefix ending in '*' (k8s_* moves every key that starts with k8s_)." },
  { key: 'Nest_under', type: 'string', default: null, description: 'nest: the key of the new map.' },
  { key: 'Nested_under', type: 'string', default: null, description: 'lift: the key whose map is lifted (a value that is not a map is left alone).' },
  { key: 'Add_prefix', type: 'string', default: null, description: 'Put this string before each key that is nested or lifted.' },
  { key: 'Remove_prefix', type: 'string', default: null, description: 'Remove this string from the start of each key that is nested or lifted, where it starts with it.' },
] as const;

export const nestManifest = defineFilterManifest({
  kind: 'filter',
  name: 'nest',
  description: 'Nest events by specified field values',
  schema,
});
