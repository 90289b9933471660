/**
 * A parser's `Decode_Field` / `Decode_Field_As` rules, applied to the record a parser made, as Fluent
 * Bit 5.1.1 applies them (src/flb_parser_decoder.c), quirks included, since configs rely on its output:
 *
 * - `Decode_Field_As BACKEND KEY [ACTION]` replaces the value of KEY; `Decode_Field` keeps it and, when
 *   the backend gives an object (json), appends the object's keys to the record. A string result of
 *   `Decode_Field` is dropped (`[parser_decoder] string type is not allowed`).
 * - The rules of a key run in order; a failure (only json fails) stops unless the action is `try_next`
 *   or `do_next`; a success stops unless it is `do_next`. Once a key was decoded into an object, its
 *   later rules are skipped.
 * - Only str values of str keys are decoded, and only from the first key that has rules on.
 * - The appended keys come from the LAST key of the record that has a `Decode_Field` rule: each such key
 *   starts the extra keys afresh, even when its own decoding fails.
 */
import { mapEntries, strRange, type MapEntry } from '../codec/msgpack-map.js';
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import { scanJsonValue } from '../codec/json-scan.js';
import { anotherJsonValueFollows } from './json-record.js';

export const decoderBackends = ['json', 'escaped', 'escaped_utf8', 'mysql_quoted'] as const;
export type DecoderBackend = (typeof decoderBackends)[number];
export type DecoderAction = 'none' | 'try_next' | 'do_next';

export interface DecoderRule {
  /** `Decode_Field_As` (replace the value) rather than `Decode_Field` (append keys). */
  replace: boolean;
  backend: DecoderBackend;
  action: DecoderAction;
}

/** The rules of one key, in the order they were written. */
export interface FieldDecoder {
  key: string;
  rules: DecoderRule[];
}

/**
 * Reads one `Decode_Field`/`Decode_Field_As` value (`BACKEND KEY [ACTION]`, split on spaces) into `decoders`.
 * Returns the reason when the value is unusable; Fluent Bit then logs it and drops all of the parser's rules.
 */
export function addDecoderRule(decoders: FieldDecoder[], replace: boolean, value: string): string | null {
  const words = value.split(' ').filter((word) => word !== '');
  if (words.length < 2) return `invalid number of parameters in decoder '${value}': expected BACKEND KEY [try_next|do_next]`;
  const backend = decoderBackends.find((name) => name === (words[0] as string).toLowerCase());
  if (backend === undefined) return `field decoder '${words[0] as string}' unknown: expected one of ${decoderBackends.join(', ')}`;
  const actionWord = (words[2] ?? '').toLowerCase();
  // Fluent Bit takes any other third word as no action.
  const action: DecoderAction = actionWord === 'try_next' || actionWord === 'do_next' ? actionWord : 'none';
  const key = words[1] as string;
  let decoder = decoders.find((candidate) => candidate.key === key);
  if (decoder === undefined) {
    decoder = { key, rules: [] };
    decoders.push(decoder);
  }
  decoder.rules.push({ replace, backend, action });
  return null;
}

/** The `Decode_Field` rules (not `_As`) whose backend gives a string, which can never add keys. */
export function uselessAppendRules(decoders: readonly FieldDecoder[]): string[] {
  return decoders.flatMap((decoder) => decoder.rules.filter((rule) => !rule.replace && rule.backend !== 'json').map((rule) => `Decode_Field ${rule.backend} ${decoder.key}`));
}

type Decoded = { kind: 'string'; bytes: Uint8Array } | { kind: 'object'; msgpack: Uint8Array };

/** Compiled decoders for one parser: `apply` is called for every record the parser makes. */
export interface RecordDecoder {
  /** The body with the rules applied, or null when no key has rules (the body stays as it is). */
  apply(body: Uint8Array): Buffer | null;
}

