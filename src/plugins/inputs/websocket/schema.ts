import { tlsServerKeys } from '../../../config/common-keys.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import { admissionKeys, compressionKeys, serverPortKey } from '../../websocket-server-keys.js';
import { defineInputManifest } from '../../../pipeline/contracts.js';

const payloadFormats = ['auto', 'msgpack', 'json', 'json_lines', 'json_stream'] as const;
export type PayloadFormat = (typeof payloadFormats)[number];

export const websocketInputSchema = [
  { key: 'listen', type: 'string', default: '127.0.0.1', description: 'Address to listen on; 0.0.0.0 takes agents from other machines (set a token).' },
  serverPortKey,
  { key: 'path', type: 'string', default: null, description: 'Accept WebSocket upgrades on this path only; others get HTTP 404. Default: any path.' },
  {
    key: 'format',
    type: 'enum',
    values: payloadFormats,
    default: 'auto',
    description:
      'auto: a message is msgpack when it starts with a msgpack array marker, JSON when it starts with {, [ or white space. msgpack: Fluent Bit events (V2 or V1). json, json_lines, json_stream: JSON objects, arrays of objects expanding, with or without white space between them.',
  },
  { key: 'tag_key', type: 'string', default: null, description: "Take each record's tag from this key when it holds a non-empty string (the key stays in the record)." },
  {
    key: 'time_key',
    type: 'string',
    default: 'date',
    description: "The JSON records' date key (the output's json_date_key): the record time is read from it and the key removed. false: records get the reception time. msgpack events carry their own time.",
  },
  {
    key: 'time_format',
    type: 'string',
    default: null,
    description:
      'How to read the date: epoch_ms (numbers are milliseconds), double or epoch (seconds), or a strptime pattern for string dates. Default: seconds, or milliseconds for integers from 1e11, and ISO 8601 strings.',
  },
  { key: 'time_keep', type: 'bool', default: false, description: 'Keep the date key in the record after reading the time from it.' },
  { key: 'max_message_size', type: 'size', default: '16M', description: 'Largest message accepted; a larger one closes the connection with 1009 (0 = no limit).' },
  { key: 'max_connections', type: 'int', default: 1000, description: 'Most clients connected at once; further upgrade requests get HTTP 503 (0 = no limit).' },
  ...compressionKeys({
    on: true,
    maxConnections: 256,
    compress:
      'Accept permessage-deflate (RFC 7692) when a client offers it; off declines the offer and the client sends uncompressed. max_message_size bounds a message after inflating.',
  }),
  ...admissionKeys({
    token: 'Require Authorization: Bearer <token> (or ?token=<token>) on the upgrade request; others get HTTP 401. Never logged.',
    allowed_origins:
      'Web page origins allowed to connect, or *. Clients that send no Origin header (agents) are always allowed; pages from other sites are refused (403).',
    allowed_hosts:
      'Without a token, the upgrade must name this server in Host: a loopback address, localhost, the listen address (any IP address and the machine name when listening on 0.0.0.0), or a name listed here (* = any). Others get HTTP 403; this stops DNS rebinding.',
  }),
  ...tlsServerKeys,
] as const;

export type WebSocketInputConfig = ResolvedConfig<typeof websocketInputSchema>;

export const websocketInputManifest = defineInputManifest({
  kind: 'input',
  name: 'websocket',
  description: 'WebSocket server that receives what the websocket output sends (wsbit or Fluent Bit)',
  schema: websocketInputSchema,
  serviceUriKeys: { host: 'listen', port: 'port', path: 'path' },
});
