/** The `record_modifier` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { splitKeyValue } from '../../../config/words.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

const schema = [
  {
    key: 'record',
    type: 'string',
    multiple: true,
    parse: (raw: string) => {
      const pair = splitKeyValue(raw);
      return pair === null ? new ParseFailure(`KEY VALUE, e.g. 'hostname \${HOSTNAME}'; a value of several words in double quotes, e.g. 'note "two words"'`) : { key: pair[0], value: pair[1] };
    },
    description: 'KEY VALUE: append the string VALUE as KEY to every record (even if KEY is already there).',
  },
  {
    key: 'remove_key',
    type: 'string',
    multiple: true,
    description: 'Remove this key (compared ignoring ASCII case; a trailing * matches any key that starts with the rest).',
  },
  {
    key: 'allowlist_key',
    type: 'string',
    multiple: true,
    description: 'Keep only the keys given by allowlist_key (compared like remove_key); cannot be mixed with remove_key.',
  },
  { key: 'whitelist_key', type: 'string', multiple: true, description: 'Alias of allowlist_key.' },
  { key: 'uuid_key', type: 'string', default: null, description: 'Append a random UUID v4 string under this key to every record.' },
] as const;

export const recordModifierManifest = defineFilterManifest({
  kind: 'filter',
  name: 'record_modifier',
  description: 'Modify records: append, remove or allowlist keys',
  schema,
});
