import { retryWaitSeconds } from '../base/backoff.js';
import { Chunk, chunkBytesLimit, newChunkId, sizeChunkBuffers, type ChunkView } from './chunk.js';
import type { Clock, TimerHandle } from '../base/clock.js';
import { errorMessage } from '../base/errors.js';
import type { Logger, MessageLevel } from '../base/logger.js';
import type { MetricName } from '../base/metrics.js';
import { routeMatches } from './router.js';
import type { Telemetry } from '../base/telemetry.js';
import type { FlushResult } from './contracts.js';
import { processChunk } from './filter-chain.js';
import { BufferLimits } from './buffer-limits.js';
import { OutageNarration, type Backlog } from './outage.js';
import { HeldChunks, type StorageReport } from './held-chunks.js';
import { ShutdownReport, type UndeliveredBy } from './shutdown-report.js';
import { queueTask, startQueued } from './output-queue.js';
import { DEFAULT_DISK_PROBE_SECONDS, DiskWatch } from './disk-watch.js';
import type { ChunkTracking, EngineSettings, InputRegistration, InputState, OutputRegistration, OutputState, Task } from './engine-state.js';

export type { EngineSettings, InputRegistration, OutputRegistration } from './engine-state.js';

/** A memory chunk a stopped engine gives to its successor (hot reload) instead of losing it. */
export interface HandedOverChunk {
  tag: string;
  data: Buffer;
  records: number;
}

export interface EngineStopResult {
  undeliveredRecords: number;
  handedOver: HandedOverChunk[];
}

/**
 * The engine: inputs append records into one open chunk per (input, tag); every `Flush` seconds the
 * open chunks are sealed and routed by `Match` to one task per output. Outputs answer ok, retry or
 * error, and only the engine decides when to try again (Fluent Bit's scheduler rules).
 */
export class Engine {
  private readonly inputs = new Map<string, InputState>();
  private readonly outputs: OutputState[] = [];
  private readonly stoppedPlugins = new Set<InputState | OutputState>();
  private readonly tracking = new HeldChunks();
  private readonly warnedUnroutedTags = new Set<string>();
  private readonly limits: BufferLimits;
  private readonly disk: DiskWatch;
  private flushTimer: TimerHandle | null = null;
  private nextTaskId = 0;
  private stopping = false;
  /** After stop(): late results of flushes still running are ignored, and nothing is retried. */
  private stopped = false;

