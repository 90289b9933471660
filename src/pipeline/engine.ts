import { retryWaitSeconds } from '../base/backoff.js';
import { Chunk, chunkBytesLimit, newChunkId, type ChunkView } from './chunk.js';
import type { Clock, TimerHandle } from '../base/clock.js';
import { errorMessage } from '../base/errors.js';
import { formatLogTimestamp, type Logger, type MessageLevel } from '../base/logger.js';
import type { MetricName } from '../base/metrics.js';
import { routeMatches, type RouteRule } from './router.js';
import type { ChunkStorage } from './storage/types.js';
import { countEvents } from '../codec/event.js';
import type { Telemetry } from '../base/telemetry.js';
import type { RetryLimit } from '../config/common-keys.js';
import type { FlushResult, InputInstance, OutputInstance } from './contracts.js';
import { processChunk, type RunningFilter } from './filter-chain.js';


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

export interface EngineSettings {
  flushSeconds: number;
  graceSeconds: number;
  schedulerBaseSeconds: number;
  schedulerCapSeconds: number;
  /** `storage.max_chunks_up`: sealed filesystem chunks kept in memory; the rest are read back when flushed. */
  maxChunksUp?: number;
}

export interface InputRegistration {
  instance: string;
  memBufLimitBytes: number;
  storage: ChunkStorage;
  plugin: InputInstance;
  telemetry: Telemetry;
  /** `storage.pause_on_chunks_overlimit`: pause while storage.max_chunks_up chunks are in memory. */
  pauseOnChunksOverlimit?: boolean;
}

export interface OutputRegistration {
  instance: string;
  route: RouteRule;
  retryLimit: RetryLimit;
  /** How many chunks may be in flight at once for this output. */
  concurrency: number;
  plugin: OutputInstance;
  /** The output's processors, run on each chunk in its flush task (see processChunk). */
  processors?: readonly RunningFilter[];
  telemetry: Telemetry;
  /** `storage.total_limit_size`: most bytes of filesystem chunks queued here; the oldest go beyond it. */
  totalLimitBytes?: number | null;
}

interface InputState extends InputRegistration {
  openChunks: Map<string, Chunk>;
  bufferedBytes: number;
  paused: boolean;
}

type TaskState = 'queued' | 'running' | 'waiting' | 'done';

interface Task {
  id: number;
  chunk: Chunk;
  output: OutputState;
  attempts: number;
  state: TaskState;
  retryTimer: TimerHandle | null;
  /** Held back behind a chunk that waits for its retry (ordered outputs), and counted as an output error once. */
  heldBack: boolean;
}

interface OutputState extends OutputRegistration {
  id: number;
  queue: Task[];
  running: number;
  /** The tasks being flushed now (`running` of them), for the backlog figures. */
  flying: Set<Task>;
  waiting: Set<Task>;
  /** Unfinished tasks of filesystem chunks, oldest first, for storage.total_limit_size. */
  diskTasks: Task[];
  /**
   * One chunk at a time (workers 0 or 1): the README promises delivery in order, so a chunk waiting
   * for its retry holds back every later chunk of this output, and the queue is kept oldest first.
   */
  ordered: boolean;
  /** For outputs that signal readiness: the outage being reported as state changes, if any. */
  outage: OutageState | null;
}

interface OutageState {
  sinceMs: number;
  /** When the next "still failing" line may be written; the gap doubles each time. */
  nextReminderMs: number;
  reminderGapMs: number;
  /** Set by the first delivery after the failures: from then on, what was caught up is counted. */
  deliveringSinceMs: number | null;
  deliveredChunks: number;
  deliveredRecords: number;
}

/** The first "still failing" reminder of an outage; later ones come at doubling gaps. */
const firstOutageReminderMs = 60_000;

interface ChunkTracking {
  input: InputState;
  pendingTasks: number;
  runningTasks: number;
}

/**
 * The engine: inputs append records into one open chunk per (input, tag); every `Flush` seconds the
 * open chunks are sealed and routed by `Match` to one task per output. Outputs answer ok, retry or
 * error, and only the engine decides when to try again (Fluent Bit's scheduler rules).
 */
