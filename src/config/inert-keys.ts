/**
 * Keys Fluent Bit 5.1.1 accepts that wsbit takes without acting on them, so that a Fluent Bit file
 * loads as it is. Each is declared once with why, in one of two ways:
 *
 * - noEffectKey: any valid value is accepted, and setting it logs one info line at start with the
 *   reason (`threaded`: wsbit's inputs share one event loop);
 * - onlyDefaultKey: the default is accepted (it is what wsbit does anyway); another value would ask
 *   for behaviour wsbit does not have, so it is a config error with the reason (`rate_gate on`).
 *
 * test/config/fluent-bit-keys.test.ts checks every key of Fluent Bit's `-J` help against the schemas;
 * the README lists both kinds (cli/readme-tables.ts).
 */
import type { ParamSpec, ParamType } from './schema.js';

export interface NoEffectSpec<Key extends string, Type extends ParamType, Default extends string | number | boolean | null = null> {
  readonly key: Key;
  readonly type: Type;
  readonly default: Default;
  readonly description: string;
  readonly noEffect: string;
}

export interface OnlyDefaultSpec<Key extends string, Type extends ParamType, Default extends string | number | boolean | null> {
  readonly key: Key;
  readonly type: Type;
  readonly default: Default;
  readonly description: string;
  readonly onlyDefault: string;
}

/**
 * `meaning`: what the key does in Fluent Bit; `reason`: why it does nothing in wsbit; `shownDefault`:
 * Fluent Bit's default, which help shows (the value changes nothing either way).
 */
export function noEffectKey<const Key extends string, const Type extends ParamType, const Default extends string | number | boolean | null = null>(
  key: Key,
  type: Type,
  meaning: string,
  reason: string,
  shownDefault: Default = null as Default,
): NoEffectSpec<Key, Type, Default> {
  return { key, type, default: shownDefault, description: `${meaning} Accepted; does nothing in wsbit: ${reason}.`, noEffect: reason };
}

/** `meaning`: what the key does in Fluent Bit; `reason`: why only its default is accepted. */
export function onlyDefaultKey<const Key extends string, const Type extends ParamType, const Default extends string | number | boolean | null>(
  key: Key,
  type: Type,
  fallback: Default,
  meaning: string,
  reason: string,
): OnlyDefaultSpec<Key, Type, Default> {
  const shown = fallback === null ? 'left unset' : `only ${typeof fallback === 'boolean' ? (fallback ? 'on' : 'off') : String(fallback)}`;
  return { key, type, default: fallback, description: `${meaning} Accepted ${shown}: ${reason}.`, onlyDefault: reason };
}

const NO_LOG_SUPPRESSION = 'wsbit does not fold repeated log lines; set log_level to hear less from an instance';

/** `log_suppress_interval`, a global option of every plugin. */
export const logSuppressKeys = [
  noEffectKey('log_suppress_interval', 'time', 'Fold repeated log messages of this instance within this interval.', NO_LOG_SUPPRESSION),
] as const satisfies readonly ParamSpec[];

const ONE_EVENT_LOOP = 'wsbit runs every input on one event loop, with no input threads';
const NO_RATE_GATE = 'wsbit has no input rate gate; the throttle filter limits records per interval and mem_buf_limit pauses an input';

