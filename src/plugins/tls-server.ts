/**
 * TLS for the servers (the `websocket`, `tcp`, `forward` and `http` inputs and the `websocket_server` output), from the
 * shared `tlsServerKeys`: the HTTPS server they listen with, client certificates (`tls.verify_client`),
 * and failed handshakes counted and logged in summary, as a scanner or a client without a certificate
 * would otherwise write one line per connection.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import type { Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import { ConfigError, WsbitError, errorMessage } from '../base/errors.js';
import { httpsModule, tlsModule } from '../base/openssl.js';
import type { MetricName } from '../base/metrics.js';
import type { Telemetry } from '../base/telemetry.js';

/** The resolved `tlsServerKeys` of a server. */
export interface TlsServerKeyValues {
  tls: boolean;
  'tls.crt_file': string | null;
  'tls.key_file': string | null;
  'tls.key_passwd': string | null;
  'tls.min_version': string | null;
  'tls.max_version': string | null;
  'tls.ciphers': string | null;
  'tls.ca_file': string | null;
  'tls.verify_client': boolean;
}

/** Start-up check of the keys that only make sense together. */
export function checkTlsServerKeys(config: TlsServerKeyValues, instance: string): void {
  if (config.tls && (config['tls.crt_file'] === null || config['tls.key_file'] === null)) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: tls on needs tls.crt_file and tls.key_file`);
  }
  if (config['tls.verify_client'] && (!config.tls || config['tls.ca_file'] === null)) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: tls.verify_client on needs tls on and tls.ca_file (the CA that signs the clients' certificates)`);
  }
}

/**
 * The options of a TLS server from the `tls.*` keys, or null with tls off. The files are read now, so a
 * bad one fails start-up. `handshakeTimeoutMs`: how long a client may take over its handshake.
 */
export function tlsServerOptions(config: TlsServerKeyValues, instance: string, code: string, handshakeTimeoutMs?: number): TlsOptions | null {
  if (!config.tls) return null;
  const read = (key: 'tls.crt_file' | 'tls.key_file' | 'tls.ca_file'): Buffer => {
    const file = config[key] as string;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new WsbitError(code, `${instance}: cannot read ${key} ${file}: ${errorMessage(error)}`, { cause: error });
    }
  };
  const options: TlsOptions = { cert: read('tls.crt_file'), key: read('tls.key_file') };
  if (config['tls.key_passwd'] !== null) options.passphrase = config['tls.key_passwd'];
  if (config['tls.min_version'] !== null) options.minVersion = config['tls.min_version'] as TlsOptions['minVersion'];
  if (config['tls.max_version'] !== null) options.maxVersion = config['tls.max_version'] as TlsOptions['maxVersion'];
  if (config['tls.ciphers'] !== null) options.ciphers = config['tls.ciphers'];
  if (handshakeTimeoutMs !== undefined) options.handshakeTimeout = handshakeTimeoutMs;
  if (config['tls.verify_client']) {
    // The handshake itself refuses a client without a certificate signed by tls.ca_file.
    options.ca = read('tls.ca_file');
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  try {
    // Checks the certificate and key now rather than at the first client.
    tlsModule().createSecureContext(options);
  } catch (error) {
    throw new WsbitError(code, `${instance}: cannot use tls.crt_file/tls.key_file: ${errorMessage(error)}`, { cause: error });
  }
  return options;
}

/** The tls keys of the tcp, forward and http inputs (common-keys.ts serverInputKeys): tlsServerKeys with Fluent Bit's server extras. */
export interface InputTlsKeyValues extends TlsServerKeyValues {
  'tls.verify_client_cert': boolean;
  'net.accept_timeout': number;
}

/** The TLS options of a tcp, forward or http input, or null with tls off; tls.verify_client_cert is Fluent Bit's tls.verify_client. */
export function inputTlsOptions(config: InputTlsKeyValues, instance: string): TlsOptions | null {
  const keys = { ...config, 'tls.verify_client': config['tls.verify_client'] || config['tls.verify_client_cert'] };
  checkTlsServerKeys(keys, instance);
  return tlsServerOptions(keys, instance, 'WSBIT_INPUT_TLS', Math.max(1, config['net.accept_timeout']) * 1000);
}

/** A plain HTTP server, or HTTPS with the `tls.*` keys (the files are read now, so a bad one fails start-up). */
export function createTlsCapableServer(config: TlsServerKeyValues, instance: string, code: string, onRequest: RequestListener): Server {
  const options = tlsServerOptions(config, instance, code);
  return options === null ? createHttpServer(onRequest) : httpsModule().createServer(options, onRequest);
}

/**
 * Counts every failed handshake in `metric` and logs them in summary (one line, then how many more
 * each minute): a failed handshake is the client's problem, but an operator must be able to see it.
 */
export function countTlsFailures(server: Server | TlsServer, telemetry: Telemetry, metric: MetricName): void {
  const line = telemetry.logger.repeating('warn');
  server.on('tlsClientError', (error: Error & { reason?: string }, socket: TLSSocket) => {
    telemetry.count(metric);
    // OpenSSL's message carries its source file and line; its reason says what went wrong.
    line.log(`TLS handshake failed with ${socket.remoteAddress ?? 'a client'}: ${error.reason ?? error.message}`);
  });
}
