/**
 * The multiline core (`src/multiline/flb_ml.c`): lines or records arrive per stream (a file for
 * tail, an input and tag for the filter), each parser in the list is tried in turn (the one that took
 * the stream's last line first), and a line no parser takes closes what is open and goes out alone.
 * Records leave through `onRecord` when a group is complete, when it waited `flushTimeoutMs` for
 * more, or at `flushAll` (shutdown).
 *
 * Where this differs from Fluent Bit on purpose:
 * - Fluent Bit's timer flushes every open group each flush_ms, even one still receiving lines; here a
 *   group is flushed once it has received nothing for flush_ms (`flushIdle`).
 * - After a regex group is flushed by its last rule (python's final `Error:` line), Fluent Bit keeps
 *   that line's record as the context of an empty group and emits it a second time at the next
 *   timer flush; here an empty group keeps no context, so no record is emitted twice.
 * - Metadata: the group keeps the metadata of its first record that had any (Fluent Bit merges them).
 */
import { keyEquals, mapEntries, rewriteMap, strRange, type MapEntry } from '../codec/msgpack-map.js';
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import type { EventTime } from '../base/record.js';
import { MAX_GROUPS_PER_STREAM, type MultilineParserDefinition, type MultilineRule } from './types.js';

export interface MultilineRecord {
  time: EventTime;
  /** Metadata map bytes, or null for none. */
  metadata: Uint8Array | null;
  /** Body map bytes: a copy, or the appended record itself when a complete line passes alone (keep a copy to hold it longer than the caller holds that record). */
  body: Buffer;
  /** The group went over the buffer limit and was cut. */
  truncated: boolean;
}

export interface MultilineOptions {
  /** Overrides every parser's key_content (the filter's `multiline.key_content`). */
  keyContent?: string | null;
  bufferLimitBytes: number;
  nowMs: () => number;
  onRecord(stream: string, record: MultilineRecord): void;
}

type Outcome = 'ok' | 'truncated' | 'unmatched';

class Group {
  parts: Buffer[] = [];
  length = 0;
  lastByte = -1;
  rule: MultilineRule | null = null;
  /** The record of the group's first line (maps only); its key_content is replaced at flush. */
  context: Buffer | null = null;
  time: EventTime | null = null;
  metadata: Uint8Array | null = null;
  truncated = false;
  lastAppendMs = 0;
}

class Stream {
  readonly groups = new Map<string, Group>([['', new Group()]]);
  lastSeenMs = 0;
}

/**
 * A stream (an input and tag, e.g. one pod's container) with nothing open is forgotten after this
 * long, so streams of containers long gone do not pile up in memory.
 */
export const STREAM_FORGET_MS = 5 * 60 * 1000;

interface Instance {
  readonly definition: MultilineParserDefinition;
  readonly keyContent: string | null;
  readonly keyContentBytes: Buffer | null;
  readonly keyPatternBytes: Buffer | null;
  readonly keyGroupBytes: Buffer | null;
  /** key_content, key_pattern and key_group together: instances with the same read a record alike. */
  readonly keys: string;
  readonly streams: Map<string, Stream>;
}

const NEWLINE = Buffer.from('\n');
const LOG_KEY = 'log';
const isZero = (time: EventTime | null): boolean => time === null || (time.sec === 0 && time.nsec === 0);

/** `get_key_id`: the first entry whose key is the str `name` and whose value is a str. */
function strValue(map: Uint8Array, entries: readonly MapEntry[], name: Buffer | null): Buffer | null {
  if (name === null) return null;
  for (const entry of entries) {
    if (!keyEquals(entry, name)) continue;
    const range = strRange(entry.valueBuf, entry.valueStart, entry.end);
    if (range !== null) return Buffer.from(map.buffer, map.byteOffset + range.start, range.end - range.start);
  }
  return null;
}

