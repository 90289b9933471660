/** The `forward` output's manifest and keys: what help and validation read without loading its code. */
import { netClientKeys, tlsClientKeys } from '../../../config/common-keys.js';
import { upstreamKey } from '../../../upstream/config.js';
import { ParseFailure } from '../../../config/schema.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';
import { maxWorkerConnectionsInertKeys, noEffectKey } from '../../../config/inert-keys.js';

const forwardModes = ['forward', 'packed_forward'] as const;

/** `add_option`: Fluent Bit's list of at least two words, the first the name and the last the value. */
function parseAddOption(raw: string): { name: string; value: string } | ParseFailure {
  const words = raw.trim().split(/\s+/);
  const [name] = words;
  const value = words[words.length - 1];
  if (words.length < 2 || name === undefined || value === undefined) return new ParseFailure("a name and a value, e.g. 'region eu-west'");
  return { name, value };
}
export type ForwardMode = (typeof forwardModes)[number];

const schema = [
  ...netClientKeys,
  ...tlsClientKeys,
  { key: 'tag', type: 'string', default: null, description: "Tag sent with every message instead of the chunk's own." },
  { key: 'time_as_integer', type: 'bool', default: false, description: 'Send whole seconds instead of EventTime (for Fluentd v0.12).' },
  { key: 'retain_metadata_in_forward_mode', type: 'bool', default: false, description: "Send Fluent Bit's [[time, metadata], record] entries, keeping each record's metadata (Fluent Bit and wsbit read them, Fluentd does not)." },
  { key: 'send_options', type: 'bool', default: false, description: 'Always send the options map (size, fluent_signal).' },
  { key: 'require_ack_response', type: 'bool', default: false, description: "Send a chunk id with each message and count it delivered only when the server's ack arrives (at-least-once)." },
  { key: 'ack_timeout', type: 'time', default: '30s', description: 'Longest wait for an ack (and for the HELO and PONG of the handshake) before the chunk is retried.' },
  { key: 'compress', type: 'enum', values: ['gzip'], default: null, description: "'gzip': send CompressedPackedForward messages." },
  { key: 'forward_mode', type: 'enum', values: forwardModes, default: 'forward', description: 'Message layout without compression: forward (an array of entries, as Fluent Bit sends) or packed_forward (entries in one bin).' },
  { key: 'shared_key', type: 'string', default: null, description: 'Shared key for the secure forward handshake (HELO, PING, PONG).' },
  { key: 'empty_shared_key', type: 'bool', default: false, description: 'Run the handshake with an empty shared key.' },
  { key: 'self_hostname', type: 'string', default: 'localhost', description: 'Host name this client gives in the handshake.' },
  { key: 'username', type: 'string', default: '', description: 'User name, when the server asks for one in the handshake.' },
  { key: 'password', type: 'string', default: '', description: 'Password of username.' },
  upstreamKey,
  { key: 'unix_path', type: 'string', default: null, description: 'Connect to this Unix socket instead of host and port (without TLS); ignored when upstream is set.' },
  {
    key: 'add_option',
    type: 'string',
    multiple: true,
    parse: parseAddOption,
    description: "An option added to each message's options map, as 'name value' (Fluent Bit takes the last word as the value); implies send_options.",
  },
  ...maxWorkerConnectionsInertKeys,
  noEffectKey('fluentd_compat', 'bool', 'Send metrics and traces in the form Fluentd reads.', 'wsbit sends logs only, which need no conversion'),
] as const;

export const forwardOutputManifest = defineOutputManifest({
  kind: 'output',
  name: 'forward',
  description: 'Forward (Fluentd protocol)',
  schema,
  serviceUriKeys: { host: 'host', port: 'port' },
});
