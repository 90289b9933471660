/**
 * A chunk is a batch of records from one input with one tag, in Fluent Bit's msgpack event layout.
 * While open it collects appended pieces; sealing joins them once, so appends never copy the
 * growing buffer. Outputs receive the sealed bytes and must never modify them (SPEC part A, 4).
 */

/** Fluent Bit considers a chunk full around this size (FLB_INPUT_CHUNK_FS_MAX_SIZE). */
export const chunkBytesLimit = 2_048_000;

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
  private pieces: Buffer[] = [];
  private sealedData: Buffer | null = null;
  sizeBytes = 0;
  records = 0;

  constructor(id: string, inputInstance: string, tag: string) {
    this.id = id;
    this.inputInstance = inputInstance;
    this.tag = tag;
  }

  get state(): ChunkState {
    return this.sealedData === null ? 'open' : 'sealed';
  }

  append(data: Buffer, records: number): void {
    if (this.sealedData !== null) throw new Error(`chunk ${this.id} is sealed`);
    this.pieces.push(data);
    this.sizeBytes += data.length;
    this.records += records;
  }

  seal(): Buffer {
    if (this.sealedData === null) {
      this.sealedData = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.sizeBytes);
      this.pieces = [];
    }
    return this.sealedData;
  }

  get data(): Buffer {
    return this.seal();
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
