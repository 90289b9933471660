/**
 * tail's `db`: where each file was read up to, so a restart neither repeats nor skips lines. Fluent
 * Bit keeps this in SQLite; wsbit keeps a small JSON file, replaced atomically (write a temporary
 * file, fsync it, rename it over the old one, fsync the directory), so a crash leaves either the old
 * offsets or the new ones, never a torn file that would make every file be read again from the start.
 *
 * Files are identified by device and inode, as Fluent Bit does, so a renamed (rotated) file keeps
 * its offset.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../base/errors.js';

export interface OffsetEntry {
  /** The name the file had when last seen. */
  name: string;
  dev: string;
  inode: string;
  offset: number;
}

interface DbFile {
  format: 'wsbit-tail-offsets';
  version: 1;
  files: OffsetEntry[];
}

export type SyncMode = 'off' | 'normal' | 'full' | 'extra';

export class OffsetsDb {
  private readonly entries = new Map<string, OffsetEntry>();
  private dirty = false;

  private constructor(
    readonly file: string,
    private readonly sync: SyncMode,
  ) {}

  static key(dev: bigint | string, inode: bigint | string): string {
    return `${dev}:${inode}`;
  }

  /**
   * Opens the db, creating nothing until the first save. A file that exists but is not a wsbit offsets
   * file (a Fluent Bit SQLite db, say) is a config error rather than something to overwrite.
   */
  static open(file: string, sync: SyncMode, instance: string): OffsetsDb {
    const db = new OffsetsDb(file, sync);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return db;
      throw new ConfigError('WSBIT_CONFIG_TAIL_DB', `[config] ${instance}: cannot read db '${file}': ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!isDbFile(parsed)) {
      throw new ConfigError(
        'WSBIT_CONFIG_TAIL_DB',
        `[config] ${instance}: db '${file}' is not a wsbit offsets file (a Fluent Bit SQLite db cannot be shared); point db at a new path`,
      );
    }
    for (const entry of parsed.files) db.entries.set(OffsetsDb.key(entry.dev, entry.inode), { ...entry });
    return db;
  }

  get(dev: bigint, inode: bigint): OffsetEntry | undefined {
    return this.entries.get(OffsetsDb.key(dev, inode));
  }

  set(name: string, dev: bigint, inode: bigint, offset: number): void {
    const key = OffsetsDb.key(dev, inode);
    const current = this.entries.get(key);
    if (current !== undefined && current.offset === offset && current.name === name) return;
    this.entries.set(key, { name, dev: String(dev), inode: String(inode), offset });
    this.dirty = true;
  }

  delete(dev: bigint, inode: bigint): void {
    if (this.entries.delete(OffsetsDb.key(dev, inode))) this.dirty = true;
  }

  get pending(): boolean {
    return this.dirty;
  }

  /** Writes the offsets if they changed: temp file, fsync, rename, fsync of the directory. */
  save(): void {
    if (!this.dirty) return;
    const body: DbFile = { format: 'wsbit-tail-offsets', version: 1, files: [...this.entries.values()] };
    const temp = `${this.file}.tmp-${process.pid}`;
    const fd = fs.openSync(temp, 'w', 0o644);
    try {
      fs.writeSync(fd, `${JSON.stringify(body)}\n`);
      if (this.sync !== 'off') fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.file);
    if (this.sync !== 'off') {
      // The rename itself is durable only once the directory entry is on disk.
      const dir = fs.openSync(path.dirname(path.resolve(this.file)), 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    }
    this.dirty = false;
  }
}

function isDbFile(value: unknown): value is DbFile {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record['format'] !== 'wsbit-tail-offsets' || !Array.isArray(record['files'])) return false;
  return record['files'].every((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return false;
    const e = entry as Record<string, unknown>;
    return typeof e['name'] === 'string' && typeof e['dev'] === 'string' && typeof e['inode'] === 'string' && Number.isSafeInteger(e['offset']);
  });
}
