/** The `rewrite_tag` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { parseBool } from '../../../config/units.js';
import { RegexTranslationError, translateOnigmo, type TranslatedRegex } from '../../../regex/onigmo.js';
import { parseRecordAccessor, type RecordAccessor } from '../record-accessor.js';
import { splitQuoted } from '../../../config/words.js';
import { parseTagTemplate, type TagPart } from '../tag-template.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

interface RewriteRule {
  text: string;
  accessor: RecordAccessor;
  regex: RegExp;
  /** JS group names of Onigmo's groups 1..n (`translateOnigmo` renames them). */
  groups: string[];
  tag: TagPart[];
  keep: boolean;
}

/** Onigmo's group numbering: with named groups only they capture, else every plain group does (`cN`). */
function captureGroups(translated: TranslatedRegex): string[] {
  if (translated.names.length > 0) return translated.names.map((entry) => entry.group);
  const count = translated.regex.source.match(/\(\?<c\d+>/g)?.length ?? 0;
  return Array.from({ length: count }, (_, i) => `c${i + 1}`);
}

/** `$KEY REGEX NEW_TAG KEEP`, four words (a word with spaces is quoted), as Fluent Bit's `SLIST_4` reads it. */
function parseRule(raw: string): RewriteRule | ParseFailure {
  const words = splitQuoted(raw.trim(), 0);
  if (words === null || words.length !== 4) {
    return new ParseFailure("$KEY REGEX NEW_TAG KEEP, e.g. '$level ^(error)$ alert.$1.$TAG false' (quote a word that contains spaces)");
  }
  const [key = '', pattern = '', tag = '', keepText = ''] = words;
  // Fluent Bit reads a KEY without '$' as plain text, which never matches; refuse it instead.
  const accessor = key.startsWith('$') ? parseRecordAccessor(key) : null;
  if (accessor === null) return new ParseFailure(`a KEY such as $log or $kubernetes['labels']['app'], not '${key}'`);
  let translated: TranslatedRegex;
  try {
    translated = translateOnigmo(pattern);
  } catch (error) {
    if (!(error instanceof RegexTranslationError)) throw error;
    return new ParseFailure(`a regular expression wsbit can run; '${pattern}': ${error.message}`);
  }
  const parts = parseTagTemplate(tag);
  if (!Array.isArray(parts)) return new ParseFailure(`a NEW_TAG whose keys are record accessors; '${parts.badKey}' is not one`);
  const keep = parseBool(keepText);
  if (keep === undefined) return new ParseFailure(`KEEP as true or false, not '${keepText}'`);
  return { text: raw, accessor, regex: translated.regex, groups: captureGroups(translated), tag: parts, keep };
}

const schema = [
  {
    key: 'rule',
    type: 'string',
    multiple: true,
    parse: parseRule,
    description:
      "$KEY REGEX NEW_TAG KEEP: when the string at $KEY matches REGEX, emit the record again with NEW_TAG, which may use $TAG, $TAG[n] " +
      "(the nth dot-separated part), $0..$9 (the match and its groups) and record keys ($key['sub']). KEEP true keeps the original " +
      'record too. The first rule that matches wins. A record whose new tag would be empty or longer than 1024 bytes keeps its tag.',
  },
  { key: 'emitter_name', type: 'string', default: null, description: 'Name of the input instance that emits the re-tagged records (default emitter_for_<filter instance>).' },
  { key: 'emitter_storage.type', type: 'enum', values: ['memory', 'filesystem'], default: 'memory', description: 'Where the emitter buffers its records.' },
  {
    key: 'emitter_mem_buf_limit',
    type: 'size',
    default: '10M',
    description: 'Memory limit of the emitter; while it is reached, matching records keep their old tag (with a warning).',
  },
] as const;

export const rewriteTagManifest = defineFilterManifest({
  kind: 'filter',
  name: 'rewrite_tag',
  description: 'Rewrite records tags',
  schema,
});
