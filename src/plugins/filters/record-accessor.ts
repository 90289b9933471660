/**
 * Fluent Bit's record accessor (`$key`, `$key['sub']["sub2"][0]`), resolved on msgpack bytes the way
 * `flb_ra_key.c` resolves it on a decoded map.
 */
import { containerAt, findLastValue, type ValueRange } from '../../codec/msgpack-map.js';
import { skipValue } from '../../codec/event.js';

export interface RecordAccessor {
  /** As written, for messages. */
  readonly text: string;
  /** The top-level key, UTF-8. */
  readonly key: Uint8Array;
  /** Map keys (UTF-8) and array indexes below it, in order. */
  readonly path: ReadonlyArray<Uint8Array | number>;
}

/**
 * Parses `$key`, `key`, `$key['a']`, `$key["a"][2]`. The leading `$` is optional (grep adds it to
 * plain keys). Returns null for a malformed accessor.
 */
export function parseRecordAccessor(text: string): RecordAccessor | null {
  const source = text.startsWith('$') ? text.slice(1) : text;
  const bracket = source.indexOf('[');
  const name = bracket < 0 ? source : source.slice(0, bracket);
  if (name === '') return null;
  const path: Array<Uint8Array | number> = [];
  let rest = bracket < 0 ? '' : source.slice(bracket);
  while (rest !== '') {
    const match = /^\[(?:'([^']*)'|"([^"]*)"|(\d+))\]/.exec(rest);
    if (match === null) return null;
    const index = match[3];
    path.push(index !== undefined ? Number(index) : Buffer.from(match[1] ?? match[2] ?? '', 'utf8'));
    rest = rest.slice(match[0].length);
  }
  return { text, key: Buffer.from(name, 'utf8'), path };
}

/**
 * The byte range of the value the accessor names inside the map at `buf[start, end)`, or null when
 * it is missing. As in Fluent Bit, the last of duplicate keys wins and only str keys count, and when
 * the top-level value is neither a map nor an array the sub-keys are ignored and that value is used.
 */
export function resolveAccessor(buf: Uint8Array, start: number, end: number, accessor: RecordAccessor): ValueRange | null {
  let value = findLastValue(buf, start, end, accessor.key);
  if (value === null || accessor.path.length === 0) return value;
  if (containerAt(buf, value.start, value.end) === null) return value;
  for (const step of accessor.path) {
    const container = containerAt(buf, value.start, value.end);
    if (container === null) return null;
    if (typeof step === 'number') {
      if (container.kind !== 'array' || step >= container.count) return null;
      let pos: number = value.start + container.headerSize;
      for (let i = 0; i < step; i++) pos = skipValue(buf, pos, value.end);
      value = { start: pos, end: skipValue(buf, pos, value.end) };
    } else {
      if (container.kind !== 'map') return null;
      value = findLastValue(buf, value.start, value.end, step);
      if (value === null) return null;
    }
  }
  return value;
}