export class Engine {
  private readonly inputs = new Map<string, InputState>();
  private readonly outputs: OutputState[] = [];
  private readonly tracking = new Map<Chunk, ChunkTracking>();
  private readonly warnedUnroutedTags = new Set<string>();
  /** Sealed filesystem chunks whose bytes are in memory. */
  private readonly diskChunksUp = new Set<Chunk>();
  private flushTimer: TimerHandle | null = null;
  private nextTaskId = 0;
  private stopping = false;
  /** After stop(): late results of flushes still running are ignored, and nothing is retried. */
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly settings: EngineSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  addInput(registration: InputRegistration): void {
    this.inputs.set(registration.instance, { ...registration, openChunks: new Map(), bufferedBytes: 0, paused: false });
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
      outage: null,
    });
  }

  /** Appends events from an input. Data arriving while the input is paused is still kept, never dropped. */
  append(inputInstance: string, tag: string, events: Buffer, records: number): void {
    const input = this.inputs.get(inputInstance);
    if (input === undefined) throw new Error(`unknown input instance ${inputInstance}`);
    if (records === 0) return;
    let chunk = input.openChunks.get(tag);
    if (chunk === undefined) {
      chunk = new Chunk(newChunkId(this.clock.nowMs()), input.instance, tag);
      input.openChunks.set(tag, chunk);
      this.tracking.set(chunk, { input, pendingTasks: 0, runningTasks: 0 });
    }
    chunk.append(events, records);
    this.persist(input, chunk, events);
    if (input.storage.countsAgainstMemoryLimit) input.bufferedBytes += events.length;
    if (chunk.sizeBytes >= chunkBytesLimit) {
      input.openChunks.delete(tag);
      this.dispatch(chunk);
    }
    this.checkMemoryLimit(input);
  }

  /**
   * Takes over chunks an earlier run left on disk: they are routed again by their tag and queued
   * before anything new, and read back from disk only when an output is ready for them.
   */
  adoptBacklog(inputInstance: string, chunk: Chunk): void {
    const input = this.inputs.get(inputInstance);
    if (input === undefined) throw new Error(`unknown input instance ${inputInstance}`);
    this.tracking.set(chunk, { input, pendingTasks: 0, runningTasks: 0 });
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
    let bytes = 0;
    for (const chunk of this.tracking.keys()) bytes += chunk.sizeBytes;
    return { chunks: this.tracking.size, bytes };
  }

  /** Counts for `/api/v1/storage`. */
  storageReport(): { chunks: number; memChunks: number; fsChunks: number; fsChunksUp: number; fsChunksDown: number } {
    let memChunks = 0;
    let fsChunks = 0;
    let fsChunksUp = 0;
    for (const [chunk, track] of this.tracking) {
      if (track.input.storage.kind === 'memory') memChunks++;
      else {
        fsChunks++;
        if (chunk.inMemory) fsChunksUp++;
      }
    }
    return { chunks: this.tracking.size, memChunks, fsChunks, fsChunksUp, fsChunksDown: fsChunks - fsChunksUp };
  }

  /** Chunks whose bytes are in memory right now (open ones included), for storage.max_chunks_up checks. */
  chunksInMemory(): number {
    let count = 0;
    for (const chunk of this.tracking.keys()) if (chunk.inMemory) count++;
    return count;
  }

  /** Resolves when no chunk is held any more. */
  whenIdle(): Promise<void> {
    if (this.tracking.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Shutdown as Fluent Bit does it: inputs stop, everything buffered is flushed, retries are made
   * short, and whatever is still undelivered after `Grace` seconds is reported as lost.
   */
  /** `afterInputsStopped` runs once no input sends more, before the open chunks are flushed. */
  async stop(options: { handOver?: boolean; graceSeconds?: number; afterInputsStopped?: () => void } = {}): Promise<EngineStopResult> {
    this.stopping = true;
    this.flushTimer?.cancel();
    this.flushTimer = null;
    for (const input of this.inputs.values()) {
      try {
        await input.plugin.stop();
      } catch (error) {
        input.telemetry.logger.error(`error while stopping: ${errorMessage(error)}`);
      }
    }
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
    if (!graceful) undeliveredRecords = this.abandonAll(options.handOver === true ? handedOver : null);
    this.stopped = true;
    for (const output of this.outputs) {
      try {
        await output.plugin.stop?.(graceful);
      } catch (error) {
        output.telemetry.logger.error(`error while stopping: ${errorMessage(error)}`);
      }
    }
    return { undeliveredRecords, handedOver };
  }

  /**
   * Grace ran out. Filesystem chunks stay in storage.path, where the next start finds them. Memory
   * chunks are handed over to the caller (a hot reload gives them to the next pipeline), or, at a
   * real shutdown, lost and reported.
   */
  private abandonAll(handOver: HandedOverChunk[] | null): number {
    let lost = 0;
    let kept = 0;
    for (const [chunk, track] of [...this.tracking]) {
      const keptElsewhere = track.input.storage.kind === 'filesystem' || (handOver !== null && chunk.inMemory);
      for (const output of this.outputs) {
        for (const task of [...output.waiting, ...output.queue]) {
          if (task.chunk !== chunk || task.state === 'done') continue;
          task.retryTimer?.cancel();
          task.state = 'done';
          if (!keptElsewhere) output.telemetry.count('fluentbit_output_dropped_records_total', chunk.records);
        }
      }
      this.tracking.delete(chunk);
      if (track.input.storage.kind === 'filesystem') {
        kept += chunk.records;
        track.input.storage.seal(chunk);
        continue;
      }
      if (handOver !== null && chunk.inMemory) {
        handOver.push({ tag: chunk.tag, data: chunk.data, records: chunk.records });
        this.release(chunk, track);
        continue;
      }
      lost += chunk.records;
      this.logger.error(
        `chunk '${chunk.id}' (${chunk.records} records, input=${track.input.instance}) was not delivered within Grace=${this.settings.graceSeconds}s and is lost`,
      );
      this.release(chunk, track);
    }
    if (kept > 0) this.logger.info(`[storage] ${kept} undelivered records stay in storage.path for the next start`);
    for (const output of this.outputs) {
      output.queue = [];
      output.waiting.clear();
      output.diskTasks = [];
    }
    return lost;
  }

  private dispatch(chunk: Chunk): void {
    const track = this.tracking.get(chunk);
    if (track === undefined) return;
    chunk.seal();
    track.input.storage.seal(chunk);
    const onDisk = track.input.storage.kind === 'filesystem';
    if (onDisk && chunk.inMemory) {
      if (this.diskChunksUp.size < (this.settings.maxChunksUp ?? Infinity)) this.diskChunksUp.add(chunk);
      else chunk.dropMemory();
    }
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
      if (onDisk) this.admitDiskTask(output, task);
      this.enqueue(task);
    }
  }

  private enqueue(task: Task): void {
    if (this.stopped || task.state === 'done') return;
    task.output.waiting.delete(task);
    task.retryTimer = null;
    task.state = 'queued';
    const queue = task.output.queue;
    if (task.output.ordered) {
      // Task ids grow with dispatch order: a retried chunk goes back in front of the later ones.
      let index = queue.length;
      while (index > 0 && (queue[index - 1] as Task).id > task.id) index--;
      queue.splice(index, 0, task);
    } else {
      queue.push(task);
    }
    this.pump(task.output);
  }

  private pump(output: OutputState): void {
    // In order: nothing passes a chunk that waits for its retry (workers > 1 promise no order).
    if (output.ordered && output.waiting.size > 0) {
      this.countHeldBack(output);
      return;
    }
    while (output.running < output.concurrency && output.queue.length > 0) {
      const task = output.queue.shift() as Task;
      output.running++;
      output.flying.add(task);
      task.state = 'running';
      void this.runTask(task).finally(() => {
        output.running--;
        output.flying.delete(task);
        this.pump(output);
      });
    }
  }

  /**
   * A chunk held back by a failing output could not go at its turn: it counts as one output error, as
   * its own failed flush would have without the order promise, so the health check (HC_Errors_Count)
   * sees an outage at the rate chunks arrive rather than at the rate of the oldest chunk's retries.
   */
  private countHeldBack(output: OutputState): void {
    for (const task of output.queue) {
      if (task.heldBack || task.attempts > 0) continue;
      task.heldBack = true;
      output.telemetry.count('fluentbit_output_errors_total');
    }
  }

  private async runTask(task: Task): Promise<void> {
    const { output, chunk } = task;
    const track = this.tracking.get(chunk);
    if (track === undefined) return;
    let view: ChunkView;
    try {
      view = { id: chunk.id, tag: chunk.tag, inputInstance: chunk.inputInstance, data: this.chunkBytes(chunk, track), records: chunk.records };
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
    this.settleMemory(chunk, track);
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
    if (output.outage !== null) this.reportDelivery(task, output.outage);
  }

  /**
   * Outputs that call notifyReady() retry as soon as their connection is back; their per-chunk retry
   * lines go to debug and the outage is told as state changes instead (down, still down, back, caught up).
   */
  private quietRetries(output: OutputState): boolean {
    return output.plugin.signalsReady === true && !this.stopping;
  }

  /** Chunks and records this output still has to deliver besides `current`: queued, waiting, or being sent. */
  private backlog(output: OutputState, current: Task): { chunks: number; records: number } {
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

  private reportFailure(task: Task, waitSeconds: number): void {
    const { output } = task;
    const now = this.clock.nowMs();
    // The failed chunk waits too.
    const others = this.backlog(output, task);
    const chunks = others.chunks + 1;
    const records = others.records + task.chunk.records;
    const wait = `${chunks} chunk${chunks === 1 ? '' : 's'} (${records} record${records === 1 ? '' : 's'}) wait`;
    // True whichever comes first: the output's own reconnect (notifyReady) or the engine's timer.
    const next = `the next attempt as soon as the output is back, at the latest in ${waitSeconds} s`;
    let outage = output.outage;
    if (outage === null || outage.deliveringSinceMs !== null) {
      const again = outage !== null;
      outage ??= { sinceMs: now, nextReminderMs: 0, reminderGapMs: firstOutageReminderMs, deliveredChunks: 0, deliveredRecords: 0, deliveringSinceMs: null };
      outage.deliveringSinceMs = null;
      outage.reminderGapMs = firstOutageReminderMs;
      outage.nextReminderMs = now + outage.reminderGapMs;
      output.outage = outage;
      this.logger.warn(`[engine] output ${output.instance} cannot deliver${again ? ' again' : ''}: ${wait}; ${next}`);
      return;
    }
    if (now < outage.nextReminderMs) return;
    outage.reminderGapMs *= 2;
    outage.nextReminderMs = now + outage.reminderGapMs;
    this.logger.warn(
      `[engine] output ${output.instance} still cannot deliver, since ${formatLogTimestamp(new Date(outage.sinceMs))} (${seconds(now - outage.sinceMs)} s): ${wait}; ${next}`,
    );
  }

  private reportDelivery(task: Task, outage: OutageState): void {
    const { output, chunk } = task;
    const now = this.clock.nowMs();
    const { chunks, records } = this.backlog(output, task);
    if (outage.deliveringSinceMs === null) {
      outage.deliveringSinceMs = now;
      this.logger.info(
        `[engine] output ${output.instance} delivers again after ${seconds(now - outage.sinceMs)} s (failing since ${formatLogTimestamp(new Date(outage.sinceMs))}); ${chunks} more chunk${chunks === 1 ? '' : 's'} (${records} record${records === 1 ? '' : 's'}) to catch up`,
      );
    }
    outage.deliveredChunks++;
    outage.deliveredRecords += chunk.records;
    if (chunks > 0) return;
    output.outage = null;
    this.logger.info(
      `[engine] output ${output.instance} caught up: delivered ${outage.deliveredChunks} chunk${outage.deliveredChunks === 1 ? '' : 's'} (${outage.deliveredRecords} record${outage.deliveredRecords === 1 ? '' : 's'}) in ${seconds(now - outage.deliveringSinceMs)} s after an outage of ${seconds(outage.deliveringSinceMs - outage.sinceMs)} s`,
    );
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
    this.logger.log(
      quiet ? 'debug' : 'warn',
      `[engine] failed to flush chunk '${chunk.id}', retry ${quiet ? 'when the output is back, at the latest in' : 'in'} ${waitSeconds} seconds: task_id=${task.id}, input=${chunk.inputInstance} > output=${output.instance} (out_id=${output.id})`,
    );
    task.state = 'waiting';
    output.waiting.add(task);
    if (quiet) this.reportFailure(task, waitSeconds);
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
    this.diskChunksUp.delete(chunk);
    try {
      track.input.storage.release(chunk);
    } catch (error) {
      this.logger.error(`[storage] cannot remove chunk '${chunk.id}': ${errorMessage(error)}`);
    }
    if (track.input.storage.countsAgainstMemoryLimit) track.input.bufferedBytes -= chunk.sizeBytes;
    // A chunk dropped (storage.total_limit_size) while an output still flushes it keeps its bytes.
    if (track.runningTasks === 0) chunk.recycle();
    // storage.max_chunks_up is shared by all inputs, so any release may let any of them resume.
    for (const input of this.inputs.values()) this.checkMemoryLimit(input);
    if (this.tracking.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Writes appended records to the input's storage; a failing disk keeps them in memory instead. */
  private persist(input: InputState, chunk: Chunk, events: Buffer): void {
    try {
      input.storage.append(chunk, events);
    } catch (error) {
      this.logger.error(`[storage] cannot write chunk '${chunk.id}' to disk, its records stay in memory only: ${errorMessage(error)}`);
    }
  }

  /** The chunk's bytes, read back from disk when storage.max_chunks_up sent them out of memory. */
  private chunkBytes(chunk: Chunk, track: ChunkTracking): Buffer {
    if (!chunk.inMemory) {
      const data = track.input.storage.read(chunk);
      chunk.restore(data, countEvents(data));
      this.diskChunksUp.add(chunk);
    }
    return chunk.data;
  }

  /** After a flush, a filesystem chunk still waiting for other outputs or a retry leaves memory if over the limit. */
  private settleMemory(chunk: Chunk, track: ChunkTracking): void {
    if (track.input.storage.kind !== 'filesystem' || track.runningTasks > 0) return;
    if (this.diskChunksUp.size > (this.settings.maxChunksUp ?? Infinity)) {
      this.diskChunksUp.delete(chunk);
      chunk.dropMemory();
    }
  }

  /**
   * storage.total_limit_size: queueing this chunk for the output may not take the output's
   * filesystem backlog over the limit, so the oldest waiting chunks are dropped, with a warning.
   */
  private admitDiskTask(output: OutputState, task: Task): void {
    const limit = output.totalLimitBytes ?? null;
    output.diskTasks.push(task);
    if (limit === null) return;
    let queuedBytes = output.diskTasks.reduce((sum, queued) => sum + queued.chunk.sizeBytes, 0);
    for (const oldest of [...output.diskTasks]) {
      if (queuedBytes <= limit || oldest === task) break;
      if (oldest.state === 'running') continue;
      queuedBytes -= oldest.chunk.sizeBytes;
      oldest.retryTimer?.cancel();
      output.queue = output.queue.filter((queued) => queued !== oldest);
      this.report(
        output.telemetry,
        'warn',
        `[engine] storage.total_limit_size (${limit} bytes) reached for ${output.instance}: oldest chunk '${oldest.chunk.id}' with ${oldest.chunk.records} records dropped`,
        'fluentbit_output_dropped_records_total',
        oldest.chunk.records,
      );
      this.completeTask(oldest);
    }
  }

  /** Mem_Buf_Limit for memory chunks, storage.max_chunks_up with pause_on_chunks_overlimit for disk ones. */
  /** Engine events are logged in the engine's own scope, as Fluent Bit does, and counted per instance. */
  private report(telemetry: Telemetry, level: MessageLevel, message: string, metric: MetricName, delta = 1): void {
    this.logger.log(level, message);
    telemetry.count(metric, delta);
  }

  private checkMemoryLimit(input: InputState): void {
    const limit = input.memBufLimitBytes;
    const overMemory = limit > 0 && input.bufferedBytes >= limit;
    const overChunks = input.pauseOnChunksOverlimit === true && this.diskChunksUp.size >= (this.settings.maxChunksUp ?? Infinity);
    if (!input.paused && (overMemory || overChunks)) {
      input.paused = true;
      const reason = overMemory
        ? `mem buf overlimit - buffered ${input.bufferedBytes}B reached limit ${limit}B`
        : `storage.max_chunks_up ${this.settings.maxChunksUp} reached`;
      this.report(input.telemetry, 'warn', `[input] ${input.instance} paused (${reason})`, 'fluentbit_input_paused_total');
      input.plugin.pause();
    } else if (input.paused && !overMemory && !overChunks && !this.stopping) {
      input.paused = false;
      this.logger.info(`[input] ${input.instance} resume (${limit > 0 ? 'mem buf overlimit' : 'chunks overlimit'})`);
      input.plugin.resume();
    }
  }
}

/** Milliseconds as seconds with one decimal, for log lines. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
