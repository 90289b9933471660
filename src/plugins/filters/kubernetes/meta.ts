/**
 * The `kubernetes` and `kubernetes_namespace` maps a record gets, made from a pod or namespace object
 * of the API server as Fluent Bit makes them (`kube_meta.c`: merge_pod_meta, merge_namespace_meta,
 * extract_container_hash; `kube_property.c` for the fluentbit.io/ annotations). The JSON is read into
 * msgpack first (as flb_pack_json does), so labels and annotations keep their order and values bytes.
 */
import { arrayHeader } from '../../../codec/event.js';
import { jsonTextToMsgpack } from '../../../codec/json-scan.js';
import { findEntry, mapEntries, readStr, type MapEntry } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { skipValue } from '../../../codec/event.js';
import type { TagMeta } from './tag.js';

/** The fluentbit.io/ annotations a pod set for itself (parser names, exclusion), per stream. */
export interface PodProps {
  stdoutParser: string | null;
  stderrParser: string | null;
  stdoutExclude: boolean;
  stderrExclude: boolean;
}

export const NO_PROPS: PodProps = { stdoutParser: null, stderrParser: null, stdoutExclude: false, stderrExclude: false };

export interface PodMeta {
  /** The `kubernetes` map's bytes. */
  map: Buffer;
  props: PodProps;
}

export interface PodMetaOptions {
  labels: boolean;
  annotations: boolean;
  ownerReferences: boolean;
  allowParser: boolean;
  allowExclude: boolean;
  /** Kubelet's /pods is a PodList: the pod is looked up in `items` by name and namespace. */
  podList: boolean;
  /** Whether a parser name from an annotation exists. */
  parserExists(name: string): boolean;
  warn(message: string): void;
}

const enc = (text: string): Buffer => Buffer.from(text, 'utf8');
const K = {
  metadata: enc('metadata'),
  spec: enc('spec'),
  status: enc('status'),
  uid: enc('uid'),
  labels: enc('labels'),
  annotations: enc('annotations'),
  ownerReferences: enc('ownerReferences'),
  nodeName: enc('nodeName'),
  podIP: enc('podIP'),
  name: enc('name'),
  namespace: enc('namespace'),
  items: enc('items'),
  containerStatuses: enc('containerStatuses'),
  initContainerStatuses: enc('initContainerStatuses'),
  containerID: enc('containerID'),
  imageID: enc('imageID'),
  image: enc('image'),
};

/** API JSON as msgpack; throws WSBIT_JSON_INVALID for what is not JSON. */
export function packApiJson(body: Uint8Array): Buffer {
  return jsonTextToMsgpack(body);
}

function mapOf(buf: Buffer, entry: MapEntry | undefined): MapEntry[] | null {
  return entry === undefined ? null : mapEntries(buf, entry.valueStart, entry.end);
}

function strOf(buf: Buffer, entry: MapEntry | undefined): string | null {
  return entry === undefined ? null : readStr(buf, entry.valueStart, entry.end);
}

function arrayItems(buf: Buffer, entry: MapEntry | undefined): Array<{ start: number; end: number }> {
  if (entry === undefined) return [];
  const header = arrayHeader(buf, entry.valueStart, entry.end);
  if (header === null) return [];
  const items: Array<{ start: number; end: number }> = [];
  let pos = entry.valueStart + header.size;
  for (let i = 0; i < header.count; i++) {
    const end = skipValue(buf, pos, entry.end);
    items.push({ start: pos, end });
    pos = end;
  }
  return items;
}

/**
 * `extract_hash`: the part of a containerID/imageID after `scheme://` (`containerd://ID` → `ID`), or
 * the whole value when no slash follows its first colon (`sha256:…`); null without a colon.
 */
export function extractHash(value: string): string | null {
  if (value.length <= 1) return null;
  const colon = value.indexOf(':');
  if (colon < 0) return null;
  let slash = colon;
  while (value[slash + 1] === '/') slash++;
  if (slash === colon) return value;
  return slash + 1 < value.length ? value.slice(slash + 1) : null;
}

/** The pod item of a kubelet PodList whose metadata names this pod and namespace (search_item_in_items). */
function podInList(buf: Buffer, root: MapEntry[], tag: TagMeta): MapEntry[] | null {
  for (const item of arrayItems(buf, findEntry(buf, root, K.items))) {
    const entries = mapEntries(buf, item.start, item.end);
    if (entries === null) continue;
    const metadata = mapOf(buf, findEntry(buf, entries, K.metadata));
    if (metadata === null) continue;
    if (strOf(buf, findEntry(buf, metadata, K.name)) === tag.podName && strOf(buf, findEntry(buf, metadata, K.namespace)) === tag.namespace) return entries;
  }
  return null;
}

