/**
 * A few large scratch buffers kept for reuse. Every chunk the websocket output sends needs megabytes
 * of scratch (the JSON text, the masked frame). Allocated fresh per chunk, they are ArrayBuffers that
 * outlive a young-generation collection, and V8 lets up to 64 MB of dead ones pile up before a full
 * collection frees them: most of the agent's peak memory at full load. Reusing them keeps it flat.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  /** The memory this pool handed out: give() ignores anything else, such as a view of a chunk. */
  readonly #owned = new WeakSet<ArrayBufferLike>();

  /**
   * @param keep how many idle buffers to hold on to (one per send that may be in flight at once)
   * @param minBytes requests below this size are not pooled: small buffers are cheap and die young
   */
  constructor(
    private readonly keep: number,
    private readonly minBytes = 64 * 1024,
  ) {}

  /** A buffer of at least `bytes` bytes, with undefined contents. Hand it back with give() when done. */
  take(bytes: number): Buffer {
    if (bytes < this.minBytes) return Buffer.allocUnsafe(bytes);
    const index = this.#free.findIndex((buffer) => buffer.length >= bytes);
    if (index >= 0) return this.#free.splice(index, 1)[0]!;
    // Room to spare, so that the next chunk, a little larger, still fits.
    const buffer = Buffer.allocUnsafeSlow(bytes + (bytes >> 3));
    this.#owned.add(buffer.buffer);
    return buffer;
  }

  /** The largest idle buffer if it holds at least `bytes` bytes, or null (nothing is allocated). */
  takeIdle(bytes: number): Buffer | null {
    let largest = -1;
    for (let i = 0; i < this.#free.length; i++) if (largest < 0 || this.#free[i]!.length > this.#free[largest]!.length) largest = i;
    if (largest < 0 || this.#free[largest]!.length < bytes) return null;
    return this.#free.splice(largest, 1)[0]!;
  }

  /**
   * Hands back a buffer from take(), or any view of one; nothing may use it afterwards. Bytes that
   * did not come from this pool are ignored, so a caller may pass whatever it got from an encoder.
   */
  give(bytes: Uint8Array): void {
    if (!this.#owned.has(bytes.buffer)) return;
    const buffer = Buffer.from(bytes.buffer);
    if (this.#free.some((free) => free.buffer === buffer.buffer)) return;
    if (this.#free.length < this.keep) {
      this.#free.push(buffer);
      return;
    }
    // Full: keep the larger buffers, which serve every request the smaller ones would.
    let smallest = 0;
    for (let i = 1; i < this.#free.length; i++) if (this.#free[i]!.length < this.#free[smallest]!.length) smallest = i;
    if (this.#free[smallest]!.length < buffer.length) this.#free[smallest] = buffer;
  }

  /** Idle buffers, for tests. */
  get idle(): number {
    return this.#free.length;
  }
}