export function createRecordDecoder(decoders: readonly FieldDecoder[]): RecordDecoder | null {
  if (decoders.length === 0) return null;
  const byKey = new Map(decoders.map((decoder) => [Buffer.from(decoder.key, 'utf8').toString('latin1'), decoder]));
  const writer = new MsgpackWriter(1024);
  const keyOf = (entry: MapEntry): string | null => {
    const range = strRange(entry.keyBuf, entry.keyStart, entry.keyEnd);
    return range === null ? null : Buffer.from(entry.keyBuf.buffer, entry.keyBuf.byteOffset + range.start, range.end - range.start).toString('latin1');
  };
  return {
    apply(body): Buffer | null {
      const entries = mapEntries(body);
      if (entries === null) return null;
      const first = entries.findIndex((entry) => {
        const key = keyOf(entry);
        return key !== null && byKey.has(key);
      });
      if (first < 0) return null;
      writer.reset();
      writer.mapHeader(entries.length);
      let extra: Uint8Array | null = null;
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i] as MapEntry;
        const key = i < first ? null : keyOf(entry);
        const decoder = key === null ? undefined : byKey.get(key);
        const value = strRange(entry.valueBuf, entry.valueStart, entry.end);
        if (decoder === undefined || value === null) {
          writeEntry(writer, entry);
          continue;
        }
        if (decoder.rules.some((rule) => !rule.replace)) extra = null;
        const original = entry.valueBuf.subarray(value.start, value.end);
        const { replaced, appended } = runRules(decoder.rules, original);
        writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
        if (replaced === null) writer.raw(entry.valueBuf, entry.valueStart, entry.end);
        else if (replaced.kind === 'string') writeStr(writer, replaced.bytes);
        else writer.raw(replaced.msgpack);
        // A string result has nowhere to go (Fluent Bit logs 'string type is not allowed' for each
        // record; wsbit says so once, when the parser is loaded).
        if (appended !== null && appended.kind === 'object') extra = appended.msgpack;
      }
      if (extra === null) return writer.bytes();
      const extraEntries = mapEntries(extra) ?? [];
      const decoded = writer.bytes();
      writer.reset();
      writer.mapHeader(entries.length + extraEntries.length);
      for (const entry of mapEntries(decoded) ?? []) writeEntry(writer, entry);
      for (const entry of extraEntries) writeEntry(writer, entry);
      return writer.bytes();
    },
  };
}

function writeEntry(writer: MsgpackWriter, entry: MapEntry): void {
  writer.raw(entry.keyBuf, entry.keyStart, entry.keyEnd);
  writer.raw(entry.valueBuf, entry.valueStart, entry.end);
}

function writeStr(writer: MsgpackWriter, bytes: Uint8Array): void {
  writer.strHeader(bytes.length);
  writer.raw(bytes);
}

/** One key's rules over its value (flb_parser_decoder_do's inner loop). */
function runRules(rules: readonly DecoderRule[], original: Uint8Array): { replaced: Decoded | null; appended: Decoded | null } {
  let data = original;
  let replaced: Decoded | null = null;
  let appended: Decoded | null = null;
  for (const rule of rules) {
    if (!rule.replace && rule.action === 'do_next' && appended !== null) continue;
    if (replaced !== null && replaced.kind !== 'string') continue;
    const result = decode(rule.backend, data);
    if (result === null) {
      if (rule.action !== 'none') continue;
      break;
    }
    if (rule.replace) {
      replaced = result;
      data = result.kind === 'string' ? result.bytes : result.msgpack;
    } else {
      appended = result;
    }
    if (rule.action !== 'do_next') break;
  }
  return { replaced, appended };
}

function decode(backend: DecoderBackend, input: Uint8Array): Decoded | null {
  switch (backend) {
    case 'json': {
      const msgpack = decodeJsonObject(input);
      return msgpack === null ? null : { kind: 'object', msgpack };
    }
    case 'escaped':
      return { kind: 'string', bytes: unescapeC(input) };
    case 'escaped_utf8':
      return { kind: 'string', bytes: unescapeUtf8(input) };
    case 'mysql_quoted':
      return { kind: 'string', bytes: mysqlUnquote(input) };
  }
}

