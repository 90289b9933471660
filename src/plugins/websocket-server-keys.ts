/**
 * What the two WebSocket servers (the `websocket` input and the `websocket_server` output) share in their
 * configuration: the port, the keys the admission gate reads (websocket/admission.ts), the compression
 * keys (websocket-server-compression.ts uses them), and the way a bad value is reported. Each plugin keeps its own descriptions, which say what the key guards there.
 */
import { ConfigError } from '../base/errors.js';
import { hostPolicy } from '../base/host-check.js';
import type { UpgradeGate } from '../websocket/admission.js';

export const serverPortKey = {
  key: 'port',
  type: 'int',
  default: 8080,
  min: 0,
  max: 65535,
  description: 'TCP port to listen on (0 picks a free port, logged at start-up).',
} as const;

export interface AdmissionKeyDescriptions {
  token: string;
  allowed_origins: string;
  allowed_hosts: string;
}

/** token, allowed_origins and allowed_hosts, in the order both servers list them. */
export function admissionKeys(descriptions: AdmissionKeyDescriptions) {
  return [
    { key: 'token', type: 'string', default: null, description: descriptions.token },
    { key: 'allowed_origins', type: 'list', default: null, description: descriptions.allowed_origins },
    { key: 'allowed_hosts', type: 'list', default: null, description: descriptions.allowed_hosts },
  ] as const;
}

/** The resolved keys of admissionKeys(). */
export interface AdmissionConfig {
  token: string | null;
  allowed_origins: string[] | null;
  allowed_hosts: string[] | null;
}

/** `compress` and `compress.max_connections`, with each server's defaults and wording. */
export function compressionKeys(settings: { on: boolean; maxConnections: number; compress: string }) {
  return [
    { key: 'compress', type: 'bool', default: settings.on, description: settings.compress },
    {
      key: 'compress.max_connections',
      type: 'int',
      default: settings.maxConnections,
      min: 0,
      description:
        'Most connections that may use permessage-deflate at once (each holds a zlib context: about 40 KB to inflate, 260 KB to deflate); clients after them are accepted uncompressed (0 = no limit).',
    },
  ] as const;
}

/** The resolved keys of compressionKeys(). */
export interface CompressionConfig {
  compress: boolean;
  'compress.max_connections': number;
}

/** Only a server that sends data messages deflates: websocket_server. */
export const compressLevelKey = {
  key: 'compress.level',
  type: 'int',
  default: 1,
  min: 1,
  max: 9,
  description: 'zlib level of permessage-deflate, from 1 (fastest) to 9 (smallest).',
} as const;

/**
 * 0 by default, unlike the websocket output's 1K: websocket_server sends each record as a message of
 * its own, mostly under 1 KB, and with context takeover even a short one shrinks against those before.
 */
export const compressThresholdKey = {
  key: 'compress.threshold',
  type: 'size',
  default: 0,
  description: 'Messages smaller than this are sent uncompressed (with compress on); 0 deflates every message.',
} as const;

/** A key whose value the schema accepted but the plugin cannot use. */
export function badValue(instance: string, key: string, value: unknown, expected: string): ConfigError {
  return new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value '${String(value)}' for '${key}': expected ${expected}`);
}

/** The admission gate of a server listening on `listen`, from its keys. */
export function admissionGate(
  config: AdmissionConfig,
  server: { subject: string; listen: string; path: string | null; capacity: { key: string; max: number } },
): UpgradeGate {
  return {
    subject: server.subject,
    // With a token, the token is the guard (a rebinding page cannot know it), so agents may use any name.
    hosts: config.token === null ? hostPolicy(server.listen, config.allowed_hosts) : null,
    path: server.path,
    allowedOrigins: config.allowed_origins,
    token: config.token,
    capacity: server.capacity,
  };
}
