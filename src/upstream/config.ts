/**
 * Fluent Bit's upstream file (`flb_upstream_ha_from_file`): one `[UPSTREAM]` section with a `name`,
 * then one `[NODE]` section per server:
 *
 *     [UPSTREAM]
 *         name       forward-balancing
 *     [NODE]
 *         name       node-1
 *         host       127.0.0.1
 *         port       43000
 *         tls        off
 *
 * The loader (src/app) reads the file with the classic parser, so `@INCLUDE`, `@SET` and `${VAR}` work
 * and errors name FILE:LINE; YAML's `upstream_servers` gives the same sections. This module only
 * turns sections into nodes.
 */
import type { ConfigSection } from '../config/document.js';
import { tlsClientKeys } from '../config/common-keys.js';
import { configMessage, resolveConfig, type HeaderPair, type ParamSpec } from '../config/schema.js';
import { ConfigError, type ConfigOrigin } from '../base/errors.js';
import { tlsSettings, type TlsKeyValues, type TlsSettings } from '../base/tls.js';

/** The `upstream` key of the outputs that balance over nodes (http, forward, websocket). */
export const upstreamKey = {
  key: 'upstream',
  type: 'string',
  default: null,
  description:
    "Nodes to balance over and fail over between: the name of a YAML upstream_servers entry, or an upstream file ([UPSTREAM] and [NODE] sections, relative to the configuration file's directory); host and port are then ignored.",
} as const satisfies ParamSpec;

export const upstreamSchema = [
  { key: 'name', type: 'string', default: null, description: 'Name of the upstream, used in logs.' },
] as const satisfies readonly ParamSpec[];

/** `[NODE]` keys. `shared_key`, `self_hostname` are the forward output's per-node keys (as in Fluent Bit). */
export const nodeSchema = [
  { key: 'name', type: 'string', default: null, description: 'Name of the node, used in logs and metrics; defaults to host:port.' },
  { key: 'host', type: 'string', default: null, description: 'Host name or IP address of the node (required).' },
  { key: 'port', type: 'int', default: null, description: "TCP port of the node; the output's default port when unset." },
  { key: 'uri', type: 'string', default: null, description: "Path requested on this node (http output); the output's uri when unset." },
  { key: 'header', type: 'header', multiple: true, description: "An HTTP header sent to this node only, as 'Name value'." },
  { key: 'shared_key', type: 'string', default: null, description: "Shared key for this node (forward output); the output's when unset." },
  { key: 'self_hostname', type: 'string', default: null, description: "Host name given in the handshake with this node (forward output); the output's when unset." },
  ...tlsClientKeys,
] as const satisfies readonly ParamSpec[];

export interface UpstreamNode {
  /** Unique within the upstream; metrics use it. */
  name: string;
  host: string;
  port: number;
  uri: string | null;
  headers: HeaderPair[];
  sharedKey: string | null;
  selfHostname: string | null;
  tls: TlsSettings | null;
}

export interface UpstreamDefinition {
  name: string;
  nodes: UpstreamNode[];
}

/** Bounds on what a file may declare: a balancer over thousands of nodes is a mistake, not a plan. */
export const MAX_UPSTREAM_NODES = 256;

function upstreamError(reason: string, section?: ConfigSection): ConfigError {
  return new ConfigError('WSBIT_CONFIG_UPSTREAM', configMessage(reason, section?.origin), section?.origin);
}

function portInRange(port: number, where: string, section: ConfigSection): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw upstreamError(`${where}: invalid value '${port}' for 'port': expected 1 to 65535`, section);
  return port;
}

/**
 * Builds an upstream from its `[UPSTREAM]` and `[NODE]` sections (sections of other kinds are an
 * error: an upstream file holds nothing else). `defaultPort` is the output's (24224 for forward).
 */
