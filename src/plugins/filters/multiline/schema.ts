import { multilineParserKey } from '../../../multiline/builtins.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';
import { noEffectKey } from '../../../config/inert-keys.js';

/** The keys of the multiline filter (Fluent Bit's `filter_multiline`), in the order `-h` and the README show them. */
export const multilineFilterSchema = [
  multilineParserKey,
  { key: 'multiline.key_content', type: 'string', default: null, description: 'Key holding the text to join (e.g. log); overrides the parsers\' own key_content. Required with mode partial_message.' },
  {
    key: 'mode',
    type: 'enum',
    values: ['parser', 'partial_message'],
    default: 'parser',
    description: 'parser: join lines with multiline.parser. partial_message: join the pieces of a line that a log driver split (partial_message, partial_id, partial_last keys).',
  },
  {
    key: 'buffer',
    type: 'bool',
    default: true,
    description: 'Keep open groups across emits and release them when complete or after flush_ms, so records that arrive one at a time (forward, tcp) are joined. Off: groups are joined within one emit only.',
  },
  { key: 'flush_ms', type: 'int', default: 2000, description: 'Milliseconds an open group waits for its next line before it is emitted as it is (at least 500).' },
  noEffectKey('emitter_name', 'string', 'Name of the emitter input that re-emits joined records.', 'wsbit passes joined records straight to the filters after this one, without an emitter input'),
  noEffectKey('emitter_storage.type', 'string', "Storage of the emitter's chunks.", 'joined records are buffered as records of the input they came from'),
  noEffectKey('emitter_mem_buf_limit', 'size', "Mem_Buf_Limit of the emitter.", 'joined records count against the Mem_Buf_Limit of the input they came from'),
  noEffectKey('debug_flush', 'bool', 'Print each joined group to stdout.', 'wsbit prints no debug copy of joined groups'),
] as const;

export const multilineManifest = defineFilterManifest({
  kind: 'filter',
  name: 'multiline',
  description: 'Concatenate multiline messages',
  schema: multilineFilterSchema,
});
