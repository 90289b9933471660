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
  #keep: number;

  /**
   * @param keep how many idle buffers to hold on to (one per send that may be in flight at once)
   * @param minBytes requests below this size are not pooled: small buffers are cheap and die young
   * @param maxBytes buffers above this size are not kept once given back: one odd, large chunk must
   *   not hold its memory for the life of the agent
   * @param spareBytes room added to a new buffer, so that the next request, a little larger, still fits;
   *   null: an eighth of the request
   */
  constructor(
    keep: number,
    private readonly minBytes = 64 * 1024,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly spareBytes: number | null = null,
  ) {
    this.#keep = Math.max(0, Math.floor(keep));
  }

  /** How many idle buffers the pool holds on to at most. */
  get keep(): number {
    return this.#keep;
  }

  /** Changes the bound; idle buffers beyond it are let go at once (the smaller ones first). */
  set keep(keep: number) {
    this.#keep = Math.max(0, Math.floor(keep));
    if (this.#free.length <= this.#keep) return;
    this.#free.sort((a, b) => b.length - a.length);
    this.#free.length = this.#keep;
  }

  /** A buffer of at least `bytes` bytes, with undefined contents. Hand it back with give() when done. */
  take(bytes: number): Buffer {
    if (bytes < this.minBytes) return Buffer.allocUnsafe(bytes);
    const index = this.#free.findIndex((buffer) => buffer.length >= bytes);
    if (index >= 0) return this.#free.splice(index, 1)[0]!;
    // Every idle buffer is too small. This larger one takes a place among them when it comes back,
    // so the smallest makes room now rather than stay alive beside it until then.
    if (this.#free.length >= this.#keep && this.#free.length > 0) this.#dropSmallest();
    const buffer = Buffer.allocUnsafeSlow(bytes + (this.spareBytes ?? bytes >> 3));
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
    if (buffer.length > this.maxBytes || this.#keep === 0) return;
    if (this.#free.some((free) => free.buffer === buffer.buffer)) return;
    if (this.#free.length < this.#keep) {
      this.#free.push(buffer);
      return;
    }
    // Full: keep the larger buffers, which serve every request the smaller ones would.
    let smallest = 0;
    for (let i = 1; i < this.#free.length; i++) if (this.#free[i]!.length < this.#free[smallest]!.length) smallest = i;
    if (this.#free[smallest]!.length < buffer.length) this.#free[smallest] = buffer;
  }

  #dropSmallest(): void {
    let smallest = 0;
    for (let i = 1; i < this.#free.length; i++) if (this.#free[i]!.length < this.#free[smallest]!.length) smallest = i;
    this.#free.splice(smallest, 1);
  }

  /** Idle buffers, for tests. */
  get idle(): number {
    return this.#free.length;
  }

  /** Bytes held by idle buffers, for tests. */
  get idleBytes(): number {
    let bytes = 0;
    for (const buffer of this.#free) bytes += buffer.length;
    return bytes;
  }
}