/** containerStatuses/initContainerStatuses of the tag's container: its id, image hash and image. */
function containerStatus(buf: Buffer, status: MapEntry[], containerName: string | null): { id: string | null; hash: string | null; image: string | null } | null {
  for (const entry of status) {
    if (!(keyIs(entry, K.containerStatuses) || keyIs(entry, K.initContainerStatuses))) continue;
    for (const item of arrayItems(buf, entry)) {
      const fields = mapEntries(buf, item.start, item.end);
      if (fields === null || strOf(buf, findEntry(buf, fields, K.name)) !== containerName) continue;
      const id = strOf(buf, findEntry(buf, fields, K.containerID));
      const imageId = strOf(buf, findEntry(buf, fields, K.imageID));
      return { id: id === null ? null : extractHash(id), hash: imageId === null ? null : extractHash(imageId), image: strOf(buf, findEntry(buf, fields, K.image)) || null };
    }
  }
  return null;
}

function keyIs(entry: MapEntry, name: Buffer): boolean {
  const key = readStr(entry.keyBuf, entry.keyStart, entry.keyEnd);
  return key !== null && key === name.toString('utf8');
}

function writeRaw(writer: MsgpackWriter, key: string, buf: Buffer, entry: MapEntry): void {
  writer.str(key);
  writer.raw(buf, entry.valueStart, entry.end);
}

/** The `kubernetes` map from the tag alone (merge_meta_from_tag): Use_Tag_For_Meta, or metadata that is late. */
export function tagOnlyMeta(tag: TagMeta): Buffer {
  const writer = new MsgpackWriter(256);
  const pairs: Array<[string, string | null]> = [
    ['pod_name', tag.podName],
    ['namespace_name', tag.namespace],
    ['container_name', tag.containerName],
    ['docker_id', tag.dockerId],
  ];
  const present = pairs.filter((pair): pair is [string, string] => pair[1] !== null);
  writer.mapHeader(present.length);
  for (const [key, value] of present) {
    writer.str(key);
    writer.str(value);
  }
  return writer.bytes();
}

/**
 * merge_pod_meta: pod_name, namespace_name, pod_id, labels, annotations, ownerReferences, host,
 * pod_ip, container_name, docker_id, container_hash, container_image, in this order, each when known.
 * The tag's docker_id wins over the container status's.
 */
export function podMeta(api: Buffer, tag: TagMeta, options: PodMetaOptions): PodMeta {
  const rootEntries = mapEntries(api) ?? [];
  const pod = options.podList ? podInList(api, rootEntries, tag) : rootEntries;
  const metadata = pod === null ? null : mapOf(api, findEntry(api, pod, K.metadata));
  const spec = pod === null ? null : mapOf(api, findEntry(api, pod, K.spec));
  const status = pod === null ? null : mapOf(api, findEntry(api, pod, K.status));
  const uid = metadata === null ? undefined : findEntry(api, metadata, K.uid);
  const labels = metadata === null ? undefined : findEntry(api, metadata, K.labels);
  const annotations = metadata === null ? undefined : findEntry(api, metadata, K.annotations);
  const owners = metadata === null ? undefined : findEntry(api, metadata, K.ownerReferences);
  const nodeName = spec === null ? undefined : findEntry(api, spec, K.nodeName);
  const podIp = status === null ? undefined : findEntry(api, status, K.podIP);
  const container = status === null ? null : containerStatus(api, status, tag.containerName);
  const dockerId = tag.dockerId ?? container?.id ?? null;
  const containerHash = tag.containerHash ?? container?.hash ?? null;
  const containerImage = container?.image ?? null;

  const writer = new MsgpackWriter(1024);
  const fields: Array<() => void> = [];
  const str = (key: string, value: string | null): void => {
    if (value !== null) fields.push(() => (writer.str(key), writer.str(value)));
  };
  const raw = (key: string, entry: MapEntry | undefined, wanted = true): void => {
    if (entry !== undefined && wanted) fields.push(() => writeRaw(writer, key, api, entry));
  };
  str('pod_name', tag.podName);
  str('namespace_name', tag.namespace);
  raw('pod_id', uid);
  raw('labels', labels, options.labels);
  raw('annotations', annotations, options.annotations);
  raw('ownerReferences', owners, options.ownerReferences);
  raw('host', nodeName);
  raw('pod_ip', podIp);
  str('container_name', tag.containerName);
  str('docker_id', dockerId);
  str('container_hash', containerHash);
  str('container_image', containerImage);
  writer.mapHeader(fields.length);
  for (const field of fields) field();
  // Annotations are read for fluentbit.io/ properties even when Annotations Off leaves them out.
  const props = annotations === undefined ? NO_PROPS : podProps(api, mapOf(api, annotations) ?? [], tag, options);
  return { map: writer.bytes(), props };
}