/**
 * `decode_json`: spaces, then one JSON object. Text after it that does not read as a second JSON value
 * is ignored, as flb_pack_json_recs (yyjson, stop when done) ignores it; a second value fails the decode.
 */
function decodeJsonObject(input: Uint8Array): Buffer | null {
  let start = 0;
  while (input[start] === 0x20) start++;
  if (input[start] !== 0x7b && input[start] !== 0x5b) return null;
  const writer = new MsgpackWriter(input.length + 16);
  const result = scanJsonValue(input, start, writer, { eof: true });
  if (result.status !== 'ok' || result.kind !== 'object') return null;
  return anotherJsonValueFollows(input, result.end) ? null : writer.bytes();
}

/** flb_unescape_string: C escapes; an unknown one loses its backslash; a final lone backslash becomes NUL. */
function unescapeC(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  const simple: Record<number, number> = { 0x6e: 0x0a, 0x61: 0x07, 0x62: 0x08, 0x74: 0x09, 0x76: 0x0b, 0x66: 0x0c, 0x72: 0x0d, 0x5c: 0x5c };
  let j = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as number;
    if (c !== 0x5c) {
      out[j++] = c;
      continue;
    }
    if (i + 1 >= input.length) {
      // Fluent Bit reads the string's NUL terminator here.
      out[j++] = 0;
      break;
    }
    const mapped = simple[input[i + 1] as number];
    if (mapped !== undefined) {
      out[j++] = mapped;
      i++;
    }
  }
  return out.subarray(0, j);
}

const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
const isOctal = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x37;

/** Up to `max` hex digits from `at`: their value (0 for none) and count. */
function hexRun(input: Uint8Array, at: number, end: number, max: number): { value: number; digits: number } {
  let value = 0;
  let digits = 0;
  while (at + digits < end && digits < max && isHex(input[at + digits])) {
    value = value * 16 + Number.parseInt(String.fromCharCode(input[at + digits] as number), 16);
    digits++;
  }
  return { value, digits };
}

/** u8_read_escape_sequence: the escape after a backslash at `at`; returns the code point and the bytes read. */
function escapeSequence(input: Uint8Array, at: number, end: number): { ch: number; used: number } {
  const c = input[at] as number;
  const named: Record<number, number> = { 0x6e: 0x0a, 0x74: 0x09, 0x72: 0x0d, 0x62: 0x08, 0x66: 0x0c, 0x76: 0x0b, 0x61: 0x07 };
  if (named[c] !== undefined) return { ch: named[c] as number, used: 1 };
  if (isOctal(c)) {
    let value = 0;
    let used = 0;
    do value = value * 8 + ((input[at + used++] as number) - 0x30);
    while (at + used < end && isOctal(input[at + used]) && used < 3);
    return { ch: value, used };
  }
  if (c === 0x78 || c === 0x55) {
    const run = hexRun(input, at + 1, end, c === 0x78 ? 2 : 8);
    return { ch: run.digits > 0 ? run.value : c, used: 1 + run.digits };
  }
  if (c === 0x75) {
    const high = hexRun(input, at + 1, end, 4);
    let used = 1 + high.digits;
    if (high.digits > 0 && high.digits < 4) return { ch: 0xfffd, used };
    if (high.value >= 0xdc00 && high.value <= 0xdfff) return { ch: 0xfffd, used };
    if (high.value < 0xd800 || high.value > 0xdbff) return { ch: high.value, used };
    if (!(used + 2 < end - at && input[at + used] === 0x5c && input[at + used + 1] === 0x75)) return { ch: 0xfffd, used };
    used += 2;
    const low = hexRun(input, at + used, end, 4);
    used += low.digits;
    if (low.digits > 0 && low.digits < 4) return { ch: 0xfffd, used };
    if (low.value < 0xdc00 || low.value > 0xdfff) return { ch: 0xfffd, used };
    return { ch: 0x10000 + (((high.value - 0xd800) << 10) | (low.value - 0xdc00)), used };
  }
  // Any other byte stands for itself; a byte of 0x80 or more stays that byte (C's signed char).
  return { ch: c >= 0x80 ? -c : c, used: 1 };
}

