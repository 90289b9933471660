import { netClientKeys, tlsClientKeys } from '../../../config/common-keys.js';
import { withShownDefaults } from '../../../config/schema.js';
import { upstreamKey } from '../../../upstream/config.js';
import { formatKeys, textFormatKeys } from '../format-keys.js';
import { payloadFormats } from '../../../codec/payload.js';
import { messageModes } from '../../../codec/messages.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';
import { maxWorkerConnectionsInertKeys } from '../../../config/inert-keys.js';

/** The keys of the websocket output (Fluent Bit's `out_websocket` and wsbit's own), in the order `-h` and the README show them. */
export const websocketOutputSchema = [
  // websocketOutputOptions fills these in when they are not given; help says what it picks.
  ...withShownDefaults(netClientKeys, { host: '127.0.0.1', port: '80 (443 with tls on)' }),
  ...tlsClientKeys,
  { key: 'uri', type: 'string', default: '/', description: 'Path (and query) of the WebSocket endpoint; a leading / is added if missing. A path in the service URI wins.' },
  ...formatKeys('msgpack', payloadFormats),
  ...textFormatKeys,
  {
    key: 'message_mode',
    type: 'enum',
    values: messageModes,
    default: 'chunk',
    description: "'chunk': one message per flushed chunk, as Fluent Bit does. 'record': one message per record (json, json_lines, json_stream: one JSON object; gelf: one GELF object; msgpack: one event; plain, csv, ltsv, template: one line, and the csv header its own message); confirm_delivery still confirms the chunk, with one ping after its last message.",
  },
  {
    key: 'fragment_size',
    type: 'size',
    default: '256K',
    description:
      "With message_mode chunk, a chunk's message goes in frames of about this size (RFC 6455 fragments, cut between records), each made while the one before is sent, so only that much of its JSON text (or of its masked msgpack) is in memory at once. 0: one frame per message, as Fluent Bit sends. Not with compress deflate or an upstream, whose messages are made whole.",
  },
  { key: 'message_newline', type: 'bool', default: false, description: 'With message_mode record, end each message of a line format (json_lines, json_stream, gelf, plain, csv, ltsv, template) with its newline.' },
  { key: 'header', type: 'header', multiple: true, description: "An HTTP header sent with the upgrade request, as 'Name value' (e.g. 'Authorization Bearer abc')." },
  { key: 'subprotocol', type: 'string', default: null, description: 'Sec-WebSocket-Protocol to request; the server must accept it.' },
  { key: 'ping_interval', type: 'time', default: '10s', description: 'Send a keepalive ping this often while connected, to notice a dead server between flushes (0 = off).' },
  { key: 'ping_timeout', type: 'time', default: '10s', description: 'Drop the connection when a keepalive ping gets no pong within this time.' },
  { key: 'confirm_delivery', type: 'bool', default: true, description: 'Count a chunk as delivered only when the pong for a ping sent after it returns, which proves the server read it. Off: delivered once written to the socket, as Fluent Bit does.' },
  { key: 'confirm_timeout', type: 'time', default: '30s', description: 'How long to wait for that pong before the chunk is retried on a new connection.' },
  { key: 'handshake_timeout', type: 'time', default: '10s', description: 'How long to wait for the HTTP 101 response to the upgrade request.' },
  { key: 'control_frame_limit', type: 'int', default: 100, description: 'Most pings, and pongs answering none of ours, the server may send in one second; more drops the connection as hostile and its chunks go to the next one (0 = no limit).' },
  {
    key: 'compress',
    type: 'enum',
    values: ['off', 'deflate'],
    default: 'off',
    description: "'deflate': offer permessage-deflate (RFC 7692) in the handshake and compress messages when the server accepts; a server that declines gets them uncompressed. Delivery confirmation is unchanged.",
  },
  { key: 'compress.level', type: 'int', default: 1, min: 1, max: 9, description: 'zlib level with compress deflate: 1 is fastest (log lines still shrink several times), 9 smallest.' },
  { key: 'compress.threshold', type: 'size', default: '1K', description: 'With compress deflate, messages smaller than this are sent uncompressed.' },
  { key: 'compress.window_bits', type: 'int', default: 15, min: 9, max: 15, description: "With compress deflate, the client_max_window_bits offered: our LZ77 window is at most 2^N bytes (smaller saves memory, compresses less)." },
  upstreamKey,
  { key: 'write_stall_timeout', type: 'time', default: '30s', description: 'Drop the connection when more than 64 KiB we sent stays unread by the server this long; its chunks go to the next connection (0 = never).' },
  ...maxWorkerConnectionsInertKeys,
] as const;

export const websocketOutputManifest = defineOutputManifest({
  kind: 'output',
  name: 'websocket',
  description: 'Websocket',
  schema: websocketOutputSchema,
  serviceUriKeys: { host: 'host', port: 'port', path: 'uri' },
  // Its failures are connection failures: wait for the server rather than drop data (SPEC part A).
  defaultRetryLimit: 'no_limits',
});
