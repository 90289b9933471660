import type { Chunk } from './chunk.js';
import type { TimerHandle } from '../base/clock.js';
import type { RouteRule } from './router.js';
import type { ChunkStorage } from './storage/types.js';
import type { Telemetry } from '../base/telemetry.js';
import type { RetryLimit } from '../config/common-keys.js';
import type { InputInstance, OutputInstance } from './contracts.js';
import type { RunningFilter } from './filter-chain.js';
import type { OutageNarration } from './outage.js';

/** What the engine keeps per input, per output, per chunk and per flush task. */

export interface EngineSettings {
  flushSeconds: number;
  graceSeconds: number;
  schedulerBaseSeconds: number;
  schedulerCapSeconds: number;
  /** `storage.max_chunks_up`: sealed filesystem chunks kept in memory; the rest are read back when flushed. */
  maxChunksUp?: number;
  /** How often a failing disk is tried again (DiskWatch); DEFAULT_DISK_PROBE_SECONDS without it. */
  diskProbeSeconds?: number;
  /** Writes and removes a probe of about `bytes` in storage.path; throws while the disk fails. */
  diskProbe?: (bytes: number) => void;
  /** Where the storage's own metrics go (`fluentbit_storage_writes_failing`, write errors). */
  storageTelemetry?: Telemetry;
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

export interface InputState extends InputRegistration {
  openChunks: Map<string, Chunk>;
  bufferedBytes: number;
  paused: boolean;
  /** What paused the input, for its resume line. */
  pausedBy?: string;
}

export type TaskState = 'queued' | 'running' | 'waiting' | 'done';

export interface Task {
  id: number;
  chunk: Chunk;
  output: OutputState;
  attempts: number;
  state: TaskState;
  retryTimer: TimerHandle | null;
  /** Held back behind a chunk that waits for its retry (ordered outputs), and counted as an output error once. */
  heldBack: boolean;
}

export interface OutputState extends OutputRegistration {
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
  /** For outputs that signal readiness: an outage told as state changes. */
  outage: OutageNarration;
}

export interface ChunkTracking {
  input: InputState;
  pendingTasks: number;
  runningTasks: number;
  /** Records appended while the disk failed: only in memory, so the chunk never leaves memory. */
  unstoredRecords: number;
}
