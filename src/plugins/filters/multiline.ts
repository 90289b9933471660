import { configMessage } from '../../config/schema.js';
import { ConfigError } from '../../base/errors.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { MultilineFilter } from './multiline/filter.js';
import { multilineFilterOptions } from './multiline/options.js';
import { multilineManifest } from './multiline/schema.js';

/**
 * Fluent Bit's `multiline` filter (`plugins/filter_multiline`): joins the records of one input and tag
 * whose key_content holds consecutive lines of one message (a stack trace, a split container line).
 * Joined records go on down the filter chain; with buffer on, a group completed by a timer or open at
 * shutdown is handed over through the filter context's `emit`, so none is lost.
 */
export const multilineFilter = defineFilter({
  ...multilineManifest,
  create(context) {
    const emitLater = context.emit;
    if (emitLater === undefined) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${context.instance}: multiline holds records back and releases them later, so it runs as a [FILTER] or an input's processor, not as an output's processor`));
    }
    return new MultilineFilter(multilineFilterOptions(context.config, context.instance, context.parsers), context, emitLater);
  },
});
