import { ConfigError } from '../../../base/errors.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import type { ParserRegistry } from '../../../pipeline/parser-registry.js';
import type { Parser } from '../../../parsers/types.js';
import type { TlsOptions } from 'node:tls';
import { inputTlsOptions } from '../../tls-server.js';
import type { httpInputSchema } from './schema.js';

export type HttpInputConfig = ResolvedConfig<typeof httpInputSchema>;

/**
 * Node's limit on a whole request (its default): a body that keeps trickling in slower than
 * body_idle_timeout notices still ends here. header_timeout may not be longer.
 */
export const REQUEST_TIMEOUT_MS = 300_000;

/** The status codes `successful_response_code` may name, with their reason phrases. */
const STATUS_TEXT: Readonly<Record<number, string>> = { 200: 'OK', 201: 'Created', 204: 'No Content' };

/** What the http input runs with, checked and derived from its configuration. */
export interface HttpInputOptions {
  listen: string;
  port: number;
  successStatus: number;
  successHeaders: Record<string, string>;
  /** `buffer_max_size`: the largest body, after decompression. */
  maxBodyBytes: number;
  /** `buffer_total_limit`: body bytes held across all connections (0 = no limit). */
  totalBodyLimitBytes: number;
  /** 0 = no limit. */
  maxConnections: number;
  /** `header_timeout` as configured, for messages, and in milliseconds (0 = off). */
  headerTimeoutSeconds: number;
  headerTimeoutMs: number;
  /** `body_idle_timeout` as configured, for messages, and in milliseconds (0 = off). */
  bodyIdleTimeoutSeconds: number;
  bodyIdleTimeoutMs: number;
  /** `tag_key` as bytes, for looking it up in msgpack records. */
  tagKey: Buffer | null;
  /** The key add_remote_addr writes, or null when it is off. */
  remoteAddrKey: string | null;
  /** For bodies that are neither JSON nor a form. */
  parser: Parser | null;
  /** With tls on: HTTPS (tls-server.ts); null: plain HTTP. */
  tls: TlsOptions | null;
  /** enable_health_endpoint: GET /health answers 200. */
  healthEndpoint: boolean;
}

export function httpInputOptions(config: HttpInputConfig, instance: string, parsers: ParserRegistry): HttpInputOptions {
  if (!(config.successful_response_code in STATUS_TEXT)) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: successful_response_code must be 200, 201 or 204, not ${config.successful_response_code}`);
  }
  const parser = config.parser === null ? null : parsers.require(config.parser, instance);
  const successHeaders: Record<string, string> = {};
  for (const header of config.success_header) successHeaders[header.name] = header.value;
  if (config.max_connections < 0) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid value '${config.max_connections}' for 'max_connections': expected a number of connections, 0 (no limit) or more`);
  }
  const headerTimeoutMs = Math.round(config.header_timeout * 1000);
  if (headerTimeoutMs > REQUEST_TIMEOUT_MS) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid value '${config.header_timeout}s' for 'header_timeout': expected at most ${REQUEST_TIMEOUT_MS / 1000}s`);
  }
  const tls = inputTlsOptions(config, instance);
  return {
    tls,
    healthEndpoint: config.enable_health_endpoint,
    listen: config.listen,
    port: config.port,
    successStatus: config.successful_response_code,
    successHeaders,
    maxBodyBytes: config['http_server.buffer_max_size'] ?? config.buffer_max_size,
    totalBodyLimitBytes: config.buffer_total_limit,
    maxConnections: config['http_server.max_connections'] ?? config.max_connections,
    headerTimeoutSeconds: config.header_timeout,
    headerTimeoutMs,
    bodyIdleTimeoutSeconds: config.body_idle_timeout,
    bodyIdleTimeoutMs: Math.round(config.body_idle_timeout * 1000),
    tagKey: config.tag_key === null ? null : Buffer.from(config.tag_key, 'utf8'),
    remoteAddrKey: config.add_remote_addr ? config.remote_addr_key : null,
    parser,
  };
}