export class MultilineEngine {
  private readonly instances: Instance[];
  private lru: { instance: Instance; stream: string } | null = null;
  /** The fields of the record being appended, found by the first parser that looked (see processMap). */
  private fields: { map: Uint8Array; keys: string; content: Buffer | null; pattern: Buffer | null; groupName: Buffer | null; text: string | null } | null = null;
  private readonly writer = new MsgpackWriter(4096);
  /** The longest flush timeout of the parsers (Fluent Bit uses the greatest). */
  readonly flushTimeoutMs: number;

  constructor(definitions: readonly MultilineParserDefinition[], private readonly options: MultilineOptions) {
    if (definitions.length === 0) throw new Error('a multiline engine needs at least one parser');
    this.instances = definitions.map((definition) => {
      const keyContent = options.keyContent ?? definition.keyContent;
      const bytes = (text: string | null): Buffer | null => (text === null ? null : Buffer.from(text, 'utf8'));
      return {
        definition, keyContent, keyContentBytes: bytes(keyContent), keyPatternBytes: bytes(definition.keyPattern),
        keyGroupBytes: bytes(definition.keyGroup), keys: JSON.stringify([keyContent, definition.keyPattern, definition.keyGroup]), streams: new Map(),
      };
    });
    this.flushTimeoutMs = Math.max(...definitions.map((definition) => definition.flushTimeoutMs));
  }

  /** A raw line (tail). `time` null: the parser's time, else now. */
  appendText(stream: string, line: Uint8Array, time: EventTime | null): Outcome {
    return this.append(stream, (instance) => this.tryText(instance, stream, line, time), () => {
      const group = this.defaultGroup(this.first, stream);
      group.time = time;
      this.cat(group, Buffer.from(line));
      this.flush(this.first, stream, group);
    });
  }

  /** A record (the filter): its body map, time and metadata. */
  appendRecord(stream: string, time: EventTime, metadata: Uint8Array | null, body: Uint8Array): Outcome {
    return this.append(stream, (instance) => this.tryMap(instance, stream, body, time, metadata), () => {
      // A record no parser takes goes out as it is (what a flush of it alone would rebuild).
      const extra = metadata !== null && metadata.length > 1 ? Buffer.from(metadata) : null;
      this.options.onRecord(stream, { time, metadata: extra, body: Buffer.isBuffer(body) ? body : Buffer.from(body), truncated: false });
    });
  }

  /**
   * Flushes the groups that have waited `idleMs` or more for another line, and forgets streams that
   * have had nothing open for STREAM_FORGET_MS (returned, for the caller to forget too).
   */
  flushIdle(idleMs: number): string[] {
    const now = this.options.nowMs();
    this.forEachGroup(null, (instance, stream, group) => {
      if (group.length > 0 || group.context !== null) {
        if (now - group.lastAppendMs >= idleMs) this.flush(instance, stream, group);
      }
    });
    const forgotten = new Set<string>();
    for (const instance of this.instances) {
      for (const [name, stream] of instance.streams) {
        const open = [...stream.groups.values()].some((group) => group.length > 0 || group.context !== null);
        if (!open && now - stream.lastSeenMs >= STREAM_FORGET_MS) {
          instance.streams.delete(name);
          forgotten.add(name);
        }
      }
    }
    for (const name of forgotten) {
      if (this.instances.some((instance) => instance.streams.has(name))) forgotten.delete(name);
      else if (this.lru?.stream === name) this.lru = null;
    }
    return [...forgotten];
  }

  /** Flushes every open group (of one stream, or all). */
  flushAll(stream: string | null = null): void {
    this.forEachGroup(stream, (instance, name, group) => this.flush(instance, name, group));
  }

  hasPending(): boolean {
    let pending = false;
    this.forEachGroup(null, (_i, _s, group) => {
      if (group.length > 0 || group.context !== null) pending = true;
    });
    return pending;
  }

  /** Forgets a stream (a file no longer followed), after flushing it. */
  closeStream(stream: string): void {
    this.flushAll(stream);
    for (const instance of this.instances) instance.streams.delete(stream);
    if (this.lru?.stream === stream) this.lru = null;
  }

  private get first(): Instance {
    return this.instances[0] as Instance;
  }

