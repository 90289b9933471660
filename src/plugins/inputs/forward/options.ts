import { ConfigError } from '../../../base/errors.js';
import type { ListenAddress } from '../../../base/listen.js';
import type { ResolvedConfig } from '../../../config/schema.js';
import type { HandshakeConfig } from '../../../forward/handshake.js';
import type { forwardInputSchema } from './schema.js';

/** What the forward input runs with, checked and derived from its configuration. */
export interface ForwardInputOptions {
  /** TCP, or `unix_path`. */
  address: ListenAddress;
  /** `unix_perm`, parsed from octal. */
  unixPerm: number | null;
  tag: string | null;
  tagPrefix: string | null;
  /** Step by which a connection's receive buffer grows (at least 1 KiB). */
  chunkBytes: number;
  /** Largest message a connection may send. */
  maxMessageBytes: number;
  /** Set when clients must pass the shared-key handshake. */
  handshake: HandshakeConfig | null;
}

export function forwardInputOptions(config: ResolvedConfig<typeof forwardInputSchema>, instance: string): ForwardInputOptions {
  const chunkBytes = Math.max(1024, config.buffer_chunk_size);
  const maxMessageBytes = config.buffer_max_size;
  if (maxMessageBytes < chunkBytes) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: buffer_max_size (${maxMessageBytes}) must not be smaller than buffer_chunk_size (${chunkBytes})`);
  }
  const users = new Map<string, string>();
  for (const pair of config['security.users']) {
    const [user, password, ...rest] = pair.trim().split(/\s+/);
    if (user === undefined || password === undefined || rest.length > 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid security.users '${pair}': expected 'username password'`);
    }
    users.set(user, password);
  }
  const sharedKey = config.shared_key ?? (config.empty_shared_key ? '' : null);
  if (users.size > 0 && sharedKey === null) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: security.users is set but no shared_key or empty_shared_key`);
  }
  const unixPerm = config.unix_perm === null ? null : Number.parseInt(config.unix_perm, 8);
  if (unixPerm !== null && (!Number.isInteger(unixPerm) || unixPerm < 0 || unixPerm > 0o7777)) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid unix_perm '${config.unix_perm ?? ''}': expected an octal mode such as 0660`);
  }
  return {
    address: config.unix_path === null ? { host: config.listen, port: config.port } : { path: config.unix_path },
    unixPerm,
    tag: config.tag,
    tagPrefix: config.tag_prefix,
    chunkBytes,
    maxMessageBytes,
    handshake: sharedKey === null ? null : { sharedKey, selfHostname: config.self_hostname, users },
  };
}
