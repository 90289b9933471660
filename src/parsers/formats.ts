/**
 * The four parser formats of Fluent Bit (`src/flb_parser_{json,regex,logfmt,ltsv}.c`), each turning
 * one line into a record body (msgpack map bytes) and, when `Time_Key`/`Time_Format` say so, a time.
 *
 * Time handling follows each format's C code: json keeps the record and its time key when the time
 * does not parse; regex drops just that field (with a warning); logfmt and ltsv reject the line.
 */
import { WsbitError } from '../base/errors.js';
import type { EventTime } from '../base/record.js';
import { findEntry, mapEntries, readStr, rewriteMap } from '../codec/msgpack-map.js';
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import { scanJsonValue } from '../codec/json-scan.js';
import { anotherJsonValueFollows } from './json-record.js';
import { writeTypedValue } from './fields.js';
import { RegexTranslationError, translateOnigmo } from '../regex/onigmo.js';
import { compileTimeFormat, TimeFormatError, type TimeFormat } from './time-format.js';
import { loadTimeZone, type TimeZone } from './time-zone.js';
import { createRecordDecoder, type RecordDecoder } from './decoders.js';
import type { ParseOutcome, Parser, ParserDefinition } from './types.js';

export const PARSER_INVALID = 'WSBIT_PARSER_INVALID';

interface TimeRule {
  key: string;
  format: TimeFormat;
  keep: boolean;
  strict: boolean;
}

/** Result of reading a time value: a time, a non-strict miss (no time, key still consumed), or a failure. */
type TimeRead = { kind: 'time'; time: EventTime } | { kind: 'lenient-miss' } | { kind: 'invalid' };

function timeRule(definition: ParserDefinition): TimeRule | null {
  if (definition.timeFormat === null) return null;
  let timeZone: TimeZone | undefined;
  if (definition.timeZone !== null) {
    timeZone = loadTimeZone(definition.timeZone) ?? undefined;
    if (timeZone === undefined) throw new WsbitError(PARSER_INVALID, `parser '${definition.name}': invalid or unavailable time_zone '${definition.timeZone}'`);
  }
  let format: TimeFormat;
  try {
    format = compileTimeFormat(definition.timeFormat, {
      offsetSeconds: definition.timeOffsetSeconds,
      systemTimezone: definition.timeSystemTimezone,
      strict: definition.timeStrict,
      ...(timeZone === undefined ? {} : { timeZone }),
    });
  } catch (error) {
    if (error instanceof TimeFormatError) throw new WsbitError(PARSER_INVALID, `parser '${definition.name}': ${error.message}`);
    throw error;
  }
  return { key: definition.timeKey ?? 'time', format, keep: definition.timeKeep, strict: definition.timeStrict };
}

function readTime(rule: TimeRule, value: string): TimeRead {
  const time = rule.format.parse(value);
  if (time !== null) return { kind: 'time', time };
  // Time_Strict off gives a time whenever the format matched part way; one that cannot be a time (before
  // 1970) leaves it unset (the input uses now) and the key counts as found.
  return rule.strict ? { kind: 'invalid' } : { kind: 'lenient-miss' };
}

function invalidTime(definition: ParserDefinition, value: string): string {
  return `[parser:${definition.name}] invalid time format ${definition.timeFormat ?? ''} for '${value.slice(0, 254)}'`;
}

const utf8 = (line: Uint8Array): string => Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8');

function jsonParser(definition: ParserDefinition, decoder: RecordDecoder | null): Parser {
  const rule = timeRule(definition);
  const keyBytes = rule === null ? null : Buffer.from(rule.key, 'utf8');
  const writer = new MsgpackWriter(1024);
  const rewritten = new MsgpackWriter(1024);
  return {
    name: definition.name,
    format: 'json',
    parse(line, warn): ParseOutcome {
      writer.reset();
      const result = scanJsonValue(line, 0, writer, { eof: true });
      if (result.status !== 'ok') return { ok: false, reason: result.status === 'error' ? `invalid JSON: ${result.message}` : 'incomplete JSON' };
      if (result.kind !== 'object') return { ok: false, reason: `a JSON ${result.kind} is not a record` };
      // flb_pack_json_recs must find exactly one record in the line; other text after it is ignored.
      if (anotherJsonValueFollows(line, result.end)) return { ok: false, reason: 'a second JSON value after the object' };
      // flb_parser_json.c decodes fields before it looks for the time.
      const decoded = decoder?.apply(writer.view()) ?? null;
      const body = decoded ?? writer.view();
      const own = (): Buffer => decoded ?? writer.bytes();
      if (rule === null || keyBytes === null) return { ok: true, body: own(), time: null };
      const entries = mapEntries(body) ?? [];
      const entry = findEntry(body, entries, keyBytes);
      if (entry === undefined) return { ok: true, body: own(), time: null };
      const value = readStr(body, entry.valueStart, entry.end);
      if (value === null) {
        warn?.(`[parser:${definition.name}] invalid non-string time`);
        return { ok: true, body: own(), time: null };
      }
      const read = readTime(rule, value);
      if (read.kind !== 'time') {
        // flb_parser_json.c keeps the record whole, time key included, and the time unset.
        if (read.kind === 'invalid') warn?.(invalidTime(definition, value));
        return { ok: true, body: own(), time: null };
      }
      if (rule.keep) return { ok: true, body: own(), time: read.time };
      rewritten.reset();
      rewriteMap(rewritten, body, entries, { skip: entry });
      return { ok: true, body: rewritten.bytes(), time: read.time };
    },
  };
}

