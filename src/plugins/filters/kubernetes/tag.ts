/**
 * What a record's tag says about its container (`kube_regex.c`, `parse_regex_tag_data`): tail names
 * container logs `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`, and a `Tag
 * kube.*` turns that path into `kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`.
 */
import { mapEntries, readStr } from '../../../codec/msgpack-map.js';
import type { Parser } from '../../../parsers/types.js';

/** Fluent Bit's `KUBE_TAG_TO_REGEX`; Onigmo and JavaScript read it the same way. */
export const KUBE_TAG_REGEX =
  /(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\.log$/;

export interface TagMeta {
  podName: string | null;
  namespace: string | null;
  containerName: string | null;
  dockerId: string | null;
  /** Only a Regex_Parser with a container_hash group sets it (Fluent Bit's journal mode). */
  containerHash: string | null;
}

export type TagReader = (tag: string) => TagMeta | { error: string };

const FIELDS = ['pod_name', 'namespace_name', 'container_name', 'docker_id', 'container_hash'] as const;

function metaOf(get: (field: (typeof FIELDS)[number]) => string | null): TagMeta {
  // An empty capture counts as none, as cb_results skips zero-length values.
  const value = (field: (typeof FIELDS)[number]): string | null => {
    const text = get(field);
    return text === null || text === '' ? null : text;
  };
  return {
    podName: value('pod_name'),
    namespace: value('namespace_name'),
    containerName: value('container_name'),
    dockerId: value('docker_id'),
    containerHash: value('container_hash'),
  };
}

/**
 * Reads tags with `prefix` cut off by its length (Fluent Bit does not check that the tag starts with
 * it) and the default regex, or a Regex_Parser's regex searched in the rest.
 */
export function tagReader(prefix: string, parser: Parser | null): TagReader {
  return (tag) => {
    if (prefix.length + 1 >= tag.length) return { error: `incoming record tag (${tag}) is shorter than kube_tag_prefix value (${prefix}), skip filter` };
    const rest = tag.slice(prefix.length);
    if (parser === null) {
      const groups = KUBE_TAG_REGEX.exec(rest)?.groups;
      if (groups === undefined) return { error: `invalid pattern for given tag ${tag}` };
      return metaOf((field) => groups[field] ?? null);
    }
    const parsed = parser.parse(Buffer.from(rest, 'utf8'));
    if (!parsed.ok) return { error: `invalid pattern for given tag ${tag}` };
    const entries = mapEntries(parsed.body) ?? [];
    const byName = new Map<string, string>();
    for (const entry of entries) {
      const key = readStr(entry.keyBuf, entry.keyStart, entry.keyEnd);
      const value = readStr(entry.valueBuf, entry.valueStart, entry.end);
      if (key !== null && value !== null && !byName.has(key)) byName.set(key, value);
    }
    return metaOf((field) => byName.get(field) ?? null);
  };
}
