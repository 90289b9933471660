import { defineInput } from '../../pipeline/contracts.js';
import { httpInputOptions } from './http/options.js';
import { httpInputManifest } from './http/schema.js';
import { HttpInputServer } from './http/server.js';

/**
 * Fluent Bit's `http` input: POST JSON (an object or an array of objects) or a form to any path; the
 * path is the tag. Fluentd's `json=<record>` form field works too, and so does its `?time=` parameter.
 */
export const httpInput = defineInput({
  ...httpInputManifest,
  create(context) {
    return new HttpInputServer(httpInputOptions(context.config, context.instance, context.parsers), context);
  },
});
