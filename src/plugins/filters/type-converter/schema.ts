/** The `type_converter` filter's manifest and keys (with the parsers that check their values): what help and validation read without loading its code. */
import { ParseFailure } from '../../../config/schema.js';
import { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { parseRecordAccessor, type RecordAccessor } from '../record-accessor.js';
import { splitQuoted } from '../../../config/words.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

type ValueType = 'int' | 'uint' | 'float' | 'hex' | 'string' | 'bool';

/** `flb_typecast_str_to_type_t` order: a word names the first type it is a prefix of (`i`, `str`, `Float`). */
const TYPE_NAMES: readonly ValueType[] = ['int', 'uint', 'float', 'hex', 'string', 'bool'];

/** What each source type can become (`flb_typecast.c`); anything else fails when the record is converted. */
const CONVERSIONS: Readonly<Record<'int' | 'uint' | 'float' | 'string', readonly ValueType[]>> = {
  int: ['string', 'float', 'uint'],
  uint: ['string', 'float', 'int'],
  float: ['string', 'int', 'uint'],
  string: ['int', 'uint', 'hex', 'float', 'bool'],
};

export interface Conversion {
  from: 'int' | 'uint' | 'float' | 'string';
  fromKey: string;
  accessor: RecordAccessor;
  /** The new key, as msgpack str bytes. */
  toKey: Buffer;
  to: ValueType;
}

function parseConversion(from: Conversion['from'], raw: string): Conversion | ParseFailure {
  const words = splitQuoted(raw.trim(), 0);
  if (words === null || words.length !== 3) return new ParseFailure(`KEY NEW_KEY TYPE, e.g. '${from === 'string' ? 'id id_num int' : 'id id_str string'}'`);
  const [fromKey = '', toKey = '', typeWord = ''] = words;
  const lower = typeWord.toLowerCase();
  const to = TYPE_NAMES.find((name) => name.startsWith(lower));
  if (lower === '' || to === undefined || !CONVERSIONS[from].includes(to)) {
    return new ParseFailure(`a TYPE a ${from} can become: ${CONVERSIONS[from].join(', ')}; not '${typeWord}'`);
  }
  const accessor = parseRecordAccessor(fromKey);
  if (accessor === null) return new ParseFailure(`a key or record accessor such as id or $data['id'], not '${fromKey}'`);
  const writer = new MsgpackWriter(64);
  writer.str(toKey);
  return { from, fromKey, accessor, toKey: writer.bytes(), to };
}

function conversionKey<const Key extends string>(key: Key, from: Conversion['from'], description: string) {
  return { key, type: 'string', multiple: true, parse: (raw: string) => parseConversion(from, raw), description } as const;
}

const schema = [
  conversionKey('int_key', 'int', 'KEY NEW_KEY TYPE: add NEW_KEY with the integer value of KEY as TYPE (string, float or uint).'),
  conversionKey('uint_key', 'uint', 'KEY NEW_KEY TYPE: add NEW_KEY with the unsigned integer value of KEY as TYPE (string, float or int).'),
  conversionKey('float_key', 'float', 'KEY NEW_KEY TYPE: add NEW_KEY with the float value of KEY as TYPE (string, int or uint).'),
  conversionKey('str_key', 'string', 'KEY NEW_KEY TYPE: add NEW_KEY with the string value of KEY as TYPE (int, uint, hex, float or bool).'),
] as const;

export const typeConverterManifest = defineFilterManifest({
  kind: 'filter',
  name: 'type_converter',
  description: 'Data type converter',
  schema,
});
