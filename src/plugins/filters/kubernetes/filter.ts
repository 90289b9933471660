/**
 * The kubernetes filter at run time. The records of one emit come from one container (the tag says
 * which); when its pod's metadata is cached they are enriched at once. On a miss they are held while
 * the API server is asked, for at most kube_meta_wait, and released through the filter context's
 * emit, in order, with the metadata or (when it is late) with what the tag tells. A slow or failing
 * API server therefore delays records by a bounded time and never stops the pipeline.
 */
import { forEachEvent, isGroupMarker } from '../../../codec/event.js';
import { errorMessage } from '../../../base/errors.js';
import type { TimerHandle } from '../../../base/clock.js';
import type { FilterContext, FilterInstance } from '../../../pipeline/contracts.js';
import { countFilterRecords } from '../event-rewriter.js';
import type { KubeApi } from './api.js';
import { MetaCache, type Lookup } from './cache.js';
import { namespaceMeta, NO_PROPS, podMeta, tagOnlyMeta, type PodMeta, type PodMetaOptions } from './meta.js';
import { recordWriter, writeEnriched, type KnownMeta, type MergeOptions } from './record.js';
import type { TagMeta, TagReader } from './tag.js';

export interface KubernetesOptions {
  readTag: TagReader;
  /** Null with Use_Tag_For_Meta: no network at all. */
  api: KubeApi | null;
  podOptions: Omit<PodMetaOptions, 'warn'>;
  merge: MergeOptions;
  wantPod: boolean;
  namespaceLabels: boolean;
  namespaceAnnotations: boolean;
  cacheUseDockerId: boolean;
  waitMs: number;
  cacheSize: number;
  podTtlMs: number;
  namespaceTtlMs: number;
}

/** How long a failed fetch is remembered before the pod is asked for again. */
const FAILED_RETRY_MS = 10_000;
/** Records held for metadata at most, across pods: beyond it records pass with what is known. */
const MAX_HELD_BYTES = 32 * 1024 * 1024;
/** Late records are reported at most this often, summed. */
const LATE_REPORT_MS = 30_000;
/** Distinct tags whose mismatch is logged; later ones at debug only. */
const MAX_WARNED_TAGS = 100;

interface HeldBatch {
  events: Buffer;
  records: number;
  tag: string;
  input: string;
  meta: TagMeta;
}

interface Queue {
  batches: HeldBatch[];
  timer: TimerHandle | null;
}

type Context = FilterContext<unknown>;

export class KubernetesFilter implements FilterInstance {
  private readonly pods: MetaCache<PodMeta>;
  private readonly namespaces: MetaCache<Buffer>;
  private readonly queues = new Map<string, Queue>();
  /** Pods whose records waited their whole kube_meta_wait: later ones pass at once until the fetch ends. */
  private readonly gaveUp = new Set<string>();
  private readonly writer = recordWriter();
  private readonly warnedTags = new Set<string>();
  private heldBytes = 0;
  private stopped = false;
  private late = { records: 0, pods: new Set<string>(), lastReportMs: -Infinity, timer: null as TimerHandle | null };

  constructor(
    private readonly options: KubernetesOptions,
    private readonly context: Context,
  ) {
    const now = (): number => context.clock.nowMs();
    this.pods = new MetaCache({ capacity: options.cacheSize, ttlMs: options.podTtlMs, retryMs: FAILED_RETRY_MS, now });
    this.namespaces = new MetaCache({ capacity: options.cacheSize, ttlMs: options.namespaceTtlMs, retryMs: FAILED_RETRY_MS, now });
  }

