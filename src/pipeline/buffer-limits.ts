import type { Chunk } from './chunk.js';
import type { Logger } from '../base/logger.js';
import { countEvents } from '../codec/event.js';
import type { ChunkTracking, InputState, OutputState, Task } from './engine-state.js';

/**
 * What the engine may hold, in memory and on disk. Mem_Buf_Limit pauses an input while its memory
 * chunks hold that many bytes; storage.max_chunks_up keeps that many sealed filesystem chunks in
 * memory (the rest are read back when flushed) and, with storage.pause_on_chunks_overlimit, pauses
 * inputs while it is reached; storage.total_limit_size drops an output's oldest filesystem chunks.
 */
export class BufferLimits {
  /** Sealed filesystem chunks whose bytes are in memory. */
  private readonly diskChunksUp = new Set<Chunk>();

  constructor(
    private readonly maxChunksUp: number,
    private readonly logger: Logger,
  ) {}

  /** Records were appended to a chunk of `input`. */
  appended(input: InputState, bytes: number): void {
    if (input.storage.countsAgainstMemoryLimit) input.bufferedBytes += bytes;
  }

  /** A filesystem chunk was sealed: it stays in memory while storage.max_chunks_up allows. */
  sealedOnDisk(chunk: Chunk): void {
    if (!chunk.inMemory) return;
    if (this.diskChunksUp.size < this.maxChunksUp) this.diskChunksUp.add(chunk);
    else chunk.dropMemory();
  }

  /** The chunk's bytes, read back from disk when storage.max_chunks_up sent them out of memory. */
  chunkBytes(chunk: Chunk, track: ChunkTracking): Buffer {
    if (!chunk.inMemory) {
      const data = track.input.storage.read(chunk);
      chunk.restore(data, countEvents(data));
      this.diskChunksUp.add(chunk);
    }
    return chunk.data;
  }

  /** After a flush, a filesystem chunk still waiting for other outputs or a retry leaves memory if over the limit. */
  settle(chunk: Chunk, track: ChunkTracking): void {
    if (track.input.storage.kind !== 'filesystem' || track.runningTasks > 0 || track.unstoredRecords > 0) return;
    if (this.diskChunksUp.size > this.maxChunksUp) {
      this.diskChunksUp.delete(chunk);
      chunk.dropMemory();
    }
  }

  /** The chunk is no longer held. */
  released(chunk: Chunk, track: ChunkTracking): void {
    this.diskChunksUp.delete(chunk);
    if (track.input.storage.countsAgainstMemoryLimit) track.input.bufferedBytes -= chunk.sizeBytes;
  }

  /**
   * Mem_Buf_Limit for memory chunks, storage.max_chunks_up with pause_on_chunks_overlimit for disk
   * ones, and `diskFailing` (chunk writes fail, see DiskWatch) for filesystem inputs.
   */
  check(input: InputState, stopping: boolean, diskFailing = false): void {
    const limit = input.memBufLimitBytes;
    const overMemory = limit > 0 && input.bufferedBytes >= limit;
    const overChunks = input.pauseOnChunksOverlimit === true && this.diskChunksUp.size >= this.maxChunksUp;
    if (!input.paused && (overMemory || overChunks || diskFailing)) {
      input.paused = true;
      const reason = overMemory
        ? `mem buf overlimit - buffered ${input.bufferedBytes}B reached limit ${limit}B`
        : overChunks
          ? `storage.max_chunks_up ${this.maxChunksUp} reached`
          : 'chunk writes fail';
      // The resume line names the limit that paused the input, as Fluent Bit's does.
      input.pausedBy = overMemory ? 'mem buf overlimit' : overChunks ? 'chunks overlimit' : 'disk writable again';
      this.logger.warn(`[input] ${input.instance} paused (${reason})`);
      input.telemetry.count('fluentbit_input_paused_total');
      input.plugin.pause();
    } else if (input.paused && !overMemory && !overChunks && !diskFailing && !stopping) {
      input.paused = false;
      this.logger.info(`[input] ${input.instance} resume (${input.pausedBy ?? 'mem buf overlimit'})`);
      input.plugin.resume();
    }
  }

  /**
   * storage.total_limit_size: queueing this chunk for the output may not take the output's
   * filesystem backlog over the limit, so the oldest waiting chunks are dropped, with a warning.
   * `drop` ends a dropped task.
   */
  admitDiskTask(output: OutputState, task: Task, drop: (oldest: Task) => void): void {
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
      this.logger.warn(
        `[engine] storage.total_limit_size (${limit} bytes) reached for ${output.instance}: oldest chunk '${oldest.chunk.id}' with ${oldest.chunk.records} records dropped`,
      );
      output.telemetry.count('fluentbit_output_dropped_records_total', oldest.chunk.records);
      drop(oldest);
    }
  }
}
