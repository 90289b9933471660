/**
 * Keys that Fluent Bit handles outside the plugins' own config maps (`flb_input_set_property`,
 * `flb_output_set_property`, `upstream_net[]` in `flb_upstream.c`, `tls_configmap`, and the
 * `[SERVICE]` table in `flb_config.c`), declared once and spread into each plugin's schema:
 *
 *     const schema = [...outputCommonKeys, ...netClientKeys, ...tlsClientKeys, ...ownKeys] as const;
 */
import { PROXY_URL_EXPECTED, parseProxyUrl, type ProxyServer } from '../base/proxy.js';
import {
  ONE_LISTENER_LOOP,
  inputInertKeys,
  logSuppressKeys,
  netClientInertKeys,
  noEffectKey,
  outputInertKeys,
  proxyTlsInertKeys,
  serverInputInertKeys,
  serverTlsExtraKeys,
  tlsClientInertKeys,
} from './inert-keys.js';
import { ParseFailure, type ParamSpec } from './schema.js';
import { parseDouble, parseInt } from './units.js';

/** How many times a failed chunk is retried: Fluent Bit's `Retry_Limit`. */
export type RetryLimit = { kind: 'unlimited' } | { kind: 'limit'; retries: number };

const RETRY_LIMIT_EXPECTED =
  'a positive number of retries, no_limits, false or off (retry forever), or no_retries (never retry)';

/**
 * `Retry_Limit` as `flb_output_set_property` reads it: `no_limits`, `false`, `off` → unlimited;
 * `no_retries` → drop on the first failure; `N` → N retries after the first attempt. Fluent Bit
 * turns `0`, negatives and garbage into 1 with the warning `invalid retry_limit. set default.`;
 * wsbit rejects them, since a silent 1 is rarely what the user meant.
 */
export function parseRetryLimit(raw: string): RetryLimit | ParseFailure {
  const word = raw.toLowerCase();
  if (word === 'no_limits' || word === 'false' || word === 'off') return { kind: 'unlimited' };
  if (word === 'no_retries') return { kind: 'limit', retries: 0 };
  const retries = parseInt(raw);
  if (retries === undefined || retries <= 0) return new ParseFailure(RETRY_LIMIT_EXPECTED);
  return { kind: 'limit', retries };
}

/** Fluent Bit's log levels; `warning` is another spelling of `warn` (`flb_log_get_level_str`). */
const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const LOG_LEVEL_ALIASES = { warning: 'warn' } as const;

export const inputCommonKeys = [
  { key: 'tag', type: 'string', default: null, description: 'Tag of the records this input creates. Defaults to the instance name (e.g. dummy.0).' },
  { key: 'alias', type: 'string', default: null, description: 'Name used for this instance in logs and metrics instead of e.g. dummy.0.' },
  { key: 'log_level', type: 'enum', values: LOG_LEVELS, aliases: LOG_LEVEL_ALIASES, default: null, description: 'Log level of this instance. Defaults to the service Log_Level.' },
  { key: 'mem_buf_limit', type: 'size', default: 0, description: 'Pause this input while its buffered chunks in memory reach this size (0 = no limit).' },
  { key: 'storage.type', type: 'enum', values: ['memory', 'filesystem'], default: 'memory', description: 'Where chunks are buffered. filesystem needs the service storage.path.' },
  { key: 'storage.pause_on_chunks_overlimit', type: 'bool', default: false, description: 'With filesystem storage, pause this input when storage.max_chunks_up is reached.' },
  { key: 'routable', type: 'bool', default: true, description: "Off: this input's records are counted and thrown away, before any processor or filter, as Fluent Bit does." },
  ...inputInertKeys,
] as const satisfies readonly ParamSpec[];

