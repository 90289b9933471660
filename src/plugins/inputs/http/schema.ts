import { defineInputManifest } from '../../../pipeline/contracts.js';
import { serverInputKeys } from '../../../config/common-keys.js';
import { ONE_LISTENER_LOOP, noEffectKey, onlyDefaultKey } from '../../../config/inert-keys.js';
const HTTP1_ONLY = 'the http input speaks HTTP/1.1 only';
const OWN_LIMITS = 'the http input has its own keys for this';

/** Keys of Fluent Bit's in_http that wsbit takes without acting on them (config/inert-keys.ts). */
const inertKeys = [
  ...serverInputKeys,
  noEffectKey('http_server.workers', 'int', 'Listener threads.', ONE_LISTENER_LOOP),
  noEffectKey('http_server.ingress_queue_event_limit', 'size', 'Queue of records between listener threads.', ONE_LISTENER_LOOP),
  noEffectKey('http_server.ingress_queue_byte_limit', 'size', 'Queue of bytes between listener threads.', ONE_LISTENER_LOOP),
  noEffectKey('http2', 'bool', 'Serve HTTP/2 as well (http_server.http2).', HTTP1_ONLY),
  noEffectKey('http_server.http2', 'bool', 'Serve HTTP/2 as well.', HTTP1_ONLY),
  noEffectKey('http_server.idle_timeout', 'time', 'Close an idle connection after this long.', `${OWN_LIMITS}: header_timeout and body_idle_timeout`),
  noEffectKey('http_server.buffer_chunk_size', 'size', 'Read buffer step.', 'bodies are read as they stream in'),
] as const;

/** The keys of the http input (Fluent Bit's `in_http`), in the order `-h` and the README show them. */
export const httpInputSchema = [
  { key: 'listen', type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
  { key: 'port', type: 'int', default: 9880, min: 0, max: 65535, description: 'TCP port to listen on.' },
  { key: 'tag_key', type: 'string', default: null, description: 'Take the tag of each record from this key when it holds a string, instead of from the URI path.' },
  { key: 'add_remote_addr', type: 'bool', default: false, description: "Add the client's address to each record (the first X-Forwarded-For entry if present)." },
  { key: 'remote_addr_key', type: 'string', default: 'REMOTE_ADDR', description: 'Key under which add_remote_addr stores the address.' },
  { key: 'buffer_max_size', type: 'size', default: '4M', description: 'Largest request body accepted (after decompression); larger ones get 413.' },
  noEffectKey('buffer_chunk_size', 'size', 'Read buffer step.', 'bodies are read as they stream in'),
  { key: 'http_server.buffer_max_size', type: 'size', default: null, description: "Fluent Bit's newer name for buffer_max_size; set, it wins." },
  { key: 'http_server.max_connections', type: 'int', default: null, min: 0, description: "Fluent Bit's newer name for max_connections (0 = no limit); set, it wins." },
  { key: 'enable_health_endpoint', type: 'bool', default: false, description: "Answer GET /health with 200 and Fluent Bit's JSON (status ok, a timestamp)." },
  { key: 'successful_response_code', type: 'int', default: 201, description: 'Status code of a successful request: 200, 201 or 204.' },
  { key: 'success_header', type: 'header', multiple: true, description: "A header added to successful responses, e.g. 'X-Custom value'." },
  { key: 'parser', type: 'string', default: null, description: 'Name of a parser (from Parsers_File) for bodies that are neither JSON nor a form (e.g. text/plain): each line becomes a record.' },
  { key: 'max_connections', type: 'int', default: 1000, description: 'Most client connections at once; requests on further ones get HTTP 503 and a close (0 = no limit).' },
  { key: 'header_timeout', type: 'time', default: '10s', description: 'Close a connection with HTTP 408 when the request headers are not complete after this long (0 = no limit).' },
  {
    key: 'body_idle_timeout',
    type: 'time',
    default: '10s',
    description: 'Refuse a request with HTTP 408 and close it when its body makes no progress for this long (0 = no limit). Not counted while the input is paused.',
  },
  {
    key: 'buffer_total_limit',
    type: 'size',
    default: '16M',
    description:
      'Most request body bytes held at once across all connections. Beyond it the request holding the most gets HTTP 503 (Retry-After) and is closed, so small requests are still served (0 = no limit).',
  },
  ...inertKeys,
] as const;

export const httpInputManifest = defineInputManifest({
  kind: 'input',
  name: 'http',
  description: 'HTTP',
  schema: httpInputSchema,
  serviceUriKeys: { host: 'listen', port: 'port' },
});
