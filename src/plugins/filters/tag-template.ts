/**
 * The NEW_TAG of a rewrite_tag rule: Fluent Bit's record accessor template (`ra_parse_buffer` and
 * `flb_ra_translate` in `src/flb_record_accessor.c`): text with `$TAG`, `$TAG[n]`, regex captures
 * `$0`..`$9` and record keys `$key['sub'][0]`, read the same way and filled from a record.
 */
import { ByteSink } from '../../codec/byte-sink.js';
import { writeMsgpackValueAsJson } from '../../codec/json.js';
import { formatF, readFloat } from '../../codec/c-printf.js';
import { readInteger, readStr, type ValueRange } from '../../codec/msgpack-map.js';
import { parseRecordAccessor, type RecordAccessor } from './record-accessor.js';

export type TagPart =
  | { kind: 'text'; text: string }
  | { kind: 'capture'; id: number }
  | { kind: 'tag' }
  | { kind: 'tagPart'; index: number }
  | { kind: 'key'; accessor: RecordAccessor };

/**
 * Splits a template into parts as `ra_parse_buffer` does: a key runs from `$` to the first `.`, space,
 * `,` or `"` outside quotes; `$TAG[n]` takes the number up to `]`. Returns the text of a key that is
 * not a valid accessor instead of the parts.
 */
export function parseTagTemplate(template: string): TagPart[] | { badKey: string } {
  const parts: TagPart[] = [];
  const text = (from: number, to: number): void => {
    if (to > from) parts.push({ kind: 'text', text: template.slice(from, to) });
  };
  const len = template.length;
  let pre = 0;
  let i = 0;
  // `end` of ra_parse_buffer: where the last key ended, or the offset of the last `$TAG[n]`'s ']'.
  let lastEnd = 0;
  for (; i < len; i++) {
    if (template[i] !== '$') continue;
    text(pre, i);
    pre = i;
    const n = i + 1;
    if (n >= len) break;
    const digits = /^\d+/.exec(template.slice(n));
    if (digits !== null) {
      // atoi reads every digit, but only the first is consumed (and the character after it is skipped).
      parts.push({ kind: 'capture', id: Number(digits[0]) });
      i++;
      pre = i + 1;
      continue;
    }
    if (n + 2 < len && template.startsWith('TAG', n)) {
      if (n + 4 < len && template[n + 3] === '[') {
        const t = n + 3;
        const close = template.indexOf(']', t);
        const end = close <= t ? -1 : close - t;
        lastEnd = end;
        parts.push({ kind: 'tagPart', index: Number(/^\d*/.exec(template.slice(t + 1))?.[0] || '0') });
        i = t + end + 1;
        pre = i;
        continue;
      }
      parts.push({ kind: 'tag' });
      i = n + 3;
      pre = n + 3;
      continue;
    }
    let quotes = 0;
    let end = i + 1;
    for (; end < len; end++) {
      const c = template[end];
      if (c === "'") quotes++;
      else if (c === '.' && (quotes & 1) === 1) continue;
      else if (c === '.' || c === ' ' || c === ',' || c === '"') break;
    }
    const keyText = template.slice(i, end);
    const accessor = parseRecordAccessor(keyText);
    if (accessor === null) return { badKey: keyText };
    parts.push({ kind: 'key', accessor });
    lastEnd = end;
    pre = end;
    i = end;
  }
  // Fluent Bit's test for the text left at the end drops a single trailing character after a key.
  if ((i - 1 > lastEnd && pre < i) || i === 1) text(pre, len);
  return parts;
}

/** The `n`th dot-separated part of the tag (`ra_translate_tag_part`), or '' when it has fewer parts. */
function tagPart(tag: string, index: number): string {
  if (!tag.includes('.')) return index === 0 ? tag : '';
  return tag.split('.')[index] ?? '';
}

/**
 * The text of a record value in a tag (`ra_translate_keymap`): a str as it is, an integer as int64, a
 * float with `%f`, a bool, `null`, a map as JSON. Null for a value Fluent Bit cannot put in a tag
 * (an array, bin, ext), which makes the whole translation fail.
 */
function valueText(buf: Buffer, range: ValueRange): string | null {
  const b = buf[range.start] ?? 0xc1;
  const str = readStr(buf, range.start, range.end);
  if (str !== null) return str;
  // `%PRId64` of msgpack-c's `via.i64`: a uint64 above INT64_MAX prints negative.
  const integer = readInteger(buf, range.start);
  if (integer !== null) return BigInt.asIntN(64, integer).toString();
  if (b === 0xca || b === 0xcb) return formatF(readFloat(buf, range.start).value);
  if (b === 0xc2) return 'false';
  if (b === 0xc3) return 'true';
  if (b === 0xc0) return 'null';
  if ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf) {
    const sink = new ByteSink(256);
    writeMsgpackValueAsJson(sink, buf, range.start, { escapeUnicode: true });
    return sink.bytes().toString('utf8');
  }
  return null;
}

export interface TagInputs {
  tag: string;
  /** The regex match of the rule: index 0 is the whole match, then the groups in Onigmo's numbering. */
  captures: ReadonlyArray<string | undefined>;
  /** Looks a key up in the record. */
  lookup(accessor: RecordAccessor): ValueRange | null;
  buf: Buffer;
}

/** The new tag, or null when a key holds a value that cannot be written into a tag. */
export function renderTag(parts: readonly TagPart[], inputs: TagInputs): string | null {
  let out = '';
  for (const part of parts) {
    switch (part.kind) {
      case 'text':
        out += part.text;
        break;
      case 'capture':
        out += inputs.captures[part.id] ?? '';
        break;
      case 'tag':
        out += inputs.tag;
        break;
      case 'tagPart':
        out += tagPart(inputs.tag, part.index);
        break;
      case 'key': {
        const range = inputs.lookup(part.accessor);
        if (range === null) break; // a missing key adds nothing
        const text = valueText(inputs.buf, range);
        if (text === null) return null;
        out += text;
        break;
      }
    }
  }
  return out;
}
