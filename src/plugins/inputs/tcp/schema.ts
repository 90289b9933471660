import { defineInputManifest } from '../../../pipeline/contracts.js';
import { serverInputKeys } from '../../../config/common-keys.js';

/** The keys of the tcp input (Fluent Bit's `in_tcp`), in the order `-h` and the README show them. */
export const tcpInputSchema = [
  { key: 'listen', type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
  { key: 'port', type: 'int', default: 5170, min: 0, max: 65535, description: 'TCP port to listen on.' },
  { key: 'format', type: 'enum', values: ['json', 'none'], default: 'json', description: 'json: a stream of JSON objects (an array becomes {"msg": [...]}); none: one {"log": line} record per separated line.' },
  { key: 'separator', type: 'string', default: '\\n', description: "Record separator for format none; escape sequences such as \\n and \\r\\n are understood." },
  { key: 'chunk_size', type: 'int', default: 32, description: 'Read buffer growth step, in KB.' },
  { key: 'buffer_size', type: 'int', default: null, description: "Largest pending message per connection, in KB (default: chunk_size). A connection that exceeds it is closed." },
  { key: 'source_address_key', type: 'string', default: null, description: "Add the client's address (tcp://ADDRESS:PORT) to each JSON record under this key; as in Fluent Bit, records of format none get none." },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) that turns each line into a record; implies format none. Lines it cannot parse are logged and dropped.' },
  ...serverInputKeys,
] as const;

export const tcpManifest = defineInputManifest({
  kind: 'input',
  name: 'tcp',
  description: 'TCP',
  schema: tcpInputSchema,
  serviceUriKeys: { host: 'listen', port: 'port' },
});
