/** The `null` output's manifest and keys: what help and validation read without loading its code. */
import { noEffectKey } from '../../../config/inert-keys.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';

const WRITES_NOTHING = 'the null output writes nothing';

export const nullManifest = defineOutputManifest({
  kind: 'output',
  name: 'null',
  description: 'Throws away events',
  schema: [
    noEffectKey('format', 'string', 'Format of the records.', WRITES_NOTHING),
    noEffectKey('json_date_format', 'string', 'Format of the time in JSON.', WRITES_NOTHING),
    noEffectKey('json_date_key', 'string', 'Key of the time in JSON.', WRITES_NOTHING),
  ],
});