function regexParser(definition: ParserDefinition): Parser {
  if (definition.regex === null) throw new WsbitError(PARSER_INVALID, `parser '${definition.name}': format regex needs a Regex`);
  let translated: ReturnType<typeof translateOnigmo>;
  try {
    translated = translateOnigmo(definition.regex);
  } catch (error) {
    if (error instanceof RegexTranslationError) throw new WsbitError(PARSER_INVALID, `parser '${definition.name}': ${error.message}`);
    throw error;
  }
  const { regex } = translated;
  // Onigmo reports each name once, with all its groups, in the order the names first appear.
  const byName = new Map<string, string[]>();
  for (const { group, name } of translated.names) byName.set(name, [...(byName.get(name) ?? []), group]);
  const fields = [...byName.entries()];
  const rule = timeRule(definition);
  const writer = new MsgpackWriter(1024);
  return {
    name: definition.name,
    format: 'regex',
    parse(line, warn): ParseOutcome {
      const text = utf8(line);
      const match = regex.exec(text);
      // A regex without named groups gives Fluent Bit nothing to pack: the parse fails.
      if (match === null || fields.length === 0) return { ok: false, reason: `the line does not match the regex of parser '${definition.name}'` };
      const groups = match.groups ?? {};
      const out: Array<[string, string]> = [];
      let time: EventTime | null = null;
      for (const [name, groupNames] of fields) {
        for (const group of groupNames) {
          const value = groups[group] ?? '';
          if (value === '' && definition.skipEmptyValues) continue;
          if (rule !== null && name === rule.key) {
            const read = readTime(rule, value);
            if (read.kind === 'invalid') {
              // flb_parser_regex.c: warn and leave the field out.
              warn?.(invalidTime(definition, value));
              continue;
            }
            if (read.kind === 'time') time = read.time;
            if (!rule.keep) continue;
          }
          out.push([name, value]);
        }
      }
      writer.reset();
      writer.mapHeader(out.length);
      for (const [name, value] of out) {
        writer.str(name);
        const problem = writeTypedValue(writer, name, value, definition.types);
        if (problem !== null) warn?.(`[parser:${definition.name}] ${problem}`);
      }
      return { ok: true, body: writer.bytes(), time };
    },
  };
}

/** A key/value pair of the text formats; `value` null is logfmt's bare key (packed as true). */
interface TextField {
  key: string;
  value: string | null;
}

/** Packs text fields with the shared time and `Types` rules; logfmt and ltsv fail on a bad time. */
function packTextFields(definition: ParserDefinition, rule: TimeRule | null, fields: readonly TextField[], writer: MsgpackWriter, warn?: (message: string) => void): ParseOutcome {
  let time: EventTime | null = null;
  const kept: TextField[] = [];
  for (const field of fields) {
    if (rule !== null && field.key === rule.key && field.value !== null && field.value !== '') {
      const read = readTime(rule, field.value);
      if (read.kind === 'invalid') return { ok: false, reason: `[parser:${definition.name}] Invalid time format ${definition.timeFormat ?? ''}` };
      if (read.kind === 'time') time = read.time;
      if (!rule.keep) continue;
    }
    kept.push(field);
  }
  writer.reset();
  writer.mapHeader(kept.length);
  for (const field of kept) {
    writer.str(field.key);
    if (field.value === null) {
      if (definition.types.has(field.key)) {
        const problem = writeTypedValue(writer, field.key, '', definition.types);
        if (problem !== null) warn?.(`[parser:${definition.name}] ${problem}`);
      } else writer.bool(true);
      continue;
    }
    const problem = writeTypedValue(writer, field.key, field.value, definition.types);
    if (problem !== null) warn?.(`[parser:${definition.name}] ${problem}`);
  }
  return { ok: true, body: writer.bytes(), time };
}

