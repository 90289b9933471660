import { defineInputManifest } from '../../../pipeline/contracts.js';
import { serverInputKeys } from '../../../config/common-keys.js';

/** The keys of the forward input (Fluent Bit's `in_forward`), in the order `-h` and the README show them. */
export const forwardInputSchema = [
  { key: 'listen', type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
  { key: 'port', type: 'int', default: 24224, min: 0, max: 65535, description: 'TCP port to listen on.' },
  { key: 'tag', type: 'string', default: null, description: "Tag for every received record, replacing the tag each message carries (ignored when tag_prefix is set)." },
  { key: 'tag_prefix', type: 'string', default: null, description: 'Prefix added to the tag each message carries.' },
  { key: 'unix_path', type: 'string', default: null, description: 'Listen on this Unix socket instead of TCP.' },
  { key: 'unix_perm', type: 'string', default: null, description: 'Permissions of the Unix socket, in octal (e.g. 0660).' },
  { key: 'shared_key', type: 'string', default: null, description: 'Shared key for secure forward authentication (HELO/PING/PONG handshake).' },
  { key: 'empty_shared_key', type: 'bool', default: false, description: 'Require the handshake with an empty string as the shared key.' },
  { key: 'self_hostname', type: 'string', default: 'localhost', description: 'Host name this server gives in the handshake.' },
  { key: 'security.users', type: 'string', multiple: true, description: "A 'username password' pair clients must authenticate with; needs shared_key or empty_shared_key." },
  { key: 'buffer_chunk_size', type: 'size', default: '1024000', description: 'Step by which the receive buffer of a connection grows.' },
  { key: 'buffer_max_size', type: 'size', default: '6144000', description: 'Largest message a connection may send; a client that exceeds it is disconnected.' },
  ...serverInputKeys,
] as const;

export const forwardInputManifest = defineInputManifest({
  kind: 'input',
  name: 'forward',
  description: 'Fluentd in-forward',
  schema: forwardInputSchema,
  serviceUriKeys: { host: 'listen', port: 'port' },
});
