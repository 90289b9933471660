import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Chunk } from '../chunk.js';
import { WsbitError, errorMessage } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { decodeChunkFile, encodeChunkHeader, encodeFrameHeader, UnreadableChunkFileError, type DecodedChunkFile } from './chunk-file.js';
import type { ChunkStorage } from './types.js';

export interface FilesystemStorageOptions {
  /** `storage.path`: one directory per input instance below it, one file per chunk. */
  rootPath: string;
  /** `storage.sync full` fsyncs every append; `normal` leaves it to the kernel (survives a process kill). */
  sync: 'normal' | 'full';
  checksum: boolean;
  /** `storage.delete_irrecoverable_chunks`: delete what cannot be read instead of quarantining it. */
  deleteIrrecoverable: boolean;
  /** `storage.quarantine_limit`: most bytes kept in `storage.path/quarantine/`; the oldest go first. */
  quarantineLimitBytes?: number;
  logger: Logger;
  /** Only check that `rootPath` could be created (`-D`); touch nothing on disk. */
  dryRun?: boolean;
}

/** A chunk found on disk at start-up, left by an earlier run. */
export interface BacklogChunk {
  id: string;
  tag: string;
  inputInstance: string;
  records: number;
  sizeBytes: number;
  filePath: string;
}

/** What the start-up scan of storage.path found and did, for the one summary line and the metrics. */
export interface RecoverySummary {
  /** Chunks queued for delivery, and their records. */
  chunks: number;
  records: number;
  /** Of those, chunks that were torn or damaged and are delivered as far as they hold whole records. */
  partial: number;
  /** Files that held no records (a header or first frame cut by a crash, a temporary header file): removed. */
  empty: number;
  /** Files moved (or, when damaged but partly readable, copied) to quarantine/, and their bytes. */
  quarantined: number;
  quarantinedBytes: number;
  /** Irrecoverable files deleted (`storage.delete_irrecoverable_chunks on`). */
  deleted: number;
  /** Older quarantined files dropped to keep quarantine/ within storage.quarantine_limit. */
  evicted: number;
}

export const quarantineDirectory = 'quarantine';
export const defaultQuarantineLimitBytes = 100 * 1024 * 1024;
const temporarySuffix = '.tmp';
/** Older versions set unreadable files aside beside the live chunks under this suffix. */
const legacyCorruptSuffix = '.corrupt';

function emptySummary(): RecoverySummary {
  return { chunks: 0, records: 0, partial: 0, empty: 0, quarantined: 0, quarantinedBytes: 0, deleted: 0, evicted: 0 };
}

const chunkSuffix = '.flb';

interface OpenFile {
  filePath: string;
  /** null once sealed, or for a backlog file adopted from an earlier run. */
  fd: number | null;
  /** Bytes known written whole: where a failed append cuts the file back to. */
  size: number;
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function safeDirectoryName(instance: string): string {
  const name = instance.replace(/[^A-Za-z0-9_.-]/g, '_');
  // An input aliased `quarantine` must not write its live chunks where the unreadable ones go.
  return name === quarantineDirectory ? `${name}_` : name;
}

/**
 * Fails as `mkdir -p dir` would, without creating anything: the nearest part of the path that exists
 * must be a directory this process may write into.
 */
function checkCreatable(dir: string): void {
  let current = path.resolve(dir);
  for (;;) {
    let stat;
    try {
      stat = statSync(current);
    } catch (error) {
      const parent = path.dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
      continue;
    }
    if (!stat.isDirectory()) throw new Error(`ENOTDIR: '${current}' is not a directory`);
    accessSync(current, constants.W_OK | constants.X_OK);
    return;
  }
}

/**
 * Fluent Bit's `storage.type filesystem`: every append is written to the chunk's file before the
 * input's data counts as received, and the file is deleted only when every output is done with
 * it. What is on disk when the process dies is delivered by the next run.
 */
export class FilesystemStorage implements ChunkStorage {
  readonly kind = 'filesystem';
  readonly countsAgainstMemoryLimit = false;
  private quarantineSequence = 0;
  private readonly open = new Map<Chunk, OpenFile>();
  private summary: RecoverySummary = emptySummary();

  constructor(private readonly options: FilesystemStorageOptions) {
    try {
      if (options.dryRun === true) checkCreatable(options.rootPath);
      else mkdirSync(options.rootPath, { recursive: true });
    } catch (error) {
      throw new WsbitError('WSBIT_STORAGE_PATH', `[storage] cannot create storage.path '${options.rootPath}': ${errorMessage(error)}`, { cause: error });
    }
    // A relative storage.path is taken from the working directory, as Fluent Bit takes it: say
    // where that is, so a user knows what the next start will replay and what to delete.
    if (options.dryRun !== true) options.logger.info(`storage.path is ${path.resolve(options.rootPath)}`);
  }

