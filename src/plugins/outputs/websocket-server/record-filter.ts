/**
 * fluent-plugin-websocket's record filter: a query parameter that is not one of the server's own names
 * a record field, and only records whose field, printed as text, equals the parameter's value are sent
 * (`?user=6`). Several must all match. A name starting with `$` is a record accessor
 * (`?$kubernetes['namespace_name']=prod`), resolved as the grep filter resolves it.
 *
 * "Printed as text": a string is its own text; any other value is its compact JSON (`6`, `1.5`, `true`,
 * `null`, `{"a":1}`), so `?user=6` matches both `"user":6` and `"user":"6"`, as Ruby's `to_s` does
 * for the plugin. A missing field never matches.
 *
 * A client picks its own filter, so it is bounded: at most MAX_FILTER_PARAMS conditions, names of at
 * most MAX_FILTER_NAME_BYTES and values of at most MAX_FILTER_VALUE_BYTES; beyond that, or with a
 * malformed accessor, the upgrade is refused with HTTP 400.
 */
import { ByteSink } from '../../../codec/byte-sink.js';
import { writeMsgpackValueAsJson } from '../../../codec/json.js';
import { strRange } from '../../../codec/msgpack-map.js';
import { parseRecordAccessor, resolveAccessor, type RecordAccessor } from '../../filters/record-accessor.js';

export const MAX_FILTER_PARAMS = 8;
export const MAX_FILTER_NAME_BYTES = 256;
export const MAX_FILTER_VALUE_BYTES = 1024;

/** The query parameters the server itself reads; every other one is a record filter. */
export const SERVER_PARAMS: ReadonlySet<string> = new Set(['token', 'match', 'last_received']);

interface Condition {
  readonly accessor: RecordAccessor;
  readonly value: Buffer;
}

export interface RecordFilter {
  /** `name=value` pairs joined by `&`, as given: for log lines, the live page and telling filters apart. */
  readonly text: string;
  readonly conditions: readonly Condition[];
}

/** The record filter in a request's query: null when there is none, a string saying why when it is refused. */
export function recordFilterFromQuery(url: URL): RecordFilter | null | string {
  const conditions: Condition[] = [];
  const pairs: string[] = [];
  for (const [name, value] of url.searchParams) {
    if (SERVER_PARAMS.has(name)) continue;
    if (conditions.length === MAX_FILTER_PARAMS) return `more than ${MAX_FILTER_PARAMS} record filter parameters`;
    if (Buffer.byteLength(name) > MAX_FILTER_NAME_BYTES) return `a record filter name is longer than ${MAX_FILTER_NAME_BYTES} bytes`;
    if (Buffer.byteLength(value) > MAX_FILTER_VALUE_BYTES) return `a record filter value is longer than ${MAX_FILTER_VALUE_BYTES} bytes`;
    // A plain name is the field itself, brackets and all; only `$` makes an accessor, as in the plugin.
    const accessor = name.startsWith('$') ? parseRecordAccessor(name) : name === '' ? null : { text: name, key: Buffer.from(name, 'utf8'), path: [] };
    if (accessor === null) return 'a record filter name is not a field or a record accessor ($key[\'sub\'][0])';
    conditions.push({ accessor, value: Buffer.from(value, 'utf8') });
    pairs.push(`${name}=${value}`);
  }
  return conditions.length === 0 ? null : { text: pairs.join('&'), conditions };
}

/** Whether the record (a msgpack map at `buf[start, end)`) passes every condition. */
export function recordMatches(filter: RecordFilter, buf: Buffer, start: number, end: number): boolean {
  for (const { accessor, value } of filter.conditions) {
    const range = resolveAccessor(buf, start, end, accessor);
    if (range === null) return false;
    const str = strRange(buf, range.start, range.end);
    if (str !== null) {
      if (str.end - str.start !== value.length || buf.compare(value, 0, value.length, str.start, str.end) !== 0) return false;
      continue;
    }
    const sink = new ByteSink(64);
    writeMsgpackValueAsJson(sink, buf.subarray(0, range.end), range.start, { escapeUnicode: false });
    if (!sink.bytes().equals(value)) return false;
  }
  return true;
}