  constructor(
    private readonly settings: EngineSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {
    this.limits = new BufferLimits(settings.maxChunksUp ?? Infinity, logger);
    this.disk = new DiskWatch(
      clock,
      logger,
      settings.diskProbeSeconds ?? DEFAULT_DISK_PROBE_SECONDS,
      (bytes) => settings.diskProbe?.(bytes),
      () => this.checkAllInputs(),
      settings.storageTelemetry ?? null,
    );
  }

  addInput(registration: InputRegistration): void {
    this.inputs.set(registration.instance, { ...registration, openChunks: new Map(), bufferedBytes: 0, paused: false });
    // Filesystem chunks are bounded by storage.max_chunks_up rather than Mem_Buf_Limit: no limit here.
    sizeChunkBuffers([...this.inputs.values()].map((input) => (input.storage.countsAgainstMemoryLimit ? input.memBufLimitBytes : 0)));
  }

  addOutput(registration: OutputRegistration): void {
    this.outputs.push({
      ...registration,
      id: this.outputs.length,
      queue: [],
      running: 0,
      flying: new Set(),
      waiting: new Set(),
      diskTasks: [],
      ordered: registration.concurrency <= 1,
      outage: new OutageNarration(registration.instance, this.logger, () => this.clock.nowMs()),
    });
  }

  /**
   * Appends events from an input. Data arriving while the input is paused is still kept, never
   * dropped. Returns true when the records are stored as the input's storage promises (for
   * filesystem storage: written to a chunk file), false when they are kept in memory only because
   * the disk cannot take them: the input must then not acknowledge them (InputContext.emit).
   */
  append(inputInstance: string, tag: string, events: Buffer, records: number): boolean {
    const input = this.inputs.get(inputInstance);
    if (input === undefined) throw new Error(`unknown input instance ${inputInstance}`);
    if (records === 0) return true;
    let chunk = input.openChunks.get(tag);
    if (chunk === undefined) {
      chunk = new Chunk(newChunkId(this.clock.nowMs()), input.instance, tag);
      input.openChunks.set(tag, chunk);
      this.tracking.set(chunk, { input, pendingTasks: 0, runningTasks: 0, unstoredRecords: 0 });
    }
    chunk.append(events, records);
    const stored = this.persist(input, chunk, events, records);
    this.limits.appended(input, events.length);
    // A chunk whose file missed a write takes no more writes: its file stays a clean prefix.
    if (chunk.sizeBytes >= chunkBytesLimit || !stored) {
      input.openChunks.delete(tag);
      this.dispatch(chunk);
    }
    this.limits.check(input, this.stopping, this.diskBlocks(input));
    return stored;
  }

  /**
   * Whether an input that can make its sender keep records (no ack, a 503) may take `records` now.
   * False while chunk writes fail for its filesystem storage: the records are then counted as held
   * back, and the input refuses them without emitting.
   */
  admit(inputInstance: string, records: number): boolean {
    const input = this.inputs.get(inputInstance);
    if (input === undefined || !this.diskBlocks(input)) return true;
    this.disk.heldBack(records);
    input.telemetry.count('fluentbit_storage_refused_records_total', records);
    return false;
  }


  /**
   * Takes over chunks an earlier run left on disk: they are routed again by their tag and queued
   * before anything new, and read back from disk only when an output is ready for them.
   */
  adoptBacklog(inputInstance: string, chunk: Chunk): void {
    const input = this.inputs.get(inputInstance);
    if (input === undefined) throw new Error(`unknown input instance ${inputInstance}`);
    this.tracking.set(chunk, { input, pendingTasks: 0, runningTasks: 0, unstoredRecords: 0 });
    this.dispatch(chunk);
  }

  start(): void {
    const intervalMs = Math.max(1, Math.round(this.settings.flushSeconds * 1000));
    this.flushTimer = this.clock.setInterval(() => this.flushOpenChunks(), intervalMs);
  }

  /** Seals every open chunk and hands it to the matching outputs. */
  flushOpenChunks(): void {
    for (const input of this.inputs.values()) {
      for (const chunk of input.openChunks.values()) this.dispatch(chunk);
      input.openChunks.clear();
    }
  }

  /** Lets chunks that wait for a retry of this output go now (its connection is back). */
  promoteRetries(outputInstance: string): void {
    const output = this.outputs.find((candidate) => candidate.instance === outputInstance);
    if (output === undefined) return;
    for (const task of [...output.waiting]) {
      task.retryTimer?.cancel();
      this.enqueue(task);
    }
  }

  /** Chunks and bytes still held, for tests and the storage metrics. */
  bufferedChunks(): { chunks: number; bytes: number } {
    return this.tracking.totals();
  }

  storageReport(): StorageReport {
    return { ...this.tracking.storageReport(), disk: this.disk.report() };
  }

  chunksInMemory(): number {
    return this.tracking.inMemory();
  }

  whenIdle(): Promise<void> {
    return this.tracking.whenIdle();
  }

  /**
   * Shutdown as Fluent Bit does it: inputs stop, everything buffered is flushed, retries are made
   * short, and whatever is still undelivered after `Grace` seconds is reported as lost.
   * `afterInputsStopped` runs once no input sends more, before the open chunks are flushed.
   */
  async stop(options: { handOver?: boolean; graceSeconds?: number; afterInputsStopped?: () => void } = {}): Promise<EngineStopResult> {
    this.stopping = true;
    this.flushTimer?.cancel();
    this.flushTimer = null;
    this.disk.stop();
    for (const instance of this.inputs.keys()) await this.stopInput(instance);
    options.afterInputsStopped?.();
    this.flushOpenChunks();
    for (const output of this.outputs) {
      for (const task of [...output.waiting]) {
        task.retryTimer?.cancel();
        task.retryTimer = this.clock.setTimeout(() => this.enqueue(task), 1000);
      }
    }
    const graceMs = (options.graceSeconds ?? this.settings.graceSeconds) * 1000;
    let graceTimer: TimerHandle | null = null;
    const graceful = await Promise.race([
      this.whenIdle().then(() => true),
      new Promise<boolean>((resolve) => (graceTimer = this.clock.setTimeout(() => resolve(false), graceMs))),
    ]);
    (graceTimer as TimerHandle | null)?.cancel();
    const handedOver: HandedOverChunk[] = [];
    let undeliveredRecords = 0;
    if (!graceful) undeliveredRecords = this.abandonAll(options.handOver === true ? handedOver : null, graceMs / 1000);
    this.stopped = true;
    for (const output of this.outputs) await this.stopOutput(output.instance, graceful);
    return { undeliveredRecords, handedOver };
  }

  /**
   * Stops one input's plugin, once. The agent stops some plugins before the engine's own stop reaches
   * them (a pipeline that sends into itself unwinds in the order its records flow, see Agent.stop).
   */
  async stopInput(instance: string): Promise<void> {
    const input = this.inputs.get(instance);
    if (input === undefined || this.stoppedPlugins.has(input)) return;
    this.stoppedPlugins.add(input);
    try {
      await input.plugin.stop();
    } catch (error) {
      input.telemetry.logger.error(`error while stopping: ${errorMessage(error)}`);
    }
  }

  /** Stops one output's plugin, once; `graceful` is false when Grace ran out. */
  async stopOutput(instance: string, graceful: boolean): Promise<void> {
    const output = this.outputs.find((candidate) => candidate.instance === instance);
    if (output === undefined || this.stoppedPlugins.has(output)) return;
    this.stoppedPlugins.add(output);
    try {
      await output.plugin.stop?.(graceful);
    } catch (error) {
      output.telemetry.logger.error(`error while stopping: ${errorMessage(error)}`);
    }
  }

  /**
   * Grace ran out. Filesystem chunks stay in storage.path, where the next start finds them. Memory
   * chunks are handed over to the caller (a hot reload gives them to the next pipeline), or, at a
   * real shutdown, lost. Either fate is told in one line with the outputs' reasons (ShutdownReport).
   */
  private abandonAll(handOver: HandedOverChunk[] | null, graceSeconds: number): number {
    const report = new ShutdownReport(graceSeconds);
    for (const [chunk, track] of [...this.tracking]) {
      const onDisk = track.input.storage.kind === 'filesystem';
      const keptElsewhere = onDisk || (handOver !== null && chunk.inMemory);
      const by: UndeliveredBy[] = [];
      for (const output of this.outputs) {
        let holds = false;
        let inFlight = false;
        for (const task of [...output.waiting, ...output.queue]) {
          if (task.chunk !== chunk || task.state === 'done') continue;
          holds = true;
          task.retryTimer?.cancel();
          task.state = 'done';
          if (!keptElsewhere) output.telemetry.count('fluentbit_output_dropped_records_total', chunk.records);
        }
        // A chunk still being flushed is undelivered too; its late result is ignored once the engine has stopped.
        for (const task of output.flying) if (task.chunk === chunk) inFlight = true;
        if (holds || inFlight) by.push({ instance: output.instance, reason: output.plugin.failureReason?.() ?? null, inFlight: inFlight && !holds });
      }
      this.tracking.delete(chunk);
      if (onDisk) {
        // Records a failing disk did not take were never acknowledged; those on disk go next run.
        const unstored = handOver === null ? track.unstoredRecords : 0;
        if (chunk.records > unstored) report.add(chunk.records - unstored, track.input.instance, true, by);
        if (unstored > 0) report.add(unstored, track.input.instance, false, by);
        track.input.storage.seal(chunk);
        continue;
      }
      if (handOver !== null && chunk.inMemory) {
        handOver.push({ tag: chunk.tag, data: chunk.data, records: chunk.records });
        this.release(chunk, track);
        continue;
      }
      report.add(chunk.records, track.input.instance, false, by);
      this.release(chunk, track);
    }
    report.write(this.logger);
    for (const output of this.outputs) {
      output.queue = [];
      output.waiting.clear();
      output.diskTasks = [];
    }
    return report.lostRecords;
  }

  private dispatch(chunk: Chunk): void {
    const track = this.tracking.get(chunk);
    if (track === undefined) return;
    chunk.seal();
    track.input.storage.seal(chunk);
    const onDisk = track.input.storage.kind === 'filesystem';
    // A chunk whose file misses records keeps them in memory until it is delivered.
    if (onDisk && track.unstoredRecords === 0) this.limits.sealedOnDisk(chunk);
    const targets = this.outputs.filter((output) => routeMatches(output.route, chunk.tag));
    if (targets.length === 0) {
      if (!this.warnedUnroutedTags.has(chunk.tag)) {
        this.warnedUnroutedTags.add(chunk.tag);
        this.logger.warn(`[router] no output matches tag '${chunk.tag}': its records are discarded`);
      }
      track.input.telemetry.count('wsbit_input_rejected_records_total', chunk.records);
      this.release(chunk, track);
      return;
    }
    track.pendingTasks = targets.length;
    if (this.logger.enabled('debug')) {
      this.logger.debug(
        `[engine] chunk '${chunk.id}' with ${chunk.records} record${chunk.records === 1 ? '' : 's'} from ${chunk.inputInstance} routed to ${targets.map((output) => output.instance).join(', ')}`,
      );
    }
    for (const output of targets) {
      const task: Task = { id: this.nextTaskId++, chunk, output, attempts: 0, state: 'queued', retryTimer: null, heldBack: false };
      if (onDisk) this.limits.admitDiskTask(output, task, (oldest) => this.completeTask(oldest));
      this.enqueue(task);
    }
  }

  private enqueue(task: Task): void {
    if (this.stopped || task.state === 'done') return;
    queueTask(task);
    startQueued(task.output, (next) => this.runTask(next));
  }

  private async runTask(task: Task): Promise<void> {
    const { output, chunk } = task;
    const track = this.tracking.get(chunk);
    if (track === undefined) return;
    let view: ChunkView;
    try {
      view = { id: chunk.id, tag: chunk.tag, inputInstance: chunk.inputInstance, data: this.limits.chunkBytes(chunk, track), records: chunk.records };
    } catch (error) {
      this.report(
        output.telemetry,
        'error',
        `[engine] chunk '${chunk.id}' cannot be read back from storage: ${errorMessage(error)}; ${chunk.records} records lost`,
        'fluentbit_output_dropped_records_total',
        chunk.records,
      );
      return this.completeTask(task);
    }
    track.runningTasks++;
    let result: FlushResult;
    try {
      // A chunk the processors empty counts as delivered.
      const processed = processChunk(output.processors ?? [], view);
      result = processed === null ? 'ok' : await output.plugin.flush(processed);
    } catch (error) {
      // A plugin that throws is a bug in the plugin; treat it as a retryable failure so no data goes.
      output.telemetry.logger.error(`flush failed unexpectedly: ${errorMessage(error)}`);
      result = 'retry';
    } finally {
      track.runningTasks--;
    }
    if (task.state === 'done' || this.stopped) return;
    this.limits.settle(chunk, track);
    if (result === 'ok') return this.completeOk(task);
    if (result === 'error') {
      output.telemetry.count('fluentbit_output_errors_total');
      this.report(
        output.telemetry,
        'error',
        `[engine] chunk '${view.id}' cannot be flushed (unrecoverable error): task_id=${task.id}, input=${view.inputInstance} > output=${output.instance}`,
        'fluentbit_output_dropped_records_total',
        view.records,
      );
      return this.completeTask(task);
    }
    this.scheduleRetry(task);
  }


  private completeOk(task: Task): void {
    const { output, chunk } = task;
    output.telemetry.count('fluentbit_output_proc_records_total', chunk.records);
    output.telemetry.count('fluentbit_output_proc_bytes_total', chunk.sizeBytes);
    if (task.attempts > 0) {
      this.logger.log(
        this.quietRetries(output) ? 'debug' : 'info',
        `[engine] flush chunk '${chunk.id}' succeeded at retry ${task.attempts}: task_id=${task.id}, input=${chunk.inputInstance} > output=${output.instance} (out_id=${output.id})`,
      );
    }
    this.completeTask(task);
    if (output.outage.active) output.outage.delivered(chunk.records, this.backlog(output, task));
  }

  /**
   * Outputs that call notifyReady() retry as soon as their connection is back; their per-chunk retry
   * lines go to debug and the outage is told as state changes instead (down, still down, back, caught up).
   */
  private quietRetries(output: OutputState): boolean {
    return output.plugin.signalsReady === true && !this.stopping;
  }

  /** Chunks and records this output still has to deliver besides `current`: queued, waiting, or being sent. */
  private backlog(output: OutputState, current: Task): Backlog {
    let chunks = 0;
    let records = 0;
    for (const tasks of [output.queue, output.waiting, output.flying]) {
      for (const task of tasks) {
        if (task === current || task.state === 'done') continue;
        chunks++;
        records += task.chunk.records;
      }
    }
    return { chunks, records };
  }

  private scheduleRetry(task: Task): void {
    const { output, chunk } = task;
    output.telemetry.count('fluentbit_output_errors_total');
    const limit = output.retryLimit;
    if (limit.kind === 'limit' && task.attempts >= limit.retries) {
      output.telemetry.count('fluentbit_output_retries_failed_total');
      this.report(
        output.telemetry,
        'error',
        `[engine] chunk '${chunk.id}' cannot be retried: task_id=${task.id}, input=${chunk.inputInstance} > output=${output.instance}, ${chunk.records} records dropped`,
        'fluentbit_output_dropped_records_total',
        chunk.records,
      );
      return this.completeTask(task);
    }
    task.attempts++;
    output.telemetry.count('fluentbit_output_retries_total');
    output.telemetry.count('fluentbit_output_retried_records_total', chunk.records);
    const waitSeconds = this.stopping
      ? 1
      : retryWaitSeconds(task.attempts, this.settings.schedulerBaseSeconds, this.settings.schedulerCapSeconds, this.random);
    const quiet = this.quietRetries(output);
    // At shutdown a retry line has no news: if Grace runs out, one line says what is lost and why.
    this.logger.log(
      quiet || this.stopping ? 'debug' : 'warn',
      `[engine] failed to flush chunk '${chunk.id}', retry ${quiet ? 'when the output is back, at the latest in' : 'in'} ${waitSeconds} seconds: task_id=${task.id}, input=${chunk.inputInstance} > output=${output.instance} (out_id=${output.id})`,
    );
    task.state = 'waiting';
    output.waiting.add(task);
    if (quiet) {
      // The failed chunk waits too.
      const others = this.backlog(output, task);
      output.outage.failed({ chunks: others.chunks + 1, records: others.records + chunk.records }, waitSeconds);
    }
    task.retryTimer = this.clock.setTimeout(() => this.enqueue(task), waitSeconds * 1000);
  }

  private completeTask(task: Task): void {
    task.state = 'done';
    task.output.waiting.delete(task);
    if (task.output.diskTasks.length > 0) task.output.diskTasks = task.output.diskTasks.filter((candidate) => candidate !== task);
    const track = this.tracking.get(task.chunk);
    if (track === undefined) return;
    track.pendingTasks--;
    if (track.pendingTasks <= 0) this.release(task.chunk, track);
  }

  private release(chunk: Chunk, track: ChunkTracking): void {
    this.tracking.delete(chunk);
    this.limits.released(chunk, track);
    try {
      track.input.storage.release(chunk);
    } catch (error) {
      this.logger.error(`[storage] cannot remove chunk '${chunk.id}': ${errorMessage(error)}`);
    }
    // A chunk dropped (storage.total_limit_size) while an output still flushes it keeps its bytes.
    if (track.runningTasks === 0) chunk.recycle();
    // storage.max_chunks_up is shared by all inputs, so any release may let any of them resume.
    this.checkAllInputs();
    this.tracking.settleIdle();
  }

  private checkAllInputs(): void {
    for (const input of this.inputs.values()) this.limits.check(input, this.stopping, this.diskBlocks(input));
  }

  /** Chunk writes fail, so a filesystem input is paused and acknowledges nothing. */
  private diskBlocks(input: InputState): boolean {
    return this.disk.failing && input.storage.kind === 'filesystem';
  }

  /**
   * Writes appended records to the input's storage. When the write fails (ENOSPC, EDQUOT, EIO), or
   * the disk already fails, the records stay in memory only and the caller is told, so that no input
   * acknowledges them; filesystem inputs are paused until a probe write succeeds (DiskWatch).
   */
  private persist(input: InputState, chunk: Chunk, events: Buffer, records: number): boolean {
    const track = this.tracking.get(chunk);
    if (track !== undefined && track.unstoredRecords > 0) return this.unstored(track, records);
    if (this.diskBlocks(input)) return this.unstored(track, records);
    try {
      input.storage.append(chunk, events);
      return true;
    } catch (error) {
      this.disk.failed(error, chunk.id, events.length);
      return this.unstored(track, records);
    }
  }

  private unstored(track: ChunkTracking | undefined, records: number): false {
    if (track !== undefined) track.unstoredRecords += records;
    this.disk.heldBack(records);
    return false;
  }

  /** Engine events are logged in the engine's own scope, as Fluent Bit does, and counted per instance. */
  private report(telemetry: Telemetry, level: MessageLevel, message: string, metric: MetricName, delta = 1): void {
    this.logger.log(level, message);
    telemetry.count(metric, delta);
  }
}
