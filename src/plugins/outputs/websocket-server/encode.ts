/**
 * Turns a chunk into broadcast messages, once per flush: every client that receives the chunk is sent
 * the very same Buffers. A message is fluent-plugin-websocket's `[tag, time, record]` array, where the
 * tag is present only with `add_tag` and the time (integer seconds, Ruby's `time.to_i`) only with
 * `add_time`.
 */
import { forEachDeliverableRecord, type RecordWriter, type RejectedRecord } from '../../../codec/event.js';
import { ByteSink } from '../../../codec/byte-sink.js';
import { writeMsgpackValueAsJson } from '../../../codec/json.js';
import { writeQuotedJsonString } from '../../../codec/json-string.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { containerAt } from '../../../codec/msgpack-map.js';
import { WsbitError } from '../../../base/errors.js';

export interface MessageShape {
  addTag: boolean;
  addTime: boolean;
  /** One msgpack binary frame per record instead of one JSON text frame. */
  useMsgpack: boolean;
  /** SERVICE `json.escape_unicode` and `json.convert_nan_to_null`, as for every JSON output. */
  escapeUnicode: boolean;
  convertNanToNull: boolean;
  /** `message_id_key`: the record field that carries each message's id; null = no ids. */
  idKey: string | null;
}

export interface EncodedChunk {
  /** One message per record, in chunk order; views of one buffer owned by this flush. */
  messages: Buffer[];
  /** Set when the chunk was malformed part-way: `messages` then holds the records before the bad one. */
  error: WsbitError | null;
  /** Records left out because they nest deeper than MAX_NESTING_DEPTH; the others are sent. */
  rejected: RejectedRecord[];
  /** Where each message's record (a msgpack map) lies in the chunk: start and end, two numbers per message. */
  bodies: number[];
}

/**
 * `firstId` is the id of the first message, the next ones counting up (with `shape.idKey`): the id is
 * the record's last field, so it wins over a field of the same name in the record for any decoder
 * that keeps the last of duplicate keys (JSON.parse, msgpack decoders).
 */
export function encodeMessages(chunk: Buffer, tag: string, shape: MessageShape, firstId = 0): EncodedChunk {
  let id = firstId;
  const ends: number[] = [];
  const bodies: number[] = [];
  const rejected: RejectedRecord[] = [];
  let error: WsbitError | null = null;
  const encodeAll = (write: RecordWriter): void => {
    try {
      forEachDeliverableRecord(chunk, rejected, write);
    } catch (caught) {
      if (!(caught instanceof WsbitError)) throw caught;
      error = caught;
    }
  };

  let bytes: Buffer;
  if (shape.useMsgpack) {
    const writer = new MsgpackWriter(chunk.length + 64);
    const tagBytes = shape.addTag ? msgpackString(tag) : null;
    const count = 1 + (shape.addTag ? 1 : 0) + (shape.addTime ? 1 : 0);
    const idKey = shape.idKey === null ? null : msgpackString(shape.idKey);
    encodeAll((ev) => {
      writer.arrayHeader(count);
      if (tagBytes !== null) writer.raw(tagBytes);
      if (shape.addTime) writer.int(ev.sec);
      const map = idKey === null ? null : containerAt(chunk, ev.bodyStart, ev.bodyEnd);
      if (idKey !== null && map !== null && map.kind === 'map') {
        // One more entry: the same header with count + 1, the record's entries, then the id.
        writer.mapHeader(map.count + 1);
        writer.raw(chunk, ev.bodyStart + map.headerSize, ev.bodyEnd);
        writer.raw(idKey);
        writer.int(id);
      } else {
        // The body is already msgpack: copy its bytes as they are.
        writer.raw(chunk, ev.bodyStart, ev.bodyEnd);
      }
      id++;
      ends.push(writer.length);
      bodies.push(ev.bodyStart, ev.bodyEnd);
      return null;
    });
    // The writer belongs to this flush alone, so a view of its buffer stays valid.
    bytes = writer.view();
  } else {
    const sink = new ByteSink(chunk.length + (chunk.length >> 1) + 64);
    const prefix = jsonPrefix(tag, shape);
    const options = { escapeUnicode: shape.escapeUnicode, convertNanToNull: shape.convertNanToNull };
    const idKey = shape.idKey === null ? null : jsonKey(shape.idKey, shape.escapeUnicode);
    encodeAll((ev) => {
      sink.raw(prefix);
      if (shape.addTime) {
        if (ev.sec < 0) sink.byte(0x2d);
        sink.uint(Math.abs(ev.sec));
        sink.byte(0x2c);
      }
      writeMsgpackValueAsJson(sink, chunk, ev.bodyStart, options);
      if (idKey !== null && sink.buf[sink.pos - 1] === 0x7d) {
        // `{…}` becomes `{…,"NAME":ID}`, or `{"NAME":ID}` for an empty record.
        sink.pos--;
        if (sink.buf[sink.pos - 1] !== 0x7b) sink.byte(0x2c);
        sink.raw(idKey);
        sink.uint(id);
        sink.byte(0x7d);
      }
      id++;
      sink.byte(0x5d);
      ends.push(sink.pos);
      bodies.push(ev.bodyStart, ev.bodyEnd);
      return null;
    });
    bytes = sink.bytes();
  }

  const messages: Buffer[] = [];
  let start = 0;
  for (const end of ends) {
    messages.push(bytes.subarray(start, end));
    start = end;
  }
  return { messages, error, rejected, bodies };
}

/** `[` or `["<tag>",`: the same for every record of a chunk, since a chunk has one tag. */
function jsonPrefix(tag: string, shape: MessageShape): Buffer {
  const sink = new ByteSink(tag.length * 6 + 8);
  sink.byte(0x5b);
  if (shape.addTag) {
    const raw = Buffer.from(tag, 'utf8');
    writeQuotedJsonString(sink, raw, 0, raw.length, shape.escapeUnicode);
    sink.byte(0x2c);
  }
  return Buffer.from(sink.bytes());
}

/** `"NAME":`. */
function jsonKey(name: string, escapeUnicode: boolean): Buffer {
  const sink = new ByteSink(name.length * 6 + 8);
  const raw = Buffer.from(name, 'utf8');
  writeQuotedJsonString(sink, raw, 0, raw.length, escapeUnicode);
  sink.byte(0x3a);
  return Buffer.from(sink.bytes());
}

function msgpackString(text: string): Buffer {
  const writer = new MsgpackWriter(text.length * 3 + 8);
  writer.str(text);
  return writer.bytes();
}