export const outputCommonKeys = [
  { key: 'match', type: 'string', default: null, description: 'Tag pattern of the records to send here; * matches any text.' },
  { key: 'match_regex', type: 'string', default: null, description: 'Regular expression matched against the start of the tag.' },
  { key: 'alias', type: 'string', default: null, description: 'Name used for this instance in logs and metrics instead of e.g. websocket.0.' },
  { key: 'log_level', type: 'enum', values: LOG_LEVELS, aliases: LOG_LEVEL_ALIASES, default: null, description: 'Log level of this instance. Defaults to the service Log_Level.' },
  {
    key: 'retry_limit',
    type: 'string',
    default: '1',
    parse: parseRetryLimit,
    description:
      'How many times a failed chunk is retried before it is dropped: a number, no_limits (or false, off) to retry forever, or no_retries.',
  },
  { key: 'workers', type: 'int', default: 0, description: "How many chunks this output may flush at once (Fluent Bit's worker threads; 0 or 1: one at a time, in order)." },
  { key: 'storage.total_limit_size', type: 'size', default: null, description: 'Most bytes of filesystem chunks queued for this output; the oldest are dropped beyond it.' },
  ...outputInertKeys,
] as const satisfies readonly ParamSpec[];

export const filterCommonKeys = [
  { key: 'match', type: 'string', default: null, description: 'Tag pattern of the records this filter applies to; * matches any text.' },
  { key: 'match_regex', type: 'string', default: null, description: 'Regular expression matched against the start of the tag.' },
  { key: 'alias', type: 'string', default: null, description: 'Name used for this instance in logs and metrics instead of e.g. grep.0.' },
  { key: 'log_level', type: 'enum', values: LOG_LEVELS, aliases: LOG_LEVEL_ALIASES, default: null, description: 'Log level of this instance. Defaults to the service Log_Level.' },
  ...logSuppressKeys,
] as const satisfies readonly ParamSpec[];

/** `upstream_net[]` in `flb_upstream.c`: the keys of every network client output. */
export const netClientKeys = [
  { key: 'host', type: 'string', default: null, description: 'Host name or IP address of the server.' },
  { key: 'port', type: 'int', default: null, min: 1, max: 65535, description: 'TCP port of the server.' },
  { key: 'ipv6', type: 'bool', default: false, description: 'The host is an IPv6 address.' },
  { key: 'net.keepalive', type: 'bool', default: true, description: 'Reuse connections between flushes.' },
  { key: 'net.keepalive_idle_timeout', type: 'time', default: '30s', description: 'Close a kept-alive connection after it has been idle this long.' },
  { key: 'net.keepalive_max_recycle', type: 'int', default: 2000, description: 'Close a kept-alive connection after it has been reused this many times (0 = no limit).' },
  { key: 'net.connect_timeout', type: 'time', default: '10s', description: 'Give up connecting (including the TLS handshake) after this long.' },
  { key: 'net.connect_timeout_log_error', type: 'bool', default: true, description: 'Log connection timeouts as errors (otherwise as debug messages).' },
  { key: 'net.io_timeout', type: 'time', default: 0, description: 'Give up a read or write on the connection after this long (0 = never).' },
  { key: 'net.source_address', type: 'string', default: null, description: 'Local address to connect from.' },
  {
    key: 'proxy',
    type: 'string',
    default: null,
    parse: parseProxyKey,
    quoteInError: withoutProxyPassword,
    description:
      'HTTP proxy for every connection of this output (and every node of its upstream), as http://[user:password@]host:port; connections go through a CONNECT tunnel, TLS to the server inside it. Unset: HTTPS_PROXY (TLS) or HTTP_PROXY (plain) from the environment, unless NO_PROXY names the server.',
  },
  { key: 'net.proxy_env_ignore', type: 'bool', default: false, description: 'Ignore the HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment variables (lower-case spellings included).' },
  ...netClientInertKeys,
  ...proxyTlsInertKeys,
] as const satisfies readonly ParamSpec[];

