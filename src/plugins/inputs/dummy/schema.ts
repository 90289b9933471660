/** The `dummy` input's manifest and keys: what help and validation read without loading its code. */
import { defineInputManifest } from '../../../pipeline/contracts.js';
import { noEffectKey } from '../../../config/inert-keys.js';

const schema = [
  { key: 'dummy', type: 'string', default: '{"message":"dummy"}', description: 'The JSON object to generate as each record; several written one after another ({"a":1}{"b":2}) make that many records per event.' },
  { key: 'metadata', type: 'string', default: '{}', description: 'A JSON object to attach to each record as metadata.' },
  { key: 'rate', type: 'int', default: 1, description: 'Events generated per second.' },
  { key: 'interval_sec', type: 'int', default: 0, description: 'Seconds between events; with interval_nsec, overrides rate.' },
  { key: 'interval_nsec', type: 'int', default: 0, description: 'Nanoseconds between events; with interval_sec, overrides rate.' },
  { key: 'samples', type: 'int', default: 0, description: 'Stop after this many events (0 = never stop); each event is every object of dummy, copies times.' },
  { key: 'copies', type: 'int', default: 1, description: 'Records generated per event.' },
  { key: 'start_time_sec', type: 'int', default: -1, description: 'Timestamp seconds to use instead of the current time (-1 = now).' },
  { key: 'start_time_nsec', type: 'int', default: -1, description: 'Timestamp nanoseconds to use instead of the current time (-1 = now).' },
  { key: 'fixed_timestamp', type: 'bool', default: false, description: 'Keep the start time for every record instead of advancing it.' },
  { key: 'flush_on_startup', type: 'bool', default: false, description: 'Generate the first event immediately instead of after one interval.' },
  noEffectKey('test_hang_on_exit', 'bool', 'Hang at exit, to test the hot-reload watchdog.', "a hook of Fluent Bit's own tests"),
] as const;

export const dummyManifest = defineInputManifest({
  kind: 'input',
  name: 'dummy',
  description: 'Generate dummy events',
  schema,
});
