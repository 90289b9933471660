import { ConfigError } from '../../base/errors.js';
import { configMessage, ParseFailure } from '../../config/schema.js';
import { parseBool } from '../../config/units.js';
import { RegexTranslationError, translateOnigmo, type TranslatedRegex } from '../../regex/onigmo.js';
import { readStr } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineFilter, type FilterEmitter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { parseRecordAccessor, resolveAccessor, type RecordAccessor } from './record-accessor.js';
import { splitQuoted } from '../../config/words.js';
import { parseTagTemplate, renderTag, type TagPart } from './tag-template.js';

/**
 * The longest tag a rule may make. A tag can come from record values, and every distinct tag gets
 * chunks of its own, so a runaway value must not become one; Fluent Bit has no such limit.
 */
const maxTagBytes = 1024;

const BAD_TAG_TEXT = {
  unwritable: 'a key in the new tag holds an array or binary value',
  empty: 'the new tag is empty',
  long: `the new tag is longer than ${maxTagBytes} bytes`,
} as const;

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

/**
 * Fluent Bit's `rewrite_tag` filter (`plugins/filter_rewrite_tag`). A record that a rule matches is
 * emitted again, unchanged, under the new tag through the filter's own emitter input, so it is routed
 * by the new tag and passes the filters again; the original is kept only with KEEP true. The filter
 * never sees its emitter's records (as in Fluent Bit), so a rule whose new tag it matches again cannot
 * loop; the agent also limits how deeply two rewrite_tag filters can re-tag each other's output.
 */
export const rewriteTagFilter = defineFilter({
  kind: 'filter',
  name: 'rewrite_tag',
  description: 'Rewrite records tags',
  schema,
  create(context) {
    const { config, instance } = context;
    if (context.createEmitter === undefined) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: rewrite_tag needs an emitter input and runs only as a [FILTER], not as a processor`));
    }
    const rules = config.rule;
    if (rules.length === 0) context.logger.warn('no rules have been defined: records pass unchanged');
    const emitter: FilterEmitter = context.createEmitter({
      name: config.emitter_name ?? `emitter_for_${instance}`,
      memBufLimitBytes: config.emitter_mem_buf_limit,
      storageType: config['emitter_storage.type'],
    });
    const notEmitted = context.logger.repeating('warn');
    const badTag = {
      unwritable: context.logger.repeating('warn'),
      empty: context.logger.repeating('warn'),
      long: context.logger.repeating('warn'),
    };
    const rewriter = new EventRewriter();

    return {
      filter(events, records, tag) {
        if (rules.length === 0) {
          countFilterRecords(context.telemetry, records, records);
          return { events, records };
        }
        const ready = emitter.ready();
        const batches = new Map<string, { writer: MsgpackWriter; records: number }>();
        const out = rewriter.rewrite(events, records, (buf, event) => {
          for (const rule of rules) {
            const range = resolveAccessor(buf, event.bodyStart, event.bodyEnd, rule.accessor);
            const subject = range === null ? null : readStr(buf, range.start, range.end);
            if (subject === null) continue;
            const match = rule.regex.exec(subject);
            if (match === null) continue;
            const captures = [match[0], ...rule.groups.map((name) => match.groups?.[name])];
            const newTag = renderTag(rule.tag, {
              tag,
              captures,
              buf,
              lookup: (accessor) => resolveAccessor(buf, event.bodyStart, event.bodyEnd, accessor),
            });
            const problem = newTag === null ? 'unwritable' : newTag === '' ? 'empty' : Buffer.byteLength(newTag) > maxTagBytes ? 'long' : null;
            if (newTag === null || problem !== null) {
              const reason = problem ?? 'unwritable';
              badTag[reason].log(`rule '${rule.text}': ${BAD_TAG_TEXT[reason]}; the record keeps tag '${tag}'`);
              return 'keep';
            }
            if (!ready) {
              notEmitted.log(`emitter ${emitter.instance} is paused (emitter_mem_buf_limit reached) or nested too deep; records keep their tag '${tag}' instead of '${newTag}'`);
              return 'keep';
            }
            let batch = batches.get(newTag);
            if (batch === undefined) {
              batch = { writer: new MsgpackWriter(Math.max(256, event.end - event.start)), records: 0 };
              batches.set(newTag, batch);
            }
            batch.writer.raw(buf, event.start, event.end);
            batch.records++;
            return rule.keep ? 'keep' : 'drop';
          }
          return 'keep';
        });
        countFilterRecords(context.telemetry, records, out.records);
        for (const [newTag, batch] of batches) emitter.emit(batch.writer.view(), batch.records, newTag);
        return out;
      },
    };
  },
});