  filter(events: Buffer, records: number, tag: string, input?: string): { events: Buffer; records: number } {
    const { telemetry } = this.context;
    const meta = this.options.readTag(tag);
    if ('error' in meta) {
      this.warnTag(tag, meta.error);
      countFilterRecords(telemetry, records, records);
      return { events, records };
    }
    if (this.options.api === null) return this.pass(events, records, { kube: tagOnlyMeta(meta), namespace: null, props: NO_PROPS });
    const key = this.podKey(meta);
    const queue = this.queues.get(key);
    const pod = this.lookupPod(meta, key);
    const namespace = this.lookupNamespace(meta);
    if (queue === undefined && pod.ready && namespace.ready) {
      this.gaveUp.delete(key);
      return this.pass(events, records, this.known(meta, pod.value, namespace.value));
    }
    const emit = this.context.emit;
    if (queue === undefined && (emit === undefined || input === undefined || this.gaveUp.has(key) || this.heldBytes + events.length > MAX_HELD_BYTES)) {
      // Records that cannot wait (an output's processor, the hold is full, the pod is already late).
      this.noteLate(key, records);
      return this.pass(events, records, this.known(meta, pod.ready ? pod.value : null, namespace.ready ? namespace.value : null, !pod.ready));
    }
    telemetry.count('fluentbit_filter_records_total', records);
    this.hold(key, { events: Buffer.from(events), records, tag, input: input as string, meta }, [pod, namespace]);
    return { events: events.subarray(0, 0), records: 0 };
  }

  stop(): void {
    if (this.stopped) return;
    // What is held goes on with what is known now, so nothing is lost at shutdown.
    for (const key of [...this.queues.keys()]) this.release(key, true);
    this.stopped = true;
    this.late.timer?.cancel();
    this.reportLate();
    void this.options.api?.close();
  }

  private podKey(meta: TagMeta): string {
    const parts = [meta.namespace ?? '', meta.podName ?? '', meta.containerName ?? ''];
    if (this.options.cacheUseDockerId) parts.push(meta.dockerId ?? '');
    return parts.join(':');
  }

  private lookupPod(meta: TagMeta, key: string): Lookup<PodMeta> {
    const { api } = this.options;
    if (!this.options.wantPod || api === null || meta.namespace === null || meta.podName === null) return { ready: true, value: null };
    const { namespace, podName } = meta;
    const warn = (message: string): void => this.context.logger.warn(message);
    return this.pods.lookup(
      key,
      async () => {
        this.context.telemetry.count('wsbit_filter_kubernetes_requests_total');
        const pod = podMeta(await api.pod(namespace, podName), meta, { ...this.options.podOptions, warn });
        this.context.logger.debug(`got the metadata of pod ${namespace}/${podName}`);
        return pod;
      },
      (error) => this.failed(`pod ${namespace}/${podName}`, error),
    );
  }

  private lookupNamespace(meta: TagMeta): Lookup<Buffer> {
    const { api, namespaceLabels, namespaceAnnotations } = this.options;
    if (!(namespaceLabels || namespaceAnnotations) || api === null || meta.namespace === null) return { ready: true, value: null };
    const { namespace } = meta;
    return this.namespaces.lookup(
      namespace,
      async () => {
        this.context.telemetry.count('wsbit_filter_kubernetes_requests_total');
        return namespaceMeta(await api.namespace(namespace), namespace, { labels: namespaceLabels, annotations: namespaceAnnotations });
      },
      (error) => this.failed(`namespace ${namespace}`, error),
    );
  }

  private failed(what: string, error: unknown): void {
    this.context.telemetry.count('wsbit_filter_kubernetes_request_errors_total');
    if (!this.stopped) this.context.logger.error(`cannot get metadata of ${what}: ${errorMessage(error)}; its records pass without it (asked again in ${FAILED_RETRY_MS / 1000}s)`);
  }

  /**
   * `late`: the pod's metadata did not come in time, so the `kubernetes` map holds what the tag tells,
   * where a failed fetch (as in Fluent Bit) leaves the map out.
   */
  private known(meta: TagMeta, pod: PodMeta | null, namespace: Buffer | null, late = false): KnownMeta {
    const kube = pod !== null ? pod.map : late && this.options.wantPod ? tagOnlyMeta(meta) : null;
    return { kube, namespace, props: pod?.props ?? NO_PROPS };
  }

