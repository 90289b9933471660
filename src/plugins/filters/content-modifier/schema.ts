/** The `content_modifier` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { RegexTranslationError, translateOnigmo, type TranslatedRegex } from '../../../regex/onigmo.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

export const ACTIONS = ['insert', 'upsert', 'delete', 'rename', 'hash', 'extract', 'convert'] as const;
export type Action = (typeof ACTIONS)[number];
const CONVERTED_TYPES = ['string', 'int', 'double', 'boolean'] as const;
export type ConvertedType = (typeof CONVERTED_TYPES)[number];

const schema = [
  { key: 'action', type: 'enum', values: ACTIONS, default: null, description: 'What to do with the key: insert, upsert, delete, rename, hash, extract or convert.' },
  { key: 'key', type: 'string', default: null, description: 'The key of the record body to act on (compared exactly).' },
  { key: 'value', type: 'string', default: null, description: 'The value insert and upsert write, or the new name rename gives the key.' },
  {
    key: 'pattern',
    type: 'string',
    default: null,
    parse: (raw: string): TranslatedRegex | ParseFailure => {
      try {
        return translateOnigmo(raw);
      } catch (error) {
        if (!(error instanceof RegexTranslationError)) throw error;
        return new ParseFailure(`a regular expression wsbit can run; '${raw}': ${error.message}`);
      }
    },
    description: 'extract: a regular expression whose named groups (?<name>...) become keys.',
  },
  { key: 'converted_type', type: 'enum', values: CONVERTED_TYPES, default: null, description: 'convert: the type the value becomes: string, int, double or boolean.' },
  {
    key: 'context',
    type: 'enum',
    values: ['body'],
    default: 'body',
    description: "What part of a log to change. wsbit supports body only (Fluent Bit also has metadata and OpenTelemetry's attributes).",
  },
] as const;

export const contentModifierManifest = defineFilterManifest({
  kind: 'filter',
  name: 'content_modifier',
  description: 'Insert, upsert, delete, rename, hash, extract or convert a key of each record (a processor in Fluent Bit)',
  schema,
});