/** Appends `ch` as UTF-8 (u8_wc_toutf8); a negative `ch` is a raw byte, and beyond U+10FFFF only the low byte is kept. */
function putCodePoint(out: Buffer, j: number, ch: number): number {
  if (ch < 0) {
    out[j] = -ch;
    return 1;
  }
  if (ch < 0x80) {
    out[j] = ch;
    return 1;
  }
  if (ch < 0x800) {
    out[j] = (ch >> 6) | 0xc0;
    out[j + 1] = (ch & 0x3f) | 0x80;
    return 2;
  }
  if (ch < 0x10000) {
    out[j] = (ch >> 12) | 0xe0;
    out[j + 1] = ((ch >> 6) & 0x3f) | 0x80;
    out[j + 2] = (ch & 0x3f) | 0x80;
    return 3;
  }
  if (ch < 0x110000) {
    out[j] = (ch >> 18) | 0xf0;
    out[j + 1] = ((ch >> 12) & 0x3f) | 0x80;
    out[j + 2] = ((ch >> 6) & 0x3f) | 0x80;
    out[j + 3] = (ch & 0x3f) | 0x80;
    return 4;
  }
  out[j] = ch & 0xff;
  return 1;
}

const utf8Length = (ch: number): number => (ch < 0x80 ? 1 : ch < 0x800 ? 2 : ch < 0x10000 ? 3 : ch < 0x110000 ? 4 : 1);

/** flb_unescape_string_utf8: JSON and C escapes, `\uXXXX` with surrogate pairs; stops at a NUL byte. */
function unescapeUtf8(input: Uint8Array): Buffer {
  const end = input.length;
  const out = Buffer.allocUnsafe(end);
  const direct: Record<number, number> = { 0x22: 0x22, 0x27: 0x27, 0x5c: 0x5c, 0x2f: 0x2f, 0x6e: 0x0a, 0x62: 0x08, 0x74: 0x09, 0x66: 0x0c, 0x72: 0x0d };
  let i = 0;
  let j = 0;
  while (i < end && input[i] !== 0) {
    const c = input[i] as number;
    let ch: number;
    if (c === 0x5c && i + 1 < end) {
      const next = input[i + 1] as number;
      if (direct[next] !== undefined) {
        ch = direct[next] as number;
        i += 2;
      } else {
        const escape = escapeSequence(input, i + 1, end);
        ch = escape.ch;
        i += 1 + escape.used;
      }
    } else {
      ch = c >= 0x80 ? -c : c;
      i++;
    }
    // Fluent Bit stops rather than write past the input's length ("Crossing over string boundary").
    if ((ch < 0 ? 1 : utf8Length(ch)) > end - j) break;
    j += putCodePoint(out, j, ch);
  }
  return out.subarray(0, j);
}

/** flb_mysql_unquote_string, for a value wrapped in '...' or "..."; others are kept as they are. */
function mysqlUnquote(input: Uint8Array): Uint8Array {
  const n = input.length;
  if (n < 2) return input;
  const quote = input[0];
  if ((quote !== 0x27 && quote !== 0x22) || input[n - 1] !== quote) return input;
  const body = input.subarray(1, n - 1);
  const out = Buffer.allocUnsafe(body.length * 2);
  const named: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x5c: 0x5c, 0x27: 0x27, 0x22: 0x22, 0x30: 0x00, 0x5a: 0x1a };
  let j = 0;
  for (let i = 0; i < body.length; ) {
    const c = body[i++] as number;
    if (c !== 0x5c || i >= body.length) {
      out[j++] = c;
      continue;
    }
    const next = body[i++] as number;
    const mapped = named[next];
    if (mapped !== undefined) out[j++] = mapped;
    else {
      out[j++] = 0x5c;
      out[j++] = next;
    }
  }
  return out.subarray(0, j);
}