  private hold(key: string, batch: HeldBatch, lookups: Array<Lookup<unknown>>): void {
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = { batches: [], timer: null };
      this.queues.set(key, queue);
      this.context.telemetry.count('wsbit_filter_kubernetes_waits_total');
      queue.timer = this.context.clock.setTimeout(() => this.timedOut(key), this.options.waitMs);
    }
    queue.batches.push(batch);
    this.heldBytes += batch.events.length;
    const pending = lookups.filter((lookup): lookup is { ready: false; settled: Promise<void> } => !lookup.ready).map((lookup) => lookup.settled);
    void Promise.all(pending).then(() => this.release(key, false));
  }

  private timedOut(key: string): void {
    const queue = this.queues.get(key);
    if (queue === undefined || this.stopped) return;
    queue.timer = null;
    this.gaveUp.add(key);
    this.release(key, true);
  }

  /** Hands a queue's records on, in order: when its fetches ended, or (`force`) with what is known. */
  private release(key: string, force: boolean): void {
    const queue = this.queues.get(key);
    if (queue === undefined || this.stopped) return;
    const first = queue.batches[0];
    if (first === undefined) return;
    const pod = this.peekPod(first.meta, key);
    const namespace = this.peekNamespace(first.meta);
    if (!force && (pod === undefined || namespace === undefined)) return;
    queue.timer?.cancel();
    this.queues.delete(key);
    if (pod !== undefined && namespace !== undefined) this.gaveUp.delete(key);
    else this.noteLate(key, queue.batches.reduce((sum, batch) => sum + batch.records, 0));
    const emit = this.context.emit as NonNullable<Context['emit']>;
    for (const batch of queue.batches) {
      this.heldBytes -= batch.events.length;
      const known = this.known(batch.meta, pod ?? null, namespace ?? null, pod === undefined);
      const { events, records } = this.rewrite(batch.events, known);
      this.context.telemetry.count('fluentbit_filter_emit_records_total', records);
      if (records < batch.records) this.context.telemetry.count('fluentbit_filter_drop_records_total', batch.records - records);
      if (records > 0) emit(events, records, batch.tag, batch.input);
    }
  }

  /** Undefined: not known yet; null: known to be unavailable. */
  private peekPod(meta: TagMeta, key: string): PodMeta | null | undefined {
    if (!this.options.wantPod || meta.namespace === null || meta.podName === null) return null;
    const cached = this.pods.peek(key);
    return cached === undefined ? undefined : cached.value;
  }

  private peekNamespace(meta: TagMeta): Buffer | null | undefined {
    if (!(this.options.namespaceLabels || this.options.namespaceAnnotations) || meta.namespace === null) return null;
    const cached = this.namespaces.peek(meta.namespace);
    return cached === undefined ? undefined : cached.value;
  }

  private pass(events: Buffer, records: number, known: KnownMeta): { events: Buffer; records: number } {
    const out = this.rewrite(events, known);
    countFilterRecords(this.context.telemetry, records, out.records);
    return out;
  }

  private rewrite(events: Buffer, known: KnownMeta): { events: Buffer; records: number } {
    const { writer } = this;
    writer.reset();
    let kept = 0;
    forEachEvent(events, (event) => {
      if (isGroupMarker(event)) {
        writer.raw(events, event.start, event.end);
        return;
      }
      const mark = writer.length;
      if (writeEnriched(writer, events, event, known, this.options.merge)) kept++;
      else writer.truncate(mark);
    });
    return { events: writer.bytes(), records: kept };
  }

  private noteLate(key: string, records: number): void {
    this.context.telemetry.count('wsbit_filter_kubernetes_late_records_total', records);
    this.late.records += records;
    this.late.pods.add(key);
    const now = this.context.clock.nowMs();
    if (now - this.late.lastReportMs >= LATE_REPORT_MS) this.reportLate();
    else this.late.timer ??= this.context.clock.setTimeout(() => this.reportLate(), this.late.lastReportMs + LATE_REPORT_MS - now);
  }

  private reportLate(): void {
    const { late } = this;
    late.timer?.cancel();
    late.timer = null;
    if (late.records === 0) return;
    const pods = [...late.pods];
    const shown = pods.slice(0, 5).join(', ') + (pods.length > 5 ? `, and ${pods.length - 5} more` : '');
    this.context.logger.warn(
      `${late.records} record(s) of ${pods.length} container(s) passed with the tag's metadata only: the API server did not answer within kube_meta_wait (${this.options.waitMs / 1000}s) (${shown}); wsbit_filter_kubernetes_late_records_total counts them`,
    );
    late.records = 0;
    late.pods.clear();
    late.lastReportMs = this.context.clock.nowMs();
  }

  private warnTag(tag: string, message: string): void {
    if (this.warnedTags.has(tag) || this.warnedTags.size >= MAX_WARNED_TAGS) {
      this.context.logger.debug(message);
      return;
    }
    this.warnedTags.add(tag);
    this.context.logger.warn(message);
  }
}
