/**
 * The multiline filter's `mode partial_message` (`plugins/filter_multiline/ml_concat.c`): Docker's
 * fluentd and journald log drivers split a long line into records marked `partial_message: "true"`,
 * sharing a `partial_id`, the last one marked `partial_last: "true"`. The pieces' key_content values
 * are joined into the first piece's record, without its `partial_*` keys, key_content last.
 */
import { keyEquals, mapEntries, strRange, type MapEntry } from '../codec/msgpack-map.js';
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import type { EventTime } from '../base/record.js';

const PARTIAL_MESSAGE = Buffer.from('partial_message');
const PARTIAL_ID = Buffer.from('partial_id');
const PARTIAL_LAST = Buffer.from('partial_last');
const PARTIAL_PREFIX = Buffer.from('partial_');

interface Packer {
  key: string;
  tag: string;
  input: string;
  time: EventTime;
  /** The first piece's entries to keep (not key_content, not partial_*). */
  head: Buffer;
  headCount: number;
  parts: Buffer[];
  length: number;
  lastWriteMs: number;
}

export interface PartialRecord {
  tag: string;
  input: string;
  time: EventTime;
  body: Buffer;
}

/** A str or bin value (ml_concat.c reads both). */
function text(entry: MapEntry): Buffer | null {
  const range = strRange(entry.valueBuf, entry.valueStart, entry.end, true);
  return range === null ? null : Buffer.from(entry.valueBuf.subarray(range.start, range.end));
}

function find(entries: readonly MapEntry[], name: Buffer): MapEntry | undefined {
  return entries.find((entry) => keyEquals(entry, name, true));
}

const isTrue = (entry: MapEntry | undefined): boolean => {
  const value = entry === undefined ? null : text(entry);
  return value !== null && value.subarray(0, 4).toString('latin1').toLowerCase() === 'true';
};

function isPartialKey(entry: MapEntry): boolean {
  const range = strRange(entry.keyBuf, entry.keyStart, entry.keyEnd, true);
  return range !== null && Buffer.from(entry.keyBuf.subarray(range.start, range.end)).subarray(0, PARTIAL_PREFIX.length).equals(PARTIAL_PREFIX);
}

export class PartialMessageJoiner {
  private readonly packers = new Map<string, Packer>();
  private readonly keyContent: Buffer;

  constructor(keyContent: string, private readonly limitBytes: number) {
    this.keyContent = Buffer.from(keyContent, 'utf8');
  }

  get pending(): number {
    return this.packers.size;
  }

  /**
   * Takes one record. Returns 'pass' for a record that is not a piece (or a piece it cannot use, with
   * the reason), 'held' for a piece kept for later, or the joined record when this was the last piece.
   */
  add(tag: string, input: string, time: EventTime, body: Uint8Array, nowMs: number): { kind: 'pass'; problem?: string } | { kind: 'held' } | { kind: 'done'; record: PartialRecord } {
    const entries = mapEntries(body);
    if (entries === null || !isTrue(find(entries, PARTIAL_MESSAGE))) return { kind: 'pass' };
    const idEntry = find(entries, PARTIAL_ID);
    const id = idEntry === undefined ? null : text(idEntry);
    if (id === null) return { kind: 'pass', problem: `a record of tag ${tag} has partial_message true but no partial_id; passed on as it is` };
    const contentEntry = find(entries, this.keyContent);
    const content = contentEntry === undefined ? null : text(contentEntry);
    if (content === null) return { kind: 'pass', problem: `a partial record of tag ${tag} has no string '${this.keyContent.toString()}'; passed on as it is` };
    const key = `${input}\u0000${tag}\u0000${id.toString('latin1')}`;
    let packer = this.packers.get(key);
    if (packer === undefined) {
      const kept = entries.filter((entry) => entry !== contentEntry && !isPartialKey(entry));
      const writer = new MsgpackWriter(256);
      for (const entry of kept) {
        writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
        writer.raw(entry.valueBuf, entry.valueStart, entry.end);
      }
      packer = { key, tag, input, time, head: writer.bytes(), headCount: kept.length, parts: [], length: 0, lastWriteMs: nowMs };
      this.packers.set(key, packer);
    }
    const room = Math.max(0, this.limitBytes - packer.length);
    const piece = content.length > room ? content.subarray(0, room) : content;
    packer.parts.push(piece);
    packer.length += piece.length;
    packer.lastWriteMs = nowMs;
    if (isTrue(find(entries, PARTIAL_LAST))) return { kind: 'done', record: this.complete(packer) };
    return { kind: 'held' };
  }

  /** The joined records of pieces that waited `idleMs` or more (all of them with 0). */
  expire(nowMs: number, idleMs: number): PartialRecord[] {
    const done: PartialRecord[] = [];
    for (const packer of [...this.packers.values()]) {
      if (nowMs - packer.lastWriteMs > idleMs || idleMs === 0) done.push(this.complete(packer));
    }
    return done;
  }

  private complete(packer: Packer): PartialRecord {
    this.packers.delete(packer.key);
    const writer = new MsgpackWriter(packer.head.length + packer.length + 32);
    writer.mapHeader(packer.headCount + 1);
    writer.raw(packer.head);
    writer.raw(this.keyContentKey());
    writer.strUtf8(Buffer.concat(packer.parts, packer.length));
    return { tag: packer.tag, input: packer.input, time: packer.time, body: writer.bytes() };
  }

  private keyContentKey(): Buffer {
    const writer = new MsgpackWriter(this.keyContent.length + 8);
    writer.str(this.keyContent.toString('utf8'));
    return writer.bytes();
  }
}
