import { defineInput } from '../../pipeline/contracts.js';
import { tailInputOptions } from './tail/options.js';
import { tailManifest } from './tail/schema.js';
import { TailWatcher } from './tail/watcher.js';

/**
 * Fluent Bit's `tail` input: follows files matching glob patterns, line by line, through rotation by
 * rename and by truncation, with offsets kept in `db` across restarts.
 */
export const tailInput = defineInput({
  ...tailManifest,
  create(context) {
    return new TailWatcher(tailInputOptions(context.config, context.instance, context.parsers, context.telemetry.logger), context);
  },
});