/** A proxy value as an error may quote it: a log line or a support ticket must not carry the password. */
export function withoutProxyPassword(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** Fluent Bit's `proxy` key: `http://host:port`, here with optional Basic credentials. */
export function parseProxyKey(raw: string): ProxyServer | ParseFailure {
  const parsed = parseProxyUrl(raw);
  return 'invalid' in parsed ? new ParseFailure(`${PROXY_URL_EXPECTED} (${parsed.invalid})`) : parsed;
}

/** `tls_configmap` plus the `tls` switch of outputs that may use TLS. */
export const tlsClientKeys = [
  { key: 'tls', type: 'bool', default: false, description: 'Connect with TLS.' },
  { key: 'tls.verify', type: 'bool', default: true, description: "Verify the server's certificate." },
  { key: 'tls.verify_hostname', type: 'bool', default: true, description: "Check that the server's certificate matches the host name (or tls.vhost). On by default, unlike Fluent Bit: a verified chain for another host proves nothing." },
  { key: 'tls.vhost', type: 'string', default: null, description: 'Server name sent with SNI. Defaults to the host.' },
  { key: 'tls.ca_file', type: 'string', default: null, description: 'File of CA certificates (PEM) to trust.' },
  { key: 'tls.ca_path', type: 'string', default: null, description: 'Directory of CA certificates (PEM) to trust.' },
  { key: 'tls.crt_file', type: 'string', default: null, description: 'Client certificate file (PEM).' },
  { key: 'tls.key_file', type: 'string', default: null, description: 'Private key file (PEM) of the client certificate.' },
  { key: 'tls.key_passwd', type: 'string', default: null, description: 'Password of tls.key_file.' },
  { key: 'tls.min_version', type: 'enum', values: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: null, description: 'Lowest TLS version to accept.' },
  { key: 'tls.max_version', type: 'enum', values: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: null, description: 'Highest TLS version to accept.' },
  { key: 'tls.ciphers', type: 'string', default: null, description: 'Allowed cipher suites, in OpenSSL syntax.' },
  ...tlsClientInertKeys,
] as const satisfies readonly ParamSpec[];

/** TLS for servers (the websocket input and websocket_server; plugins/tls-server.ts): the certificate this server presents, and client certificates. */
export const tlsServerKeys = [
  { key: 'tls', type: 'bool', default: false, description: 'Accept TLS connections only (wss://); needs tls.crt_file and tls.key_file.' },
  { key: 'tls.crt_file', type: 'string', default: null, description: 'Certificate chain (PEM) this server presents.' },
  { key: 'tls.key_file', type: 'string', default: null, description: 'Private key (PEM) of tls.crt_file.' },
  { key: 'tls.key_passwd', type: 'string', default: null, description: 'Password of tls.key_file.' },
  { key: 'tls.min_version', type: 'enum', values: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: null, description: 'Lowest TLS version to accept.' },
  { key: 'tls.max_version', type: 'enum', values: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: null, description: 'Highest TLS version to accept.' },
  { key: 'tls.ciphers', type: 'string', default: null, description: 'Allowed cipher suites, in OpenSSL syntax.' },
  { key: 'tls.ca_file', type: 'string', default: null, description: "CA certificates (PEM) that sign the clients' certificates, for tls.verify_client." },
  { key: 'tls.verify_client', type: 'bool', default: false, description: 'Require a client certificate signed by tls.ca_file; the handshake fails for clients without one.' },
] as const satisfies readonly ParamSpec[];

/**
 * What Fluent Bit's servers (the tcp, forward and http inputs) take beyond their own keys: TLS with
 * its server extras, and the networking keys and listener threads that do nothing here.
 */
export const serverInputKeys = [
  ...serverInputInertKeys,
  ...tlsServerKeys,
  ...serverTlsExtraKeys,
  noEffectKey('workers', 'int', 'Listener threads.', ONE_LISTENER_LOOP),
] as const satisfies readonly ParamSpec[];

/** `Flush` is a double read with `atof`; Fluent Bit aborts with `invalid flush value` when <= 0. */
export function parseFlushSeconds(raw: string): number | ParseFailure {
  const seconds = parseDouble(raw);
  return seconds !== undefined && seconds > 0 ? seconds : new ParseFailure('a number of seconds greater than 0, e.g. 1 or 0.5');
}

/**
 * `[SERVICE]`. Fluent Bit silently ignores service keys it does not know; wsbit resolves this schema
 * with kind `service`, which turns unknown keys into warnings rather than errors, so a Fluent Bit
 * config with keys wsbit does not implement (`streams_file`, `dns.mode`, …) still starts.
 */
export const serviceSchema = [
  { key: 'flush', type: 'double', default: '1', parse: parseFlushSeconds, description: 'Seconds between flushes of buffered chunks to the outputs.' },
  { key: 'grace', type: 'int', default: 5, description: 'Seconds to wait for buffered chunks to flush on shutdown.' },
  { key: 'daemon', type: 'bool', default: false, description: 'Accepted for compatibility. wsbit does not fork into the background; run it under systemd (deploy/wsbit.service) or a container instead. On: a warning.' },
  { key: 'log_file', type: 'string', default: null, description: 'Write the log to this file instead of stderr.' },
  { key: 'log_level', type: 'enum', values: LOG_LEVELS, aliases: LOG_LEVEL_ALIASES, default: 'info', description: 'Least severe level written to the log.' },
  { key: 'parsers_file', type: 'string', multiple: true, description: 'File of [PARSER] and [MULTILINE_PARSER] sections.' },
  { key: 'plugins_file', type: 'string', default: null, description: 'Accepted for compatibility; wsbit loads no external plugins (set: a warning).' },
  { key: 'http_server', type: 'bool', default: false, description: 'Serve metrics and health checks over HTTP.' },
  { key: 'http_listen', type: 'string', default: '0.0.0.0', description: 'Address of the HTTP server.' },
  { key: 'http_port', type: 'int', default: 2020, min: 0, max: 65535, description: 'TCP port of the HTTP server.' },
  {
    key: 'http_allowed_hosts',
    type: 'list',
    default: null,
    description:
      'Host names the HTTP server answers to beyond a loopback address, localhost and http_listen (any IP address and the machine name when http_listen is 0.0.0.0); * = any. Other Host headers get 403, which stops DNS rebinding.',
  },
  { key: 'health_check', type: 'bool', default: false, description: 'Serve /api/v1/health.' },
  { key: 'hc_errors_count', type: 'int', default: 5, description: 'Output errors per hc_period that make the health check fail.' },
  { key: 'hc_retry_failure_count', type: 'int', default: 5, description: 'Failed retries per hc_period that make the health check fail.' },
  { key: 'hc_period', type: 'int', default: 60, description: 'Seconds over which the health check counts errors.' },
  { key: 'storage.path', type: 'string', default: null, description: 'Directory for filesystem chunks; required by storage.type filesystem.' },
  { key: 'storage.sync', type: 'enum', values: ['normal', 'full'], default: 'normal', description: 'How chunks are synced to disk.' },
  { key: 'storage.checksum', type: 'bool', default: false, description: 'Checksum chunks written to disk.' },
  { key: 'storage.max_chunks_up', type: 'int', default: 128, description: 'Most filesystem chunks kept in memory at once.' },
  { key: 'storage.backlog.mem_limit', type: 'size', default: '100M', description: "Accepted for compatibility. wsbit never loads the backlog into memory at start-up: each chunk is read back only when an output takes it, within storage.max_chunks_up." },
  { key: 'storage.metrics', type: 'bool', default: true, description: 'Serve chunk counts at /api/v1/storage (with HTTP_Server on).' },
  { key: 'storage.delete_irrecoverable_chunks', type: 'bool', default: false, description: 'Delete chunks found corrupt at start-up instead of moving them to storage.path/quarantine/.' },
  {
    key: 'storage.quarantine_limit',
    type: 'size',
    default: '100M',
    description: 'Most bytes kept in storage.path/quarantine/, where chunks found unreadable at start-up go (and a copy of those only partly readable); the oldest are dropped beyond it.',
  },
  { key: 'scheduler.base', type: 'int', default: 5, description: 'Base in seconds of the retry backoff.' },
  { key: 'scheduler.cap', type: 'int', default: 2000, description: 'Longest retry wait in seconds.' },
  { key: 'json.escape_unicode', type: 'bool', default: true, description: 'Write non-ASCII characters in JSON as \\uXXXX escapes.' },
  { key: 'json.convert_nan_to_null', type: 'bool', default: false, description: 'Write NaN and infinite floats in JSON as null.' },
  { key: 'hot_reload', type: 'bool', default: false, description: 'Reload the configuration on SIGHUP.' },
  { key: 'coro_stack_size', type: 'int', default: null, description: 'Accepted for compatibility; wsbit has no coroutine stacks.' },
] as const satisfies readonly ParamSpec[];