/** The global options of every input that wsbit takes without acting on them. */
export const inputInertKeys = [
  ...logSuppressKeys,
  noEffectKey('threaded', 'bool', 'Run this input in a thread of its own.', ONE_EVENT_LOOP),
  noEffectKey('thread.ring_buffer.capacity', 'int', 'Ring buffer size of a threaded input.', ONE_EVENT_LOOP),
  noEffectKey('thread.ring_buffer.window', 'int', 'Ring buffer flush window (percent) of a threaded input.', ONE_EVENT_LOOP),
  noEffectKey('rate_window', 'time', "Window of the input's published rate metric.", 'wsbit publishes no per-input rate metric'),
  onlyDefaultKey('rate_gate', 'bool', false, 'Pause this input above a record or byte rate.', NO_RATE_GATE),
  noEffectKey('rate_gate.max_bytes', 'size', 'Byte rate per second of rate_gate.', NO_RATE_GATE),
  noEffectKey('rate_gate.max_records', 'int', 'Record rate per second of rate_gate.', NO_RATE_GATE),
  noEffectKey('rate_gate.backpressure', 'bool', 'Let retries lower the rate_gate limits.', NO_RATE_GATE),
  noEffectKey('rate_gate.resume_ratio', 'double', 'Resume threshold of rate_gate.', NO_RATE_GATE),
] as const satisfies readonly ParamSpec[];

const WINDOWS_ONLY = "Fluent Bit reads it on Windows only; wsbit takes certificates from files (tls.ca_file)";

/** The global options of every output that wsbit takes without acting on them. */
export const outputInertKeys = [
  ...logSuppressKeys,
  noEffectKey('tls.windows.certstore_name', 'string', 'Windows certificate store to read.', WINDOWS_ONLY),
  noEffectKey('tls.windows.use_enterprise_store', 'string', 'Read the Windows enterprise certificate store.', WINDOWS_ONLY),
  noEffectKey('tls.windows.client_thumbprints', 'string', 'Certificates of the Windows store to trust.', WINDOWS_ONLY),
] as const satisfies readonly ParamSpec[];

const SYSTEM_RESOLVER = "wsbit resolves names with the system's resolver (getaddrinfo)";
const NO_TCP_KEEPALIVE = 'wsbit sends no TCP keepalive probes; net.keepalive_idle_timeout closes idle connections';

/** The `networking` keys of Fluent Bit's network clients (`upstream_net[]`) that wsbit takes without acting on them. */
export const netClientInertKeys = [
  noEffectKey('net.dns.mode', 'string', 'DNS transport (TCP or UDP).', SYSTEM_RESOLVER),
  noEffectKey('net.dns.resolver', 'string', 'DNS resolver (LEGACY or ASYNC).', SYSTEM_RESOLVER),
  noEffectKey('net.dns.prefer_ipv4', 'bool', 'Prefer IPv4 addresses of a name.', SYSTEM_RESOLVER),
  noEffectKey('net.dns.prefer_ipv6', 'bool', 'Prefer IPv6 addresses of a name.', SYSTEM_RESOLVER),
  noEffectKey('net.tcp_keepalive', 'bool', 'Send TCP keepalive probes.', NO_TCP_KEEPALIVE),
  noEffectKey('net.tcp_keepalive_time', 'int', 'Idle seconds before the first TCP keepalive probe.', NO_TCP_KEEPALIVE),
  noEffectKey('net.tcp_keepalive_interval', 'int', 'Seconds between TCP keepalive probes.', NO_TCP_KEEPALIVE),
  noEffectKey('net.tcp_keepalive_probes', 'int', 'Unanswered TCP keepalive probes before the connection is dropped.', NO_TCP_KEEPALIVE),
] as const satisfies readonly ParamSpec[];

const PLAIN_PROXY = 'wsbit speaks plain HTTP to a proxy (an http:// proxy URL); TLS runs to the server inside the tunnel, checked by tls.*';

/** `tls.proxy.*` of Fluent Bit's network clients: TLS to an https:// proxy, which wsbit does not dial. */
export const proxyTlsInertKeys = [
  ...(['tls.proxy.ca_file', 'tls.proxy.ca_path'] as const).map((key) => noEffectKey(key, 'string', 'CA certificates of an HTTPS proxy.', PLAIN_PROXY)),
  ...(['tls.proxy.verify', 'tls.proxy.verify_hostname'] as const).map((key) => noEffectKey(key, 'bool', "Verify an HTTPS proxy's certificate.", PLAIN_PROXY)),
] as const satisfies readonly ParamSpec[];