/** `ident_byte` of flb_parser_logfmt.c: any byte above space except '=' and '"'. */
function isIdentByte(b: number): boolean {
  return b > 0x20 && b !== 0x3d && b !== 0x22;
}

/** flb_unescape_string_utf8 for the escapes logfmt values use. */
function unescape(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escape: string) => {
    if (escape.length === 5) return String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    switch (escape) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'b': return '\b';
      case 'f': return '\f';
      default: return escape;
    }
  });
}

/** logfmt (https://brandur.org/logfmt) as `logfmt_parser` reads it: `key=value key="quoted value" bare`. */
function splitLogfmt(line: Uint8Array): { fields: TextField[]; bareKey: boolean } {
  const fields: TextField[] = [];
  let bareKey = false;
  const end = line.length;
  let c = 0;
  const text = (from: number, to: number): string => Buffer.from(line.buffer, line.byteOffset + from, to - from).toString('utf8');
  while (c < end) {
    while (c < end && !isIdentByte(line[c] as number)) c++;
    if (c >= end) break;
    const keyStart = c;
    while (c < end && isIdentByte(line[c] as number)) c++;
    const key = text(keyStart, c);
    let value: string | null = null;
    if (c < end && line[c] === 0x3d) {
      c++;
      if (c < end && line[c] === 0x22) {
        c++;
        const valueStart = c;
        let escaped = false;
        while (c < end && line[c] !== 0x22) {
          if (line[c] === 0x5c) {
            escaped = true;
            c++;
            if (c >= end) break;
          }
          c++;
        }
        const raw = text(valueStart, Math.min(c, end));
        value = escaped ? unescape(raw) : raw;
        if (c < end) c++;
      } else {
        const valueStart = c;
        while (c < end && isIdentByte(line[c] as number)) c++;
        // `key=` with nothing after it is packed as true, like a bare key.
        value = c > valueStart ? text(valueStart, c) : null;
      }
    } else {
      bareKey = true;
    }
    fields.push({ key, value });
  }
  return { fields, bareKey };
}

function logfmtParser(definition: ParserDefinition): Parser {
  const rule = timeRule(definition);
  const writer = new MsgpackWriter(1024);
  return {
    name: definition.name,
    format: 'logfmt',
    parse(line, warn): ParseOutcome {
      const { fields, bareKey } = splitLogfmt(line);
      if (fields.length === 0) return { ok: false, reason: 'no key=value pairs in the line' };
      if (bareKey && definition.logfmtNoBareKeys) return { ok: false, reason: 'a key without a value (Logfmt_No_Bare_Keys is on)' };
      return packTextFields(definition, rule, fields, writer, warn);
    },
  };
}

/** LTSV (http://ltsv.org): tab-separated `label:value`; labels are `[0-9A-Za-z_.-]+`. */
function ltsvParser(definition: ParserDefinition): Parser {
  const rule = timeRule(definition);
  const writer = new MsgpackWriter(1024);
  return {
    name: definition.name,
    format: 'ltsv',
    parse(line, warn): ParseOutcome {
      const fields: TextField[] = [];
      for (const item of utf8(line).replace(/\r$/, '').split('\t')) {
        if (item === '') continue;
        const colon = item.indexOf(':');
        const label = colon < 0 ? '' : item.slice(0, colon);
        if (!/^[0-9A-Za-z_.-]+$/.test(label)) return { ok: false, reason: `'${item.slice(0, 40)}' is not a label:value pair` };
        fields.push({ key: label, value: item.slice(colon + 1) });
      }
      if (fields.length === 0) return { ok: false, reason: 'no label:value pairs in the line' };
      return packTextFields(definition, rule, fields, writer, warn);
    },
  };
}

/** Builds a parser; throws `WSBIT_PARSER_INVALID` for a regex, time format or time zone wsbit cannot use. */
export function createParser(definition: ParserDefinition): Parser {
  const decoder = createRecordDecoder(definition.decoders);
  if (definition.format === 'json') return jsonParser(definition, decoder);
  const parser = formatParser(definition);
  if (decoder === null) return parser;
  // regex, logfmt and ltsv decode the record they made, time already taken out.
  return {
    name: parser.name,
    format: parser.format,
    parse(line, warn): ParseOutcome {
      const outcome = parser.parse(line, warn);
      if (!outcome.ok) return outcome;
      const body = decoder.apply(outcome.body);
      return body === null ? outcome : { ok: true, body, time: outcome.time };
    },
  };
}

function formatParser(definition: ParserDefinition): Parser {
  switch (definition.format) {
    case 'json':
      return jsonParser(definition, null);
    case 'regex':
      return regexParser(definition);
    case 'logfmt':
      return logfmtParser(definition);
    case 'ltsv':
      return ltsvParser(definition);
  }
}
