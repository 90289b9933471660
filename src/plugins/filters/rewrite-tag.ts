import { ConfigError } from '../../base/errors.js';
import { configMessage } from '../../config/schema.js';
import { readStr } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineFilter, type FilterEmitter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { resolveAccessor } from './record-accessor.js';
import { renderTag } from './tag-template.js';
import { rewriteTagManifest } from './rewrite-tag/schema.js';

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

/**
 * Fluent Bit's `rewrite_tag` filter (`plugins/filter_rewrite_tag`). A record that a rule matches is
 * emitted again, unchanged, under the new tag through the filter's own emitter input, so it is routed
 * by the new tag and passes the filters again; the original is kept only with KEEP true. The filter
 * never sees its emitter's records (as in Fluent Bit), so a rule whose new tag it matches again cannot
 * loop; the agent also limits how deeply two rewrite_tag filters can re-tag each other's output.
 */
export const rewriteTagFilter = defineFilter({
  ...rewriteTagManifest,
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
