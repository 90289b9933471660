/**
 * One record through the kubernetes filter (`kubernetes.c`: cb_kube_filter, pack_map_content,
 * merge_log_handler): the pod's exclusion and parser for the record's stream, Merge_Log, then the
 * `kubernetes` and `kubernetes_namespace` maps appended after the record's keys.
 */
import { writeEventHeader, type EventView } from '../../../codec/event.js';
import { jsonTextToMsgpack } from '../../../codec/json-scan.js';
import { keyEquals, mapEntries, strEquals, strRange, type MapEntry } from '../../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import type { Parser } from '../../../parsers/types.js';
import type { PodProps } from './meta.js';

export interface MergeOptions {
  mergeLog: boolean;
  mergeLogKey: string | null;
  mergeLogTrim: boolean;
  keepLog: boolean;
  mergeParser: Parser | null;
  /** A parser named by a fluentbit.io/parser annotation, by name (null when it is gone). */
  parser(name: string): Parser | null;
  /** Wall-clock time, for a merge parser that found no time (Fluent Bit stamps such records now). */
  now(): { sec: number; nsec: number };
}

/** What the filter knows about a record's pod when the record passes. */
export interface KnownMeta {
  kube: Buffer | null;
  namespace: Buffer | null;
  props: PodProps;
}

const LOG = Buffer.from('log');
const STREAM = Buffer.from('stream');
const STDOUT = Buffer.from('stdout');
const STDERR = Buffer.from('stderr');

type Stream = 'stdout' | 'stderr' | 'other';

/** The record's first `stream` key's value, compared as bytes: this runs for every record. */
function streamOf(entries: readonly MapEntry[]): Stream {
  const entry = entries.find((candidate) => keyEquals(candidate, STREAM));
  if (entry === undefined) return 'other';
  if (strEquals(entry.valueBuf, entry.valueStart, entry.end, STDOUT, false)) return 'stdout';
  return strEquals(entry.valueBuf, entry.valueStart, entry.end, STDERR, false) ? 'stderr' : 'other';
}

/**
 * value_trim_size: the length of `s` without trailing newlines and escaped `\n` or `\r` pairs
 * (the first byte is never trimmed).
 */
export function trimmedLength(s: Uint8Array, start: number, end: number): number {
  let size = end - start;
  for (let i = size - 1; i > 0; i--) {
    if (s[start + i] === 0x0a) {
      size -= 1;
      continue;
    }
    if (s[start + i - 1] === 0x5c && (s[start + i] === 0x6e || s[start + i] === 0x72)) {
      size -= 2;
      i--;
    } else {
      break;
    }
  }
  return size;
}

type Merge = { kind: 'none' } | { kind: 'map'; entries: MapEntry[] } | { kind: 'parsed'; entries: MapEntry[]; time: { sec: number; nsec: number } | null };

/** merge_log_handler: the annotation's parser, else Merge_Parser, else JSON that must be one object. */
function mergeString(text: Uint8Array, parser: Parser | null, options: MergeOptions): Merge {
  const chosen = parser ?? options.mergeParser;
  if (chosen !== null) {
    const parsed = chosen.parse(text);
    if (!parsed.ok) return { kind: 'none' };
    const entries = mapEntries(parsed.body) ?? [];
    const time = parsed.time === null || (parsed.time.sec === 0 && parsed.time.nsec === 0) ? options.now() : parsed.time;
    return { kind: 'parsed', entries, time };
  }
  let body: Buffer;
  try {
    body = jsonTextToMsgpack(text);
  } catch {
    return { kind: 'none' };
  }
  const entries = mapEntries(body);
  return entries === null ? { kind: 'none' } : { kind: 'parsed', entries, time: null };
}

/**
 * Writes the event again with the record's keys (the `log` one per Keep_Log), the merged keys (under
 * Merge_Log_Key when set), `kubernetes` and `kubernetes_namespace`; returns false when the pod
 * excludes the record. The event's metadata is kept as it is.
 */
export function writeEnriched(writer: MsgpackWriter, events: Buffer, event: EventView, known: KnownMeta, options: MergeOptions): boolean {
  const entries = mapEntries(events, event.bodyStart, event.bodyEnd) ?? [];
  const { props } = known;
  let parserName: string | null = null;
  const stream = streamOf(entries);
  if (stream === 'stdout') {
    if (props.stdoutExclude) return false;
    parserName = props.stdoutParser;
  } else if (stream === 'stderr') {
    if (props.stderrExclude) return false;
    parserName = props.stderrParser;
  } else if (props.stdoutExclude && props.stderrExclude) {
    return false;
  }
  // A record of no known stream gets no annotation parser: Fluent Bit compares the two parser names
  // as pointers there, which are never equal.
  const parser = parserName === null ? null : options.parser(parserName);

  const logIndex = options.mergeLog ? entries.findIndex((entry) => keyEquals(entry, LOG)) : -1;
  const logEntry = logIndex >= 0 ? entries[logIndex] : undefined;
  let merge: Merge | null = null;
  if (logEntry !== undefined) {
    const asMap = mapEntries(logEntry.valueBuf, logEntry.valueStart, logEntry.end);
    const text = strRange(logEntry.valueBuf, logEntry.valueStart, logEntry.end);
    if (asMap !== null) merge = { kind: 'map', entries: asMap };
    else if (text !== null) merge = mergeString(logEntry.valueBuf.subarray(text.start, text.end), parser, options);
  }

  const time = merge?.kind === 'parsed' && merge.time !== null ? merge.time : { sec: event.sec, nsec: event.nsec };
  writeEventHeader(writer, time.sec, time.nsec, event.metaEnd > event.metaStart ? events.subarray(event.metaStart, event.metaEnd) : null);
  const header = writer.reserveHeader();
  let count = 0;
  entries.forEach((entry, index) => {
    // Keep_Log Off drops the merged log, and also a log that is neither a string nor a map.
    if (index === logIndex && !options.keepLog && merge?.kind !== 'none') return;
    writer.raw(entry.keyBuf, entry.keyStart, entry.end);
    count++;
  });
  if (merge !== null && merge.kind !== 'none') {
    const mergedEntries = merge.entries;
    const nestUnder = mergedEntries.length > 0 ? options.mergeLogKey : null;
    if (nestUnder !== null) {
      writer.str(nestUnder);
      writer.mapHeader(mergedEntries.length);
      count++;
    } else {
      count += mergedEntries.length;
    }
    const trim = merge.kind === 'parsed' && options.mergeLogTrim;
    for (const entry of mergedEntries) {
      writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
      const text = trim ? strRange(entry.valueBuf, entry.valueStart, entry.end) : null;
      if (text !== null) writer.strUtf8(entry.valueBuf, text.start, text.start + trimmedLength(entry.valueBuf, text.start, text.end));
      else writer.raw(entry.valueBuf, entry.valueStart, entry.end);
    }
  }
  if (known.kube !== null) {
    writer.str('kubernetes');
    writer.raw(known.kube);
    count++;
  }
  if (known.namespace !== null) {
    writer.str('kubernetes_namespace');
    writer.raw(known.namespace);
    count++;
  }
  writer.patchMapHeader(header, count);
  return true;
}

/** A scratch writer sized for typical batches. */
export function recordWriter(): MsgpackWriter {
  return new MsgpackWriter(64 * 1024);
}
