import { BufferPool } from '../base/buffer-pool.js';

/**
 * A chunk is a batch of records from one input with one tag, in Fluent Bit's msgpack event layout.
 * While open it copies appended events into a buffer of its own, so that what an input emits dies
 * young and only the chunk's buffer lives on until delivery (V8 frees short-lived ArrayBuffers at
 * once, long-lived ones only in a full collection). Sealing returns a view, never a concatenation.
 * Outputs receive the sealed bytes and must never modify them (SPEC part A, 4).
 */

/** Fluent Bit considers a chunk full around this size (FLB_INPUT_CHUNK_FS_MAX_SIZE). */
export const chunkBytesLimit = 2_048_000;

/** The most idle chunk buffers kept, for inputs without a Mem_Buf_Limit: a second of a busy input. */
const MAX_IDLE_CHUNK_BUFFERS = 4;

/**
 * Room past the limit in a chunk buffer, for the append that takes a chunk over it (a tcp read: up to
 * 64 KB). A larger one grows the chunk once; an eighth of 2 MB, the pool's default, held 1 MB more at
 * Mem_Buf_Limit 8M for appends that never came.
 */
const CHUNK_SPARE_BYTES = 64 * 1024;

/**
 * Buffers of delivered chunks, for the next ones: a busy input fills a 2 MB chunk every few
 * milliseconds, and fresh buffers that live until delivery pile up in V8 until a full collection.
 * Only buffers that hold a full chunk are kept: the smaller ones a chunk grows through on its way
 * there would sit idle (a new chunk starts in the largest idle buffer), megabytes of them at peak
 * load. A buffer grown past twice the chunk limit (one huge append) is not kept either.
 */
const chunkBuffers = new BufferPool(MAX_IDLE_CHUNK_BUFFERS, chunkBytesLimit, 2 * chunkBytesLimit, CHUNK_SPARE_BYTES);

/**
 * How many idle chunk buffers are worth keeping for inputs with these memory limits (0: none): no
 * more than their Mem_Buf_Limit can fill, since an input paused at its limit needs no new chunk
 * until one is delivered, and never more than MAX_IDLE_CHUNK_BUFFERS.
 */
export function idleChunkBuffersFor(memBufLimits: Iterable<number>): number {
  let buffers = 0;
  for (const limit of memBufLimits) {
    buffers += limit > 0 ? Math.ceil(limit / chunkBytesLimit) : MAX_IDLE_CHUNK_BUFFERS;
    if (buffers >= MAX_IDLE_CHUNK_BUFFERS) return MAX_IDLE_CHUNK_BUFFERS;
  }
  return Math.max(1, buffers);
}

/** Bounds the idle chunk buffers by the inputs' memory limits (see idleChunkBuffersFor). */
export function sizeChunkBuffers(memBufLimits: Iterable<number>): void {
  chunkBuffers.keep = idleChunkBuffersFor(memBufLimits);
}

/** The idle chunk buffers and their bound, for tests. */
export function chunkBufferStats(): { keep: number; idle: number; idleBytes: number } {
  return { keep: chunkBuffers.keep, idle: chunkBuffers.idle, idleBytes: chunkBuffers.idleBytes };
}

/** The smallest buffer of a chunk; it doubles as records arrive. */
const MIN_CAPACITY_BYTES = 4096;

export type ChunkState = 'open' | 'sealed';

let chunkSequence = 0;

export function newChunkId(nowMs: number): string {
  // Fluent Bit names chunks `<pid>-<sec>.<nsec>.flb`; a sequence number keeps ids unique within a ms.
  const sec = Math.floor(nowMs / 1000);
  const nsec = (nowMs % 1000) * 1_000_000 + (chunkSequence++ % 1_000_000);
  return `${process.pid}-${sec}.${String(nsec).padStart(9, '0')}.flb`;
}

export class Chunk {
  readonly id: string;
  readonly inputInstance: string;
  readonly tag: string;
  private buffer: Buffer | null = null;
  private sealedData: Buffer | null = null;
  private sealed = false;
  sizeBytes = 0;
  records = 0;

  constructor(id: string, inputInstance: string, tag: string) {
    this.id = id;
    this.inputInstance = inputInstance;
    this.tag = tag;
  }

