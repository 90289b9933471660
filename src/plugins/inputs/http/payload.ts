/**
 * Request bodies of the http input, turned into record bodies (msgpack maps) or a 400 reason, all or
 * nothing: a body with one bad record is refused whole, so a client that retries never duplicates
 * the good part.
 */
import { arrayHeader, mapCount, skipValue } from '../../../codec/event.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { recordsMaxDepth, scanJsonValue, skipJsonWhitespace } from '../../../codec/json-scan.js';
import type { EventTime } from '../../../base/record.js';
import type { Parser } from '../../../parsers/types.js';

export interface PayloadRecord {
  body: Uint8Array;
  /** Set when a parser read a time from the line. */
  time: EventTime | null;
}

export type PayloadResult = { ok: true; records: PayloadRecord[] } | { ok: false; reason: string };

/**
 * JSON: an object, an array of objects, or several of these one after another (as Fluent Bit's
 * `process_pack` loops over what the JSON packer produced).
 */
export function jsonRecords(body: Uint8Array): PayloadResult {
  const writer = new MsgpackWriter(Math.max(256, body.length));
  const records: PayloadRecord[] = [];
  let offset = skipJsonWhitespace(body, 0);
  if (offset >= body.length) return { ok: false, reason: 'error: no payload found' };
  while (offset < body.length) {
    writer.reset();
    const result = scanJsonValue(body, offset, writer, { eof: true, maxDepth: recordsMaxDepth(body, offset) });
    if (result.status === 'incomplete') return { ok: false, reason: 'error: invalid JSON: unexpected end of the body' };
    if (result.status === 'error') return { ok: false, reason: `error: invalid JSON: ${result.message}` };
    const value = writer.bytes();
    if (result.kind === 'object') {
      records.push({ body: value, time: null });
    } else if (result.kind === 'array') {
      // The scanner has just written an array here.
      const { count, size } = arrayHeader(value, 0) ?? { count: 0, size: 0 };
      let pos = size;
      for (let i = 0; i < count; i++) {
        const end = skipValue(value, pos);
        if (mapCount(value, pos, end) < 0) return { ok: false, reason: `error: element ${i} of the JSON array is not an object` };
        records.push({ body: value.subarray(pos, end), time: null });
        pos = end;
      }
    } else {
      return { ok: false, reason: `error: a JSON ${result.kind} is not a record: send an object or an array of objects` };
    }
    offset = skipJsonWhitespace(body, result.end);
  }
  if (records.length === 0) return { ok: false, reason: 'error: no records in the payload (an empty array)' };
  return { ok: true, records };
}

/** `%XX` and `+` decoding; null for a broken escape (Fluent Bit then keeps the raw value). */
function formDecode(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

export interface FormFields {
  fields: Array<[string, string]>;
  /** Keys whose value was not valid percent-encoding and was kept raw. */
  rawKeys: string[];
  /** Each key's first value as sent, still percent-encoded: `msgpack=` carries bytes that are not text. */
  rawValues: Map<string, string>;
}

/** `%XX` and `+` decoded to bytes, for a binary field (`msgpack=`); a broken escape stays as sent. */
export function formBytes(raw: string): Buffer {
  const bytes: number[] = [];
  const text = Buffer.from(raw, 'utf8');
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    const hex = byte === 0x25 ? text.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(byte === 0x2b ? 0x20 : byte);
  }
  return Buffer.from(bytes);
}

/** `a=1&b=2` as Fluent Bit's `parse_payload_urlencoded` splits it: pairs without '=' are skipped, both sides trimmed. */
export function formFields(body: Uint8Array): FormFields {
  const fields: Array<[string, string]> = [];
  const rawKeys: string[] = [];
  const rawValues = new Map<string, string>();
  for (let pair of Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').split('&')) {
    if (pair.startsWith('\n')) pair = pair.slice(1);
    const equals = pair.indexOf('=');
    if (pair === '' || equals <= 0) continue;
    const key = formDecode(pair.slice(0, equals).trim()) ?? pair.slice(0, equals).trim();
    const raw = pair.slice(equals + 1).trim();
    const value = formDecode(raw);
    if (value === null) rawKeys.push(key);
    fields.push([key, value ?? raw]);
    if (!rawValues.has(key)) rawValues.set(key, raw);
  }
  return { fields, rawKeys, rawValues };
}

/**
 * True when a body starts like a JSON object or array: curl's `-d '{"action":"login"}'` labels such a
 * body application/x-www-form-urlencoded, so a form that starts so is tried as JSON first.
 */
export function startsLikeJson(body: Uint8Array): boolean {
  const first = body[skipJsonWhitespace(body, 0)];
  return first === 0x7b || first === 0x5b;
}

/** Fluentd's form field `msgpack=`: one map, or an array of maps, as msgpack bytes. */
export function msgpackRecords(bytes: Uint8Array): PayloadResult {
  let end: number;
  try {
    end = skipValue(bytes, 0);
  } catch (error) {
    return { ok: false, reason: `error: invalid msgpack in the form field 'msgpack': ${error instanceof Error ? error.message : String(error)}` };
  }
  if (end !== bytes.length) return { ok: false, reason: `error: ${bytes.length - end} bytes after the msgpack value in the form field 'msgpack'` };
  if (mapCount(bytes, 0, end) >= 0) return { ok: true, records: [{ body: bytes, time: null }] };
  const header = arrayHeader(bytes, 0, end);
  if (header === null) return { ok: false, reason: "error: the form field 'msgpack' is not a record: send a map or an array of maps" };
  const records: PayloadRecord[] = [];
  let pos = header.size;
  for (let i = 0; i < header.count; i++) {
    const next = skipValue(bytes, pos, end);
    if (mapCount(bytes, pos, next) < 0) return { ok: false, reason: `error: element ${i} of the msgpack array is not a map` };
    records.push({ body: bytes.subarray(pos, next), time: null });
    pos = next;
  }
  if (records.length === 0) return { ok: false, reason: 'error: no records in the payload (an empty array)' };
  return { ok: true, records };
}

/** Form fields as one record: `{"key": "value", ...}`, every value a string. */
export function formRecord(form: FormFields): PayloadResult {
  if (form.fields.length === 0) {
    return { ok: false, reason: 'error: no key=value pairs in the form payload (for JSON, send a JSON object or array, or Content-Type: application/json)' };
  }
  const writer = new MsgpackWriter(256);
  writer.mapHeader(form.fields.length);
  for (const [key, value] of form.fields) {
    writer.str(key);
    writer.str(value);
  }
  return { ok: true, records: [{ body: writer.bytes(), time: null }] };
}

/** Each non-empty line through `parser`; the first line it cannot read refuses the body. */
export function parsedRecords(body: Uint8Array, parser: Parser, warn: (message: string) => void): PayloadResult {
  const records: PayloadRecord[] = [];
  let start = 0;
  let line = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    line++;
    const lineEnd = end > start && body[end - 1] === 0x0d ? end - 1 : end;
    if (lineEnd > start) {
      const parsed = parser.parse(body.subarray(start, lineEnd), warn);
      if (!parsed.ok) return { ok: false, reason: `error: line ${line} could not be parsed with parser '${parser.name}': ${parsed.reason}` };
      records.push({ body: parsed.body, time: parsed.time });
    }
    start = end + 1;
  }
  if (records.length === 0) return { ok: false, reason: 'error: no payload found' };
  return { ok: true, records };
}
