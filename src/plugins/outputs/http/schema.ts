import { netClientKeys, tlsClientKeys } from '../../../config/common-keys.js';
import { upstreamKey } from '../../../upstream/config.js';
import { formatKeys } from '../format-keys.js';
import { defineOutputManifest } from '../../../pipeline/contracts.js';
import { noEffectKey, onlyDefaultKey } from '../../../config/inert-keys.js';

const WITH_OAUTH2 = 'only with oauth2.enable on, which wsbit refuses';
const WITH_AWS = 'only with aws_auth on, which wsbit refuses';

/** Keys of Fluent Bit's out_http that wsbit takes without acting on them (config/inert-keys.ts). */
const inertKeys = [
  // A token the user expects to be fetched and sent must not be dropped quietly: a request without it
  // is refused by the server, and every chunk retried. Only leaving OAuth2 off loads.
  onlyDefaultKey('oauth2.enable', 'bool', false, 'Fetch an OAuth2 token and send it with each request.', "OAuth2 is not supported: send a token with header 'Authorization Bearer …'"),
  ...(
    [
      'oauth2.token_url',
      'oauth2.client_id',
      'oauth2.client_secret',
      'oauth2.user_agent',
      'oauth2.scope',
      'oauth2.audience',
      'oauth2.resource',
      'oauth2.auth_method',
      'oauth2.jwt_key_file',
      'oauth2.jwt_cert_file',
      'oauth2.jwt_aud',
      'oauth2.jwt_header',
    ] as const
  ).map((key) => noEffectKey(key, 'string', 'An OAuth2 setting.', WITH_OAUTH2)),
  ...(['oauth2.jwt_ttl_seconds', 'oauth2.refresh_skew_seconds'] as const).map((key) => noEffectKey(key, 'int', 'An OAuth2 setting.', WITH_OAUTH2)),
  ...(['oauth2.timeout', 'oauth2.connect_timeout'] as const).map((key) => noEffectKey(key, 'time', 'An OAuth2 setting.', WITH_OAUTH2)),
  onlyDefaultKey('aws_auth', 'bool', false, 'Sign requests with AWS SigV4.', 'AWS signing is not supported'),
  ...(['aws_service', 'aws_region', 'aws_sts_endpoint', 'aws_role_arn', 'aws_external_id', 'aws_profile'] as const).map((key) =>
    noEffectKey(key, 'string', 'An AWS SigV4 setting.', WITH_AWS),
  ),
] as const;

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
  { key: 'http_method', type: 'enum', values: ['POST', 'PUT'], default: 'POST', description: 'HTTP method of the requests.' },
  { key: 'header_tag', type: 'string', default: null, description: "Send the chunk's tag in this header (e.g. X-Fluent-Tag)." },
  {
    key: 'body_key',
    type: 'string',
    default: null,
    description: "With headers_key: send each record as a request of its own, its body the string this record accessor names (e.g. $body), its headers the map headers_key names, instead of the content type. Records without both are left out (a warning).",
  },
  { key: 'headers_key', type: 'string', default: null, description: 'With body_key: record accessor of the map of headers of each request (e.g. $headers).' },
  { key: 'allow_duplicated_headers', type: 'bool', default: true, description: 'Send every configured header even when a name repeats. Off: a later header replaces an earlier one of the same name, defaults included.' },
  { key: 'log_response_payload', type: 'bool', default: true, description: 'Include the response body (cut to 1 KiB) in log lines about responses.' },
  { key: 'http.read_idle_timeout', type: 'time', default: 0, description: 'Longest pause between two reads of the response body before the request is retried (0: net.io_timeout).' },
  { key: 'http.response_timeout', type: 'time', default: '60s', description: 'Longest wait for the response headers before the request is retried.' },
  { key: 'net.max_worker_connections', type: 'int', default: 0, description: 'Most connections kept open to each node (0: one per worker, at least 2).' },
  upstreamKey,
  ...inertKeys,
] as const;

export const httpOutputManifest = defineOutputManifest({
  kind: 'output',
  name: 'http',
  description: 'HTTP Output',
  schema: httpOutputSchema,
  serviceUriKeys: { host: 'host', port: 'port', path: 'uri' },
});