/** merge_namespace_meta: name, then labels and annotations when asked for. */
export function namespaceMeta(api: Buffer, namespace: string, options: { labels: boolean; annotations: boolean }): Buffer {
  const root = mapEntries(api) ?? [];
  const metadata = mapOf(api, findEntry(api, root, K.metadata));
  const labels = metadata === null ? undefined : findEntry(api, metadata, K.labels);
  const annotations = metadata === null ? undefined : findEntry(api, metadata, K.annotations);
  const writer = new MsgpackWriter(512);
  const withLabels = labels !== undefined && options.labels;
  const withAnnotations = annotations !== undefined && options.annotations;
  writer.mapHeader(1 + (withLabels ? 1 : 0) + (withAnnotations ? 1 : 0));
  writer.str('name');
  writer.str(namespace);
  if (withLabels) writeRaw(writer, 'labels', api, labels);
  if (withAnnotations) writeRaw(writer, 'annotations', api, annotations);
  return writer.bytes();
}

const ANNOTATION_PREFIX = 'fluentbit.io/';

/**
 * flb_kube_prop_set over every `fluentbit.io/PROPERTY[_stdout|_stderr][-CONTAINER]` annotation: a
 * container-specific one wins over a general one, whatever their order; the rest keep the first.
 */
function podProps(buf: Buffer, annotations: MapEntry[], tag: TagMeta, options: PodMetaOptions): PodProps {
  const props = { stdoutParser: null as string | null, stderrParser: null as string | null, stdoutExclude: null as boolean | null, stderrExclude: null as boolean | null };
  const where = `(ns='${tag.namespace ?? ''}' pod_name='${tag.podName ?? ''}')`;
  for (const entry of annotations) {
    const key = readStr(buf, entry.keyStart, entry.keyEnd);
    if (key === null || key.length <= ANNOTATION_PREFIX.length || !key.startsWith(ANNOTATION_PREFIX)) continue;
    const value = readStr(buf, entry.valueStart, entry.end) ?? '';
    const property = key.slice(ANNOTATION_PREFIX.length);
    const match = /^(parser|exclude)(?:_([^-]*))?(?:-(.*))?$/s.exec(property);
    if (match === null) {
      options.warn(`unknown annotation '${key}' ${where}`);
      continue;
    }
    const [, kind, streamName, containerName] = match;
    if (streamName !== undefined && streamName !== 'stdout' && streamName !== 'stderr') {
      options.warn(`invalid stream in annotation '${key}' ${where}`);
      continue;
    }
    if (containerName === '') {
      options.warn(`invalid container in annotation '${key}' ${where}`);
      continue;
    }
    if (containerName !== undefined && containerName !== tag.containerName) continue;
    const specific = containerName !== undefined;
    const stdout = streamName === undefined || streamName === 'stdout';
    const stderr = streamName === undefined || streamName === 'stderr';
    if (kind === 'parser') {
      if (!options.allowParser) {
        options.warn(`annotation 'fluentbit.io/parser' not allowed ${where}`);
        continue;
      }
      if (!options.parserExists(value)) {
        options.warn(`annotation parser '${value}' not found (ns='${tag.namespace ?? ''}' pod_name='${tag.podName ?? ''}', container_name='${tag.containerName ?? ''}')`);
        continue;
      }
      if (stdout && (specific || props.stdoutParser === null)) props.stdoutParser = value;
      if (stderr && (specific || props.stderrParser === null)) props.stderrParser = value;
    } else {
      if (!options.allowExclude) {
        options.warn(`annotation 'fluentbit.io/exclude' not allowed ${where}`);
        continue;
      }
      const exclude = /^(true|on|yes)$/i.test(value);
      if (stdout && (specific || props.stdoutExclude === null)) props.stdoutExclude = exclude;
      if (stderr && (specific || props.stderrExclude === null)) props.stderrExclude = exclude;
    }
  }
  return { stdoutParser: props.stdoutParser, stderrParser: props.stderrParser, stdoutExclude: props.stdoutExclude === true, stderrExclude: props.stderrExclude === true };
}