const OPENSSL_DEBUG = "it sets OpenSSL's debug verbosity, which Node's TLS does not expose";

/** `tls_configmap` keys of TLS clients that wsbit takes without acting on them. */
export const tlsClientInertKeys = [
  noEffectKey('tls.verify_client_cert', 'bool', 'Require client certificates (a server-side setting).', 'a client is asked for no certificate'),
  noEffectKey('tls.debug', 'int', 'TLS debug verbosity, 0 to 4.', OPENSSL_DEBUG),
] as const satisfies readonly ParamSpec[];

/** For the outputs that do not limit their connections (the http output does). */
export const maxWorkerConnectionsInertKeys = [
  noEffectKey('net.max_worker_connections', 'int', 'Most connections per output worker thread.', 'wsbit has no output worker threads; workers bounds the flushes in flight'),
] as const satisfies readonly ParamSpec[];

const STAY_OPEN = 'a connection stays open until the client closes it or a limit of the input is reached';
const NO_PROXY = 'a server makes no proxy connections';

/** Fluent Bit's `networking` keys of servers (the tcp, forward and http inputs) that wsbit takes without acting on them. */
export const serverInputInertKeys = [
  noEffectKey('host', 'string', "The instance's host name (a server binds to listen).", 'wsbit binds to listen and has no other use for it'),
  noEffectKey('net.share_port', 'bool', 'Let several instances bind one port (SO_REUSEPORT).', 'wsbit binds a port once; a second listener on it fails at start'),
  noEffectKey('net.backlog', 'int', 'Backlog of the listening socket.', "Node's default backlog (511) is used"),
  noEffectKey('net.io_timeout', 'time', 'Close a connection idle this long.', STAY_OPEN),
  noEffectKey('net.keepalive', 'bool', 'Keep connections open between messages.', STAY_OPEN),
  noEffectKey('net.accept_timeout_log_error', 'bool', 'Log accept timeouts as errors.', 'failed TLS handshakes are counted and logged in summary, as warnings'),
] as const satisfies readonly ParamSpec[];

/** Fluent Bit's listener threads (in_tcp, in_forward, in_http), which wsbit's servers do not have. */
export const ONE_LISTENER_LOOP = 'wsbit runs every input on one event loop, with no listener threads';

/** Fluent Bit's `network_tls` keys of servers beyond the shared tlsServerKeys (which they are spread after). */
export const serverTlsExtraKeys = [
  { key: 'tls.verify_client_cert', type: 'bool', default: false, description: "Fluent Bit's name for tls.verify_client: either on requires client certificates." },
  { key: 'net.accept_timeout', type: 'time', default: '10s', description: 'Longest TLS handshake of a new connection; a slower client is dropped.' },
  noEffectKey('tls.verify', 'bool', "Verify the peer's certificate.", 'a server checks client certificates only with tls.verify_client (tls.verify_client_cert)'),
  noEffectKey('tls.verify_hostname', 'bool', "Check the peer's host name.", 'a server has no host name to check clients against'),
  noEffectKey('tls.vhost', 'string', 'Server name sent with SNI.', 'a server sends no SNI'),
  noEffectKey('tls.debug', 'int', 'TLS debug verbosity, 0 to 4.', OPENSSL_DEBUG),
  onlyDefaultKey('tls.ca_path', 'string', null, 'Directory of CA certificates.', 'give the CA of client certificates in tls.ca_file'),
  ...(['tls.proxy.ca_file', 'tls.proxy.ca_path'] as const).map((key) => noEffectKey(key, 'string', 'TLS to a proxy.', NO_PROXY)),
  ...(['tls.proxy.verify', 'tls.proxy.verify_hostname'] as const).map((key) => noEffectKey(key, 'bool', 'TLS to a proxy.', NO_PROXY)),
] as const satisfies readonly ParamSpec[];