  append(chunk: Chunk, data: Buffer): void {
    let file = this.open.get(chunk);
    if (file === undefined) {
      file = this.create(chunk);
      this.open.set(chunk, file);
    }
    if (file.fd === null) throw new WsbitError('WSBIT_STORAGE_SEALED', `chunk ${chunk.id} is sealed`);
    // One write per frame keeps a torn write to the tail of the file.
    const frame = Buffer.concat([encodeFrameHeader(data, this.options.checksum), data]);
    try {
      this.writeAll(file.fd, frame);
      if (this.options.sync === 'full') fsyncSync(file.fd);
    } catch (error) {
      // A short write (ENOSPC) must not stay: the next append would follow a half frame and the
      // reader would lose every frame after it. Cutting back keeps the file whole-framed; if even
      // that fails, the reader still keeps every frame before this one.
      try {
        ftruncateSync(file.fd, file.size);
      } catch {
        // The write error below is the one the caller needs.
      }
      throw error;
    }
    file.size += frame.length;
  }

  /**
   * Creates a chunk's file so that a crash can never leave it without its header: the header is
   * written under a temporary name and fsynced, and only then renamed to the chunk's name, which
   * the next start reads. A crash before the rename leaves a `.tmp` file that holds no records and
   * is removed at start-up. The descriptor stays valid across the rename, so appends follow.
   */
  private create(chunk: Chunk): OpenFile {
    const directory = path.join(this.options.rootPath, safeDirectoryName(chunk.inputInstance));
    mkdirSync(directory, { recursive: true });
    const filePath = path.join(directory, `${chunk.id.replace(/\.flb$/, '')}${chunkSuffix}`);
    if (existsSync(filePath)) throw new WsbitError('WSBIT_STORAGE_EXISTS', `chunk file ${filePath} already exists`);
    const temporaryPath = `${filePath}${temporarySuffix}`;
    const header = encodeChunkHeader(chunk.tag, chunk.inputInstance, this.options.checksum);
    const fd = openSync(temporaryPath, 'wx');
    try {
      this.writeAll(fd, header);
      fsyncSync(fd);
      renameSync(temporaryPath, filePath);
    } catch (error) {
      closeSync(fd);
      rmSync(temporaryPath, { force: true });
      throw error;
    }
    // With storage.sync full the new name must survive a power cut too, not only a process kill.
    if (this.options.sync === 'full') fsyncDirectory(directory);
    return { filePath, fd, size: header.length };
  }

