import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Chunk } from '../chunk.js';
import { WsbitError, errorMessage } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { decodeChunkFile, encodeChunkHeader, encodeFrameHeader, UnreadableChunkFileError } from './chunk-file.js';
import type { ChunkStorage } from './types.js';

export interface FilesystemStorageOptions {
  /** `storage.path`: one directory per input instance below it, one file per chunk. */
  rootPath: string;
  /** `storage.sync full` fsyncs every append; `normal` leaves it to the kernel (survives a process kill). */
  sync: 'normal' | 'full';
  checksum: boolean;
  deleteIrrecoverable: boolean;
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

const chunkSuffix = '.flb';

function safeDirectoryName(instance: string): string {
  return instance.replace(/[^A-Za-z0-9_.-]/g, '_');
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
  private readonly open = new Map<Chunk, { filePath: string; fd: number | null }>();

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
      const directory = path.join(this.options.rootPath, safeDirectoryName(chunk.inputInstance));
      mkdirSync(directory, { recursive: true });
      const filePath = path.join(directory, `${chunk.id.replace(/\.flb$/, '')}${chunkSuffix}`);
      const fd = openSync(filePath, 'wx');
      file = { filePath, fd };
      this.open.set(chunk, file);
      this.writeAll(fd, encodeChunkHeader(chunk.tag, chunk.inputInstance, this.options.checksum));
    }
    if (file.fd === null) throw new WsbitError('WSBIT_STORAGE_SEALED', `chunk ${chunk.id} is sealed`);
    // One write per frame keeps a torn write to the tail of the file.
    this.writeAll(file.fd, Buffer.concat([encodeFrameHeader(data, this.options.checksum), data]));
    if (this.options.sync === 'full') fsyncSync(file.fd);
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
    return this.readFile(file.filePath).events;
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
    this.open.set(chunk, { filePath, fd: null });
  }

  /**
   * Finds the chunks an earlier run left. Each file is read once to check it (CRC, torn tail) and
   * count its records; the bytes are not kept, so a large backlog does not fill memory.
   */
  loadBacklog(): BacklogChunk[] {
    const found: BacklogChunk[] = [];
    for (const directory of readdirSync(this.options.rootPath).sort()) {
      const directoryPath = path.join(this.options.rootPath, directory);
      if (!statSync(directoryPath).isDirectory()) continue;
      for (const name of readdirSync(directoryPath).sort()) {
        if (!name.endsWith(chunkSuffix)) continue;
        const filePath = path.join(directoryPath, name);
        try {
          const decoded = this.readFile(filePath);
          if (decoded.records === 0) {
            rmSync(filePath, { force: true });
            continue;
          }
          found.push({ id: name, tag: decoded.tag, inputInstance: decoded.inputInstance, records: decoded.records, sizeBytes: decoded.events.length, filePath });
        } catch (error) {
          this.irrecoverable(filePath, error);
        }
      }
    }
    return found;
  }

  private readFile(filePath: string): { events: Buffer; records: number; tag: string; inputInstance: string } {
    const decoded = decodeChunkFile(readFileSync(filePath));
    for (const problem of decoded.problems) this.options.logger.warn(`[storage] ${path.basename(filePath)}: ${problem}`);
    return decoded;
  }

  private irrecoverable(filePath: string, error: unknown): void {
    const reason = error instanceof UnreadableChunkFileError ? error.message : errorMessage(error);
    if (this.options.deleteIrrecoverable) {
      rmSync(filePath, { force: true });
      this.options.logger.error(`[storage] irrecoverable chunk ${filePath} deleted: ${reason}`);
    } else {
      renameSync(filePath, `${filePath}.corrupt`);
      this.options.logger.error(`[storage] irrecoverable chunk ${filePath} set aside as .corrupt: ${reason}`);
    }
  }

  private writeAll(fd: number, data: Buffer): void {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
  }
}
