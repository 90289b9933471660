import { tlsServerKeys } from '../../../config/common-keys.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import { admissionKeys, compressionKeys, compressLevelKey, compressThresholdKey, serverPortKey } from '../../websocket-server-keys.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';

export const websocketServerSchema = [
  {
    key: 'host',
    type: 'string',
    default: '127.0.0.1',
    description: "Address to listen on. The default keeps the stream on this machine; 0.0.0.0 (fluent-plugin-websocket's default) opens it to the network.",
  },
  serverPortKey,
  { key: 'use_msgpack', type: 'bool', default: false, description: 'Send each record as one msgpack binary frame instead of one JSON text frame.' },
  { key: 'add_time', type: 'bool', default: false, description: 'Include the record time (integer seconds) in each message.' },
  { key: 'add_tag', type: 'bool', default: true, description: 'Include the tag in each message.' },
  { key: 'buffered_messages', type: 'int', default: 0, description: 'Send each new client the newest N messages (that match its filter) first; 0 = none.' },
  {
    key: 'message_id_key',
    type: 'string',
    default: '',
    description:
      'Put an integer id under this key in every record (1, 2, 3… over the server\'s life), so a client can resume with ?last_received=ID: it gets the buffered records after ID, then the live ones. If some are no longer buffered, it first gets {"missed":N,"first_id":F} (a JSON object, or a msgpack map with use_msgpack). Empty = no ids.',
  },
  {
    key: 'max_client_buffer',
    type: 'size',
    default: '8M',
    description:
      'Most data that may wait to be sent to one client. A client over it holds the next flush (the records wait in the engine) until it reads its way back under; one that stays over for slow_client_grace is closed with code 1013 (0 = no limit).',
  },
  {
    key: 'slow_client_grace',
    type: 'time',
    default: '10s',
    description: 'How long a client may stay over max_client_buffer without reading its way back under before it is closed with 1013; this also bounds how long it can hold the broadcast.',
  },
  { key: 'max_clients', type: 'int', default: 100, description: 'Most clients connected at once; further upgrade requests get HTTP 503 (0 = no limit).' },
  ...compressionKeys({
    on: false,
    maxConnections: 32,
    compress:
      'Accept permessage-deflate (RFC 7692) when a client offers it (browsers do): each message of compress.threshold or more is deflated for that client, at some CPU per client.',
  }),
  compressLevelKey,
  compressThresholdKey,
  ...admissionKeys({
    token: 'Require clients to send Authorization: Bearer <token> or ?token=<token>; others get HTTP 401. The token is never logged.',
    allowed_origins:
      'Web page origins (e.g. https://dash.example:3000) allowed to connect, or *. The live page and clients that send no Origin header are always allowed.',
    allowed_hosts:
      'Without a token, requests (page, /status, upgrade) must name this server in Host: a loopback address, localhost, the listen address (any IP address and the machine name when listening on 0.0.0.0), or a name listed here (* = any). Others get HTTP 403; this stops DNS rebinding.',
  }),
  { key: 'ping_interval', type: 'time', default: '30s', description: 'Ping every client this often and drop those that did not answer the previous ping (0 = never).' },
  { key: 'live_page', type: 'bool', default: true, description: 'Serve a live view of the records at GET / on the same port.' },
  ...tlsServerKeys,
] as const;

export type WebSocketServerConfig = ResolvedConfig<typeof websocketServerSchema>;

export const websocketServerManifest = defineOutputManifest({
  kind: 'output',
  name: 'websocket_server',
  description: 'Broadcasts records to WebSocket clients, with a live page',
  schema: websocketServerSchema,
  serviceUriKeys: { host: 'host', port: 'port' },
});