  /**
   * Whether the disk takes `bytes` again after a failed chunk write: writes them to a probe file,
   * syncs it and removes it. Throws the write's error (ENOSPC, EDQUOT, EIO) while it does not.
   */
  probe(bytes: number): void {
    const filePath = path.join(this.options.rootPath, '.wsbit-probe');
    const fd = openSync(filePath, 'w');
    try {
      this.writeAll(fd, Buffer.alloc(Math.max(4096, bytes)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      rmSync(filePath, { force: true });
    }
  }

  seal(chunk: Chunk): void {
    const file = this.open.get(chunk);
    if (file === undefined || file.fd === null) return;
    closeSync(file.fd);
    file.fd = null;
  }

  read(chunk: Chunk): Buffer {
    const file = this.open.get(chunk);
    if (file === undefined) throw new WsbitError('WSBIT_STORAGE_MISSING', `chunk ${chunk.id} has no file`);
    // Problems were logged once when the backlog was scanned; reading again must not repeat them.
    return decodeChunkFile(readFileSync(file.filePath)).events;
  }

  release(chunk: Chunk): void {
    const file = this.open.get(chunk);
    if (file === undefined) return;
    this.open.delete(chunk);
    if (file.fd !== null) closeSync(file.fd);
    rmSync(file.filePath, { force: true });
  }

  /** Registers a backlog file as the home of `chunk`, so read() and release() find it. */
  adopt(chunk: Chunk, filePath: string): void {
    this.open.set(chunk, { filePath, fd: null, size: 0 });
  }

  /** What the last loadBacklog() found and did. */
  get lastRecovery(): RecoverySummary {
    return { ...this.summary };
  }

  /**
   * Finds the chunks an earlier run left. Each file is read once to check it (CRC, torn tail) and
   * count its records; the bytes are not kept, so a large backlog does not fill memory. Afterwards
   * storage.path holds only chunks queued for delivery and quarantine/: whatever holds no records
   * is removed, and whatever cannot be read is quarantined (or deleted), each with one log line.
   */
  loadBacklog(): BacklogChunk[] {
    this.summary = emptySummary();
    const found: BacklogChunk[] = [];
    for (const directory of readdirSync(this.options.rootPath).sort()) {
      if (directory === quarantineDirectory) continue;
      const directoryPath = path.join(this.options.rootPath, directory);
      if (!statSync(directoryPath).isDirectory()) continue;
      for (const name of readdirSync(directoryPath).sort()) {
        const filePath = path.join(directoryPath, name);
        if (name.endsWith(`${chunkSuffix}${temporarySuffix}`)) {
          rmSync(filePath, { force: true });
          this.summary.empty++;
          this.options.logger.warn(`[storage] ${directory}/${name}: a chunk header a crash left before its first record: removed`);
        } else if (name.endsWith(`${chunkSuffix}${legacyCorruptSuffix}`)) {
          this.irrecoverable(filePath, 'set aside as corrupt by an earlier version');
        } else if (name.endsWith(chunkSuffix)) {
          const chunk = this.recover(directory, name, filePath);
          if (chunk !== null) found.push(chunk);
        }
      }
    }
    this.summary.chunks = found.length;
    this.summary.records = found.reduce((sum, chunk) => sum + chunk.records, 0);
    return found;
  }

  /** Reads one chunk file left by an earlier run; null when nothing in it goes out. */
  private recover(directory: string, name: string, filePath: string): BacklogChunk | null {
    let decoded: DecodedChunkFile;
    try {
      decoded = decodeChunkFile(readFileSync(filePath));
    } catch (error) {
      if (error instanceof UnreadableChunkFileError && error.kind === 'torn-header') {
        rmSync(filePath, { force: true });
        this.summary.empty++;
        this.options.logger.warn(`[storage] ${directory}/${name}: ${error.message} (a crash while it was created): removed`);
      } else {
        this.irrecoverable(filePath, errorMessage(error));
      }
      return null;
    }
    const problems = decoded.problems.join('; ');
    if (decoded.records === 0) {
      if (decoded.damaged) {
        this.irrecoverable(filePath, problems);
      } else {
        rmSync(filePath, { force: true });
        this.summary.empty++;
        this.options.logger.warn(`[storage] ${directory}/${name}: no whole records${problems === '' ? '' : ` (${problems})`}: removed`);
      }
      return null;
    }
    if (problems !== '') {
      this.summary.partial++;
      // The whole records go out; a copy of the damaged original stays for a human to look at.
      const copied = decoded.damaged ? this.quarantine(filePath, 'copy') : '';
      this.options.logger.warn(`[storage] ${directory}/${name}: ${problems}; ${decoded.records} records recovered${copied}`);
    }
    return { id: name, tag: decoded.tag, inputInstance: decoded.inputInstance, records: decoded.records, sizeBytes: decoded.events.length, filePath };
  }

  private irrecoverable(filePath: string, reason: string): void {
    const shown = path.relative(this.options.rootPath, filePath);
    if (this.options.deleteIrrecoverable) {
      rmSync(filePath, { force: true });
      this.summary.deleted++;
      this.options.logger.error(`[storage] irrecoverable chunk ${shown} deleted: ${reason}`);
    } else {
      const moved = this.quarantine(filePath, 'move');
      this.options.logger.error(`[storage] irrecoverable chunk ${shown}: ${reason}${moved}`);
    }
  }

  /**
   * Puts a file in storage.path/quarantine/ under a name that sorts by arrival, so the oldest go
   * first when the directory passes storage.quarantine_limit. Returns the log text saying where it went.
   */
  private quarantine(filePath: string, how: 'move' | 'copy'): string {
    const quarantinePath = path.join(this.options.rootPath, quarantineDirectory);
    mkdirSync(quarantinePath, { recursive: true });
    const origin = path.relative(this.options.rootPath, filePath).split(path.sep).join('-').replace(new RegExp(`\\${legacyCorruptSuffix}$`), '');
    // A sequence number rather than a time: arrival order survives restarts within one millisecond.
    const target = path.join(quarantinePath, `${String(this.nextQuarantineNumber(quarantinePath)).padStart(12, '0')}-${origin}`);
    if (how === 'move') renameSync(filePath, target);
    else copyFileSync(filePath, target);
    this.summary.quarantined++;
    this.summary.quarantinedBytes += statSync(target).size;
    const kept = this.enforceQuarantineLimit(target);
    return kept ? ` (${how === 'move' ? 'moved' : 'copied'} to ${quarantineDirectory}/${path.basename(target)})` : ` (over storage.quarantine_limit: not kept)`;
  }

  private nextQuarantineNumber(quarantinePath: string): number {
    if (this.quarantineSequence === 0) {
      for (const name of readdirSync(quarantinePath)) {
        const number = Number.parseInt(name, 10);
        if (Number.isSafeInteger(number)) this.quarantineSequence = Math.max(this.quarantineSequence, number);
      }
    }
    return ++this.quarantineSequence;
  }

  /** Drops the oldest quarantined files until the rest fit the limit; false if `newest` went too. */
  private enforceQuarantineLimit(newest: string): boolean {
    const limit = this.options.quarantineLimitBytes ?? defaultQuarantineLimitBytes;
    const quarantinePath = path.dirname(newest);
    const files = readdirSync(quarantinePath)
      .sort()
      .map((name) => ({ name, size: statSync(path.join(quarantinePath, name)).size }));
    let total = files.reduce((sum, file) => sum + file.size, 0);
    const dropped: string[] = [];
    for (const file of files) {
      if (total <= limit) break;
      rmSync(path.join(quarantinePath, file.name), { force: true });
      total -= file.size;
      dropped.push(file.name);
      this.summary.evicted++;
    }
    if (dropped.length > 0) {
      this.options.logger.warn(`[storage] ${quarantineDirectory}/ over storage.quarantine_limit (${limit} bytes): dropped the oldest ${dropped.length} file(s): ${dropped.join(', ')}`);
    }
    return !dropped.includes(path.basename(newest));
  }

  private writeAll(fd: number, data: Buffer): void {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
  }
}