  private forEachGroup(only: string | null, visit: (instance: Instance, stream: string, group: Group) => void): void {
    for (const instance of this.instances) {
      for (const [name, stream] of instance.streams) {
        if (only !== null && name !== only) continue;
        for (const group of stream.groups.values()) visit(instance, name, group);
      }
    }
  }

  /** flb_ml_append_*: the parser that took this stream's last line first, then the others in order. */
  private append(stream: string, attempt: (instance: Instance) => Outcome, alone: () => void): Outcome {
    try {
      return this.appendOnce(stream, attempt, alone);
    } finally {
      this.fields = null;
    }
  }

  private appendOnce(stream: string, attempt: (instance: Instance) => Outcome, alone: () => void): Outcome {
    const lru = this.lru !== null && this.lru.stream === stream ? this.lru.instance : null;
    if (lru !== null) {
      const outcome = attempt(lru);
      if (outcome !== 'unmatched') return outcome;
    }
    for (const instance of this.instances) {
      if (instance === lru) continue;
      const outcome = attempt(instance);
      if (outcome !== 'unmatched') {
        this.lru = { instance, stream };
        return outcome;
      }
    }
    // A line no parser takes ends whatever is open in this stream, then goes out on its own.
    this.flushAll(stream);
    alone();
    return 'ok';
  }

  private stream(instance: Instance, name: string): Stream {
    let stream = instance.streams.get(name);
    if (stream === undefined) {
      stream = new Stream();
      instance.streams.set(name, stream);
    }
    stream.lastSeenMs = this.options.nowMs();
    return stream;
  }

  private defaultGroup(instance: Instance, name: string): Group {
    return this.stream(instance, name).groups.get('') as Group;
  }

  /** flb_ml_stream_group_get: one group per key_group value, up to MAX_GROUPS_PER_STREAM. */
  private group(instance: Instance, name: string, groupName: Buffer | null): Group {
    const stream = this.stream(instance, name);
    if (instance.definition.keyGroup === null || groupName === null) return stream.groups.get('') as Group;
    const key = `=${groupName.toString('latin1')}`;
    let group = stream.groups.get(key);
    if (group === undefined) {
      // Beyond the limit Fluent Bit has no group to give; the default one is used here.
      if (stream.groups.size >= MAX_GROUPS_PER_STREAM) return stream.groups.get('') as Group;
      group = new Group();
      stream.groups.set(key, group);
    }
    return group;
  }

  private tryText(instance: Instance, stream: string, line: Uint8Array, time: EventTime | null): Outcome {
    const parser = instance.definition.parser;
    if (parser === null) return this.packageContent(instance, stream, null, Buffer.from(line.buffer, line.byteOffset, line.byteLength), isZero(time) ? null : time, null);
    const parsed = parser.parse(line);
    if (!parsed.ok) return 'unmatched';
    const when = !isZero(parsed.time) ? parsed.time : time;
    return this.processMap(instance, stream, parsed.body, isZero(when) ? null : when, null);
  }

  private tryMap(instance: Instance, stream: string, body: Uint8Array, time: EventTime, metadata: Uint8Array | null): Outcome {
    const parser = instance.definition.parser;
    let map = body;
    let when: EventTime | null = time;
    if (parser !== null && instance.keyContentBytes !== null) {
      const entries = mapEntries(body) ?? [];
      const entry = entries.find((candidate) => keyEquals(candidate, instance.keyContentBytes as Buffer));
      if (entry !== undefined) {
        const range = strRange(body, entry.valueStart, entry.end);
        if (range === null) return 'unmatched';
        const parsed = parser.parse(body.subarray(range.start, range.end));
        if (!parsed.ok) return 'unmatched';
        map = parsed.body;
        if (!isZero(parsed.time)) when = parsed.time;
      }
    }
    return this.processMap(instance, stream, map, isZero(when) ? null : when, metadata);
  }