export function upstreamFromSections(sections: readonly ConfigSection[], defaultPort: number): UpstreamDefinition {
  const heads = sections.filter((section) => section.kind === 'upstream_servers');
  const nodeSections = sections.filter((section) => section.kind === 'node');
  const other = sections.find((section) => section.kind !== 'upstream_servers' && section.kind !== 'node');
  if (other !== undefined) throw upstreamError(`section [${other.header}] does not belong in an upstream file: expected [UPSTREAM] and [NODE]`, other);
  if (heads.length !== 1) throw upstreamError(`an upstream file needs exactly one [UPSTREAM] section, found ${heads.length}`, heads[1]);
  const head = heads[0] as ConfigSection;
  // Checks for unknown keys only: resolveConfig leaves `name` to the caller, as for plugins.
  resolveConfig(upstreamSchema, head.entries, { instance: '[UPSTREAM]', kind: 'custom' });
  const name = head.entries.filter((entry) => entry.key === 'name').at(-1)?.value ?? '';
  if (name === '') throw upstreamError("[UPSTREAM] has no 'name'", head);
  if (nodeSections.length === 0) throw upstreamError(`upstream '${name}' has no [NODE] section`, head);
  if (nodeSections.length > MAX_UPSTREAM_NODES) throw upstreamError(`upstream '${name}' has ${nodeSections.length} nodes; at most ${MAX_UPSTREAM_NODES} are allowed`, head);

  const nodes: UpstreamNode[] = [];
  const seen = new Set<string>();
  for (const section of nodeSections) {
    const given = section.entries.filter((entry) => entry.key === 'name').at(-1)?.value ?? '';
    const where = `upstream '${name}' [NODE]${given === '' ? '' : ` '${given}'`}`;
    const { config } = resolveConfig(nodeSchema, section.entries, { instance: where, kind: 'custom' });
    if (config.host === null) throw upstreamError(`${where}: 'host' is required`, section);
    const port = portInRange(config.port ?? defaultPort, where, section);
    const nodeName = given === '' ? `${config.host}:${port}` : given;
    if (seen.has(nodeName)) throw upstreamError(`upstream '${name}' has two nodes named '${nodeName}'`, section);
    seen.add(nodeName);
    nodes.push({
      name: nodeName,
      host: config.host,
      port,
      uri: config.uri,
      headers: config.header,
      sharedKey: config.shared_key,
      selfHostname: config.self_hostname,
      tls: tlsSettings(config),
    });
  }
  return { name, nodes };
}

/**
 * An output's `upstream`, found but not yet given the output's default port: the `[UPSTREAM]` and
 * `[NODE]` sections of a file or of a YAML `upstream_servers` entry. The pipeline resolves the
 * reference (so `-D` checks it and a relative path is taken from the config file's directory), and the
 * output builds its nodes with `outputNodes`.
 */
export interface UpstreamSource {
  /** Where the nodes came from, for messages: the file's absolute path, or `upstream_servers 'NAME'`. */
  from: string;
  sections: ConfigSection[];
}

/** A YAML `upstream_servers` entry, which an output names with `upstream: NAME`. */
export interface NamedUpstream extends UpstreamSource {
  name: string;
  origin: ConfigOrigin;
}

/**
 * The path a request to `node` asks for: the node's own `uri`, else the output's, with a leading `/`
 * added as Fluent Bit adds it (`uri something` requests `/something`).
 */
export function nodeUri(node: UpstreamNode, outputUri: string): string {
  const uri = node.uri ?? outputUri;
  return uri.startsWith('/') ? uri : `/${uri}`;
}

/**
 * The nodes an output sends to: those of its resolved `upstream` (`source`, which the loader read),
 * or else one node made of its own `host`, `port` and `tls*` keys (named `host:port`). `port` is the
 * output's port or its default, which also fills in nodes without a port.
 */
export function outputNodes(
  instance: string,
  config: TlsKeyValues & { host: string | null; upstream: string | null },
  port: number,
  source?: UpstreamSource,
): UpstreamNode[] {
  if (port < 1 || port > 65535) {
    throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `${instance}: invalid value '${port}' for 'port': expected 1 to 65535`);
  }
  if (source !== undefined) return upstreamFromSections(source.sections, port).nodes;
  if (config.upstream !== null) {
    // Only the loader reads files: a plugin made without it has no way to its upstream file.
    throw new ConfigError('WSBIT_CONFIG_UPSTREAM', `${instance}: upstream '${config.upstream}' was not resolved; build the pipeline with the loader`);
  }
  const host = config.host ?? '127.0.0.1';
  return [{ name: `${host}:${port}`, host, port, uri: null, headers: [], sharedKey: null, selfHostname: null, tls: tlsSettings(config) }];
}
