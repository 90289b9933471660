/**
 * Random bytes from the kernel's CSPRNG, read from /dev/urandom into a pool and handed out in slices.
 *
 * Why not node:crypto: loading it brings OpenSSL's pages of the node binary and its state into memory,
 * 1.0 MB of an idle `-i dummy -o websocket` agent's RSS, and the WebSocket client needs only a few random
 * numbers (a mask key per frame, the handshake key, ping payloads). RFC 6455 §5.3 asks mask keys to come
 * from "a strong source of entropy": the kernel's CSPRNG is the one OpenSSL itself seeds from. The device
 * is opened on first use and kept open for the life of the process (one descriptor, close-on-exec as
 * every file Node opens); one read fills the pool, so a frame costs no system call, and handing out a key
 * takes less time than a slice of a pool filled by OpenSSL did (45 against 115 ns). Where the device
 * cannot be opened or read (not Linux or macOS, a sandbox without /dev), node:crypto is loaded then, and
 * only then.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { cryptoModule } from './openssl.js';

/** What fills a pool: the kernel device, or (when that failed) node:crypto. */
export type EntropySource = 'kernel' | 'node:crypto';

const DEFAULT_POOL_BYTES = 4096;


/** Fills all of `target` from `fd`; false if the file ends first (it is no random device) or fails. */
function readFully(fd: number, target: Uint8Array): boolean {
  try {
    let filled = 0;
    while (filled < target.length) {
      const read = readSync(fd, target, filled, target.length - filled, null);
      if (read <= 0) return false;
      filled += read;
    }
    return true;
  } catch {
    return false;
  }
}

export class EntropyPool {
  readonly #devicePath: string;
  readonly #pool: Buffer;
  #offset: number;
  /** undefined: not opened yet; null: unusable, node:crypto fills the pool from now on. */
  #fd: number | null | undefined = undefined;

  /** `devicePath` and `poolBytes` other than the defaults are for tests. */
  constructor(devicePath = '/dev/urandom', poolBytes = DEFAULT_POOL_BYTES) {
    this.#devicePath = devicePath;
    this.#pool = Buffer.alloc(poolBytes);
    this.#offset = poolBytes;
  }

  /** Where the pool's bytes come from; 'kernel' until a refill has failed. */
  get source(): EntropySource {
    return this.#fd === null ? 'node:crypto' : 'kernel';
  }

  /** Fills `target` with random bytes, each handed out once. */
  fill(target: Uint8Array): void {
    const pool = this.#pool;
    let written = 0;
    while (written < target.length) {
      if (this.#offset === pool.length) this.#refill();
      const count = Math.min(target.length - written, pool.length - this.#offset);
      // A mask key is 4 bytes: a loop beats making a subarray for set().
      for (let i = 0; i < count; i++) target[written + i] = pool[this.#offset + i] as number;
      this.#offset += count;
      written += count;
    }
  }

  /** `length` fresh random bytes. */
  bytes(length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    this.fill(bytes);
    return bytes;
  }

  /** Closes the device; a later fill opens it again. The shared pool never needs it (tests' own pools do). */
  close(): void {
    if (typeof this.#fd === 'number') closeSync(this.#fd);
    if (this.#fd !== null) this.#fd = undefined;
  }

  #refill(): void {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.#devicePath, 'r');
      } catch {
        this.#fd = null;
      }
    }
    if (this.#fd !== null && !readFully(this.#fd, this.#pool)) {
      try {
        closeSync(this.#fd);
      } catch {
        // Already unusable; node:crypto takes over either way.
      }
      this.#fd = null;
    }
    if (this.#fd === null) cryptoModule().randomFillSync(this.#pool);
    this.#offset = 0;
  }
}

const shared = new EntropyPool();

/** Fills `target` with random bytes from the kernel's CSPRNG (node:crypto where there is none). */
export function randomFill(target: Uint8Array): void {
  shared.fill(target);
}

/** `length` random bytes from the kernel's CSPRNG (node:crypto where there is none). */
export function randomBytes(length: number): Buffer {
  return shared.bytes(length);
}