  /** process_append for a map: key_content must be a str; key_pattern and key_group are optional. */
  private processMap(instance: Instance, stream: string, map: Uint8Array, time: EventTime | null, metadata: Uint8Array | null): Outcome {
    // Parsers of the same keys (java, python, go, ruby on `log`) read one record the same way, so
    // what the first one found is reused for the others.
    let fields = this.fields;
    if (fields === null || fields.map !== map || fields.keys !== instance.keys) {
      const entries = mapEntries(map);
      const content = entries === null ? null : strValue(map, entries, instance.keyContentBytes);
      fields = {
        map, keys: instance.keys, content,
        pattern: entries === null ? null : strValue(map, entries, instance.keyPatternBytes),
        groupName: entries === null ? null : strValue(map, entries, instance.keyGroupBytes),
        text: null,
      };
      this.fields = fields;
    }
    if (fields.content === null) return 'unmatched';
    const group = this.group(instance, stream, fields.groupName);
    return this.packageContent(instance, stream, { map, content: fields.content, pattern: fields.pattern }, fields.content, time, metadata, group);
  }

  /** The content as text for the rules, decoded once per record. */
  private contentText(content: Buffer): string {
    const fields = this.fields;
    if (fields !== null && fields.content === content) return (fields.text ??= content.toString('utf8'));
    return content.toString('utf8');
  }

  /** package_content: what the parser's type does with one line's content. */
  private packageContent(
    instance: Instance,
    stream: string,
    record: { map: Uint8Array; content: Buffer; pattern: Buffer | null } | null,
    content: Buffer,
    time: EventTime | null,
    metadata: Uint8Array | null,
    group: Group = this.defaultGroup(instance, stream),
  ): Outcome {
    const definition = instance.definition;
    const register = (): void => {
      group.time = time;
      if (record !== null) group.context = Buffer.from(record.map);
    };
    let outcome: Outcome;
    if (definition.type === 'regex') {
      outcome = this.processRules(instance, stream, group, content, register);
      if (outcome === 'unmatched') return outcome;
      // A text group takes the time of its latest line, as Fluent Bit's; a map group its first record.
      if (group.context === null && (record === null || group.length > 0) && outcome === 'ok') register();
    } else {
      const match = Buffer.from(definition.matchString ?? '', 'utf8');
      const decider = record?.pattern ?? content;
      let matched: boolean;
      if (definition.type === 'endswith') {
        if (decider.length < match.length) return 'unmatched';
        matched = decider.subarray(decider.length - match.length).equals(match);
      } else {
        matched = decider.equals(match);
      }
      if (definition.negate) matched = !matched;
      if (matched && record !== null && group.length === 0 && group.context === null && instance.keyContent !== null && content.length <= this.options.bufferLimitBytes) {
        // A complete line with nothing open (most container log lines): the record a flush would
        // rebuild is the line's own record, so it goes out as it is, without copies.
        const body = Buffer.isBuffer(record.map) ? record.map : Buffer.from(record.map);
        const extra = metadata !== null && metadata.length > 1 ? Buffer.from(metadata) : null;
        this.options.onRecord(stream, { time: time ?? nowTime(this.options.nowMs()), metadata: extra, body, truncated: false });
        return 'ok';
      }
      if (group.context === null) register();
      this.breakline(instance, group);
      outcome = this.cat(group, content);
      if (matched || outcome === 'truncated') this.flush(instance, stream, group);
    }
    if (metadata !== null && metadata.length > 1 && group.metadata === null) group.metadata = Buffer.from(metadata);
    return outcome;
  }

  /** flb_ml_rule_process: continue the open group, or start a new one, or refuse the line. */
  private processRules(instance: Instance, stream: string, group: Group, content: Buffer, register: () => void): Outcome {
    const text = this.contentText(content);
    let rule: MultilineRule | null = null;
    if (group.rule !== null) {
      for (const candidate of group.rule.next) {
        if (candidate.startState || !candidate.regex.test(text)) continue;
        if (group.length > 0 && group.lastByte !== 0x0a) this.cat(group, NEWLINE);
        if (this.cat(group, content.length === 0 ? NEWLINE : content) === 'truncated') {
          this.flush(instance, stream, group);
          group.rule = null;
          return 'truncated';
        }
        rule = candidate;
        break;
      }
    }
    if (rule === null) {
      rule = instance.definition.rules.find((candidate) => candidate.startState && candidate.regex.test(text)) ?? null;
      if (rule !== null) {
        if (group.length > 0) this.flush(instance, stream, group);
        group.rule = rule;
        const outcome = this.cat(group, content);
        register();
        if (outcome === 'truncated') return outcome;
      }
    }
    if (rule === null) return 'unmatched';
    group.rule = rule;
    // A rule that can lead back to a start state ends the group here (python's final `Error:` line).
    if (rule.next.some((next) => next.startState) && group.length > 0) this.flush(instance, stream, group);
    return 'ok';
  }

