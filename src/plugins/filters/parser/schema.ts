/** The `parser` filter's manifest and keys: what help and validation read without loading its code. */
import { defineFilterManifest } from '../../../pipeline/contracts.js';
import { noEffectKey } from '../../../config/inert-keys.js';

const schema = [
  { key: 'Key_Name', type: 'string', default: null, description: 'Key whose string value is parsed; a value starting with $ is a record accessor such as $kubernetes[\'annotations\'][\'log\'].' },
  { key: 'Parser', type: 'string', multiple: true, description: 'Name of a parser (from Parsers_File) to try; with several, each is tried in order until one parses the value.' },
  { key: 'Preserve_Key', type: 'bool', default: false, description: 'Keep the Key_Name field in the parsed record (after the parsed fields).' },
  { key: 'Reserve_Data', type: 'bool', default: false, description: 'Keep the record\'s other fields after the parsed ones; otherwise the record is only what the parser made of the value.' },
  noEffectKey('Unescape_key', 'string', 'Deprecated.', 'Fluent Bit ignores it too'),
] as const;

export const parserManifest = defineFilterManifest({
  kind: 'filter',
  name: 'parser',
  description: 'Parse events',
  schema,
});
