import { netClientKeys, tlsClientKeys } from '../../../config/common-keys.js';
import { upstreamKey } from '../../../upstream/config.js';
import { formatKeys } from '../format-keys.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';

/** The keys of the http output (Fluent Bit's `out_http`), in the order `-h` and the README show them. */
export const httpOutputSchema = [
  ...netClientKeys,
  ...tlsClientKeys,
  { key: 'uri', type: 'string', default: '/', description: 'Path (and query) requested; a leading / is added if missing. A path in the service URI wins.' },
  ...formatKeys('json'),
  { key: 'header', type: 'header', multiple: true, description: "An HTTP header to send, as 'Name value'; may be given more than once." },
  { key: 'http_user', type: 'string', default: null, description: 'User name for HTTP basic authentication.' },
  { key: 'http_passwd', type: 'string', default: '', description: 'Password for HTTP basic authentication.' },
  { key: 'compress', type: 'enum', values: ['gzip'], default: null, description: "Compress the request body ('gzip'); sent with Content-Encoding: gzip." },
  { key: 'allow_duplicated_headers', type: 'bool', default: true, description: 'Send every configured header even when a name repeats. Off: a later header replaces an earlier one of the same name, defaults included.' },
  { key: 'log_response_payload', type: 'bool', default: true, description: 'Include the response body (cut to 1 KiB) in log lines about responses.' },
  { key: 'http.response_timeout', type: 'time', default: '60s', description: 'Longest wait for the response headers before the request is retried.' },
  { key: 'net.max_worker_connections', type: 'int', default: 0, description: 'Most connections kept open to each node (0: one per worker, at least 2).' },
  upstreamKey,
] as const;

export const httpOutputManifest = defineOutputManifest({
  kind: 'output',
  name: 'http',
  description: 'HTTP Output',
  schema: httpOutputSchema,
  serviceUriKeys: { host: 'host', port: 'port', path: 'uri' },
});