  /** breakline_prepare: text lines (no key_content) are joined with '\n'. */
  private breakline(instance: Instance, group: Group): void {
    if (instance.keyContent === null && group.length > 0 && group.lastByte !== 0x0a) this.cat(group, NEWLINE);
  }

  /** flb_ml_group_cat: appends up to the buffer limit; beyond it the group is marked truncated. */
  private cat(group: Group, data: Buffer): 'ok' | 'truncated' {
    group.lastAppendMs = this.options.nowMs();
    const limit = this.options.bufferLimitBytes;
    let piece = data;
    let outcome: 'ok' | 'truncated' = 'ok';
    if (limit > 0 && group.length + data.length > limit) {
      piece = data.subarray(0, Math.max(0, limit - group.length));
      group.truncated = true;
      outcome = 'truncated';
    }
    if (piece.length > 0) {
      // A copy: `data` may be a view of a buffer the caller reuses.
      group.parts.push(Buffer.from(piece));
      group.length += piece.length;
      group.lastByte = piece[piece.length - 1] as number;
    }
    return outcome;
  }

  /** flb_ml_flush_stream_group: the joined text replaces key_content in the first record. */
  private flush(instance: Instance, stream: string, group: Group): void {
    this.breakline(instance, group);
    const text = group.parts.length === 1 ? (group.parts[0] as Buffer) : Buffer.concat(group.parts, group.length);
    const writer = this.writer;
    writer.reset();
    let wrote = false;
    if (group.context !== null) {
      const entries = mapEntries(group.context) ?? [];
      if (group.length > 0 && instance.keyContentBytes !== null) {
        writer.mapHeader(entries.length);
        for (const entry of entries) {
          writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
          if (keyEquals(entry, instance.keyContentBytes)) writer.strUtf8(text);
          else writer.raw(entry.valueBuf, entry.valueStart, entry.end);
        }
      } else {
        writer.raw(group.context);
      }
      wrote = true;
    } else if (group.length > 0) {
      writer.mapHeader(1);
      writer.str(instance.keyContent ?? LOG_KEY);
      writer.strUtf8(text);
      wrote = true;
    }
    const time = group.time !== null && !isZero(group.time) ? group.time : nowTime(this.options.nowMs());
    const record: MultilineRecord = { time, metadata: group.metadata, body: wrote ? writer.bytes() : Buffer.alloc(0), truncated: group.truncated };
    group.parts = [];
    group.length = 0;
    group.lastByte = -1;
    group.context = null;
    group.metadata = null;
    group.truncated = false;
    if (wrote) this.options.onRecord(stream, record);
  }
}

const TRUNCATED_METADATA = Buffer.from([0x81, 0xb3, ...Buffer.from('multiline_truncated'), 0xc3]);

/** The metadata to write for a record: Fluent Bit marks a cut group with `multiline_truncated: true`. */
export function recordMetadata(record: MultilineRecord): Uint8Array | null {
  if (!record.truncated) return record.metadata;
  if (record.metadata === null || record.metadata.length <= 1) return TRUNCATED_METADATA;
  const writer = new MsgpackWriter(record.metadata.length + 32);
  rewriteMap(writer, record.metadata, mapEntries(record.metadata) ?? [], {
    suffix: [
      (w) => {
        w.str('multiline_truncated');
        w.bool(true);
      },
    ],
  });
  return writer.bytes();
}

function nowTime(ms: number): EventTime {
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}
