/**
 * How Fluent Bit's flb_pack_json_recs (yyjson, stop when done) counts the records of a text: after the
 * first value, white space is skipped and another value is read; text that does not read as one is
 * ignored (`{"a":1} x` is one record), while a second value makes two (`{"a":1} 5`), which the json
 * parser and the json decoder refuse.
 */
import { MsgpackWriter } from '../codec/msgpack-writer.js';
import { scanJsonValue, skipJsonWhitespace } from '../codec/json-scan.js';

const scratch = new MsgpackWriter(64);

/** True when another JSON value follows `end` in `input` (after white space). */
export function anotherJsonValueFollows(input: Uint8Array, end: number): boolean {
  const next = skipJsonWhitespace(input, end);
  if (next >= input.length) return false;
  scratch.reset();
  return scanJsonValue(input, next, scratch, { eof: true }).status === 'ok';
}