  /** A chunk an earlier run left on disk: sealed, and not in memory until it is read back. */
  static onDisk(id: string, inputInstance: string, tag: string, records: number, sizeBytes: number): Chunk {
    const chunk = new Chunk(id, inputInstance, tag);
    chunk.sealed = true;
    chunk.records = records;
    chunk.sizeBytes = sizeBytes;
    return chunk;
  }

  get state(): ChunkState {
    return this.sealed ? 'sealed' : 'open';
  }

  /** Whether the bytes are in memory; a sealed filesystem chunk may live on disk only. */
  get inMemory(): boolean {
    return !this.sealed || this.sealedData !== null;
  }

  /** Copies `data`: the caller may reuse its buffer as soon as this returns. */
  append(data: Uint8Array, records: number): void {
    if (this.sealed) throw new Error(`chunk ${this.id} is sealed`);
    const needed = this.sizeBytes + data.length;
    // A delivered chunk's buffer, when one is idle, holds a whole new chunk: growing from 4 KB by
    // doubling copies every byte about once more (8 % of the agent's CPU at full load, by profile).
    // seal() copies a mostly empty one out, so a quiet input does not keep 2 MB per chunk.
    if (this.buffer === null) this.buffer = chunkBuffers.takeIdle(needed);
    if (this.buffer === null || needed > this.buffer.length) {
      // Busy inputs reach the limit in a few doublings; quiet ones never take more than they use.
      let capacity = Math.max(MIN_CAPACITY_BYTES, (this.buffer?.length ?? data.length) * 2);
      while (capacity < needed) capacity *= 2;
      const grown = chunkBuffers.take(Math.min(capacity, Math.max(needed, chunkBytesLimit + MIN_CAPACITY_BYTES)));
      if (this.buffer !== null) {
        this.buffer.copy(grown, 0, 0, this.sizeBytes);
        chunkBuffers.give(this.buffer);
      }
      this.buffer = grown;
    }
    this.buffer.set(data, this.sizeBytes);
    this.sizeBytes = needed;
    this.records += records;
  }

  /** Bytes the open chunk can hold before its buffer grows (0 before the first append or once sealed). */
  get capacityBytes(): number {
    return this.buffer?.length ?? 0;
  }

  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    const buffer = this.buffer ?? Buffer.alloc(0);
    this.buffer = null;
    if (this.sizeBytes * 2 >= buffer.length) {
      this.sealedData = buffer.subarray(0, this.sizeBytes);
    } else {
      // A mostly empty buffer is worth a copy: the chunk may wait a long time for its outputs.
      this.sealedData = Buffer.from(buffer.subarray(0, this.sizeBytes));
      chunkBuffers.give(buffer);
    }
  }

  /**
   * The chunk is done with: its buffer may serve a new chunk. Call it only when no output is
   * flushing the chunk, since outputs read `data` until their flush returns.
   */
  recycle(): void {
    if (this.sealedData !== null) chunkBuffers.give(this.sealedData);
    this.sealedData = null;
  }

  get data(): Buffer {
    this.seal();
    if (this.sealedData === null) throw new Error(`chunk ${this.id} is not in memory`);
    return this.sealedData;
  }

  /**
   * Forgets the bytes of a sealed chunk that is safe on disk (storage.max_chunks_up), and recycles
   * them like recycle(): only when no output is flushing the chunk.
   */
  dropMemory(): void {
    if (this.sealed) this.recycle();
  }

  /** Puts bytes read back from disk in memory again; the file is the truth, so sizes follow it. */
  restore(data: Buffer, records: number): void {
    // Copied into a recycled buffer: `data` then dies young, while the chunk may wait for its outputs.
    const buffer = chunkBuffers.takeIdle(data.length) ?? chunkBuffers.take(data.length);
    data.copy(buffer);
    this.sealedData = buffer.subarray(0, data.length);
    this.sizeBytes = data.length;
    this.records = records;
  }
}

/** What an output sees of a chunk. */
export interface ChunkView {
  readonly id: string;
  readonly tag: string;
  readonly inputInstance: string;
  /** Fluent Bit event layout bytes. Read-only: outputs must copy before changing anything. */
  readonly data: Buffer;
  readonly records: number;
}
