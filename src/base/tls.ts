/**
 * The `tls` and `tls.*` keys (common-keys.ts `tlsClientKeys`) as Node's `tls.connect` options, for
 * every output that opens its own connections (http, forward, and the websocket client connection).
 * An upstream node may carry its own `tls*` keys, so the mapping takes a plain key → value record.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ConnectionOptions, SecureVersion } from 'node:tls';
import { WsbitError, errorMessage } from './errors.js';

export interface TlsSettings {
  verify: boolean;
  verifyHostname: boolean;
  caFile: string | null;
  caPath: string | null;
  crtFile: string | null;
  keyFile: string | null;
  keyPassphrase: string | null;
  minVersion: SecureVersion | null;
  maxVersion: SecureVersion | null;
  ciphers: string | null;
  /** SNI name (`tls.vhost`); the host when unset, unless the host is an IP address. */
  servername: string | null;
}

/** The resolved `tlsClientKeys` of an output or a node. */
export interface TlsKeyValues {
  tls: boolean;
  'tls.verify': boolean;
  'tls.verify_hostname': boolean;
  'tls.vhost': string | null;
  'tls.ca_file': string | null;
  'tls.ca_path': string | null;
  'tls.crt_file': string | null;
  'tls.key_file': string | null;
  'tls.key_passwd': string | null;
  'tls.min_version': string | null;
  'tls.max_version': string | null;
  'tls.ciphers': string | null;
}

/** `null` when `tls` is off. */
export function tlsSettings(config: TlsKeyValues): TlsSettings | null {
  if (!config.tls) return null;
  return {
    verify: config['tls.verify'],
    verifyHostname: config['tls.verify_hostname'],
    caFile: config['tls.ca_file'],
    caPath: config['tls.ca_path'],
    crtFile: config['tls.crt_file'],
    keyFile: config['tls.key_file'],
    keyPassphrase: config['tls.key_passwd'],
    minVersion: config['tls.min_version'] as SecureVersion | null,
    maxVersion: config['tls.max_version'] as SecureVersion | null,
    ciphers: config['tls.ciphers'],
    servername: config['tls.vhost'],
  };
}

/**
 * Node's connect options for `settings`. Only keys with values are set: Node merges these over its
 * defaults, and an explicit `undefined` would erase one (`checkServerIdentity`). Throws
 * `WSBIT_TLS_CONFIG` when a certificate file cannot be read.
 */
export function tlsConnectOptions(settings: TlsSettings, host: string): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: settings.verify };
  try {
    const authorities: Buffer[] = [];
    if (settings.caFile !== null) authorities.push(readFileSync(settings.caFile));
    if (settings.caPath !== null) {
      for (const name of readdirSync(settings.caPath).sort()) {
        if (/\.(pem|crt|cer)$/i.test(name)) authorities.push(readFileSync(join(settings.caPath, name)));
      }
    }
    if (authorities.length > 0) options.ca = authorities;
    if (settings.crtFile !== null) options.cert = readFileSync(settings.crtFile);
    if (settings.keyFile !== null) options.key = readFileSync(settings.keyFile);
  } catch (error) {
    throw new WsbitError('WSBIT_TLS_CONFIG', `cannot read TLS file: ${errorMessage(error)}`, { cause: error });
  }
  // SNI must be a DNS name (RFC 6066 §3), so an IP host sends none unless one is configured.
  const servername = settings.servername ?? (isIP(host) === 0 ? host.replace(/\.+$/, '') : null);
  if (servername !== null) options.servername = servername;
  if (!settings.verifyHostname) options.checkServerIdentity = () => undefined;
  if (settings.keyPassphrase !== null) options.passphrase = settings.keyPassphrase;
  if (settings.minVersion !== null) options.minVersion = settings.minVersion;
  if (settings.maxVersion !== null) options.maxVersion = settings.maxVersion;
  if (settings.ciphers !== null) options.ciphers = settings.ciphers;
  return options;
}
