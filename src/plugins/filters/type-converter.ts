import { ConfigError } from '../../base/errors.js';
import { configMessage } from '../../config/schema.js';
import { atof, boolPrefix, strtoInteger } from '../../codec/c-numbers.js';
import { readFloat } from '../../codec/c-printf.js';
import { formatDouble } from '../../codec/json-numbers.js';
import { mapEntries, readInteger, strRange, type MapEntry, type ValueRange } from '../../codec/msgpack-map.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineFilter } from '../../pipeline/contracts.js';
import { countFilterRecords, EventRewriter } from './event-rewriter.js';
import { resolveAccessor } from './record-accessor.js';
import { type Conversion, typeConverterManifest } from './type-converter/schema.js';

const INT64_MIN = -(1n << 63n);

/** A double cast to int64 the way x86-64 does it: toward zero, INT64_MIN when out of range or NaN. */
function doubleToInt64(value: number): bigint {
  if (!Number.isFinite(value) || value >= 2 ** 63 || value < -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(value));
}

/**
 * A double cast to uint64 as gcc does it on x86-64: below 2^63 the signed cast (so -2.75 becomes
 * 2^64-2), from 2^63 the signed cast of x - 2^63 with the top bit set again (1e20 becomes 0).
 */
function doubleToUint64(value: number): bigint {
  if (!(value >= 2 ** 63)) return BigInt.asUintN(64, doubleToInt64(value));
  return BigInt.asUintN(64, doubleToInt64(value - 2 ** 63) ^ INT64_MIN);
}

/**
 * Writes the converted value (`flb_typecast_pack`) and returns true, or returns false when the value
 * has the wrong source type or cannot be converted (a string that reads as 0, `str` to `string`).
 */
function convert(writer: MsgpackWriter, buf: Buffer, range: ValueRange, conversion: Conversion): boolean {
  const { from, to } = conversion;
  if (from === 'string') {
    const text = strRange(buf, range.start, range.end);
    if (text === null) return false;
    const value = buf.toString('utf8', text.start, text.end);
    switch (to) {
      case 'int':
      case 'uint':
      case 'hex': {
        const number = strtoInteger(value, to === 'hex' ? 16 : 10, to !== 'int');
        if (number === 0n) return false;
        to === 'int' ? writer.int(number) : writer.uint(number);
        return true;
      }
      case 'float':
        writer.float64(atof(value));
        return true;
      case 'bool': {
        const bool = boolPrefix(value);
        if (bool === null) return false;
        writer.bool(bool);
        return true;
      }
      default:
        return false;
    }
  }
  if (from === 'float') {
    const b = buf[range.start];
    if (b !== 0xca && b !== 0xcb) return false;
    const { value } = readFloat(buf, range.start);
    if (to === 'string') writer.str(formatDouble(value));
    else if (to === 'int') writer.int(doubleToInt64(value));
    else writer.uint(doubleToUint64(value));
    return true;
  }
  const integer = readInteger(buf, range.start);
  if (integer === null) return false;
  // msgpack-c reads an integer as both int64 and uint64 (`via.i64` / `via.u64`): the same 64 bits.
  const value = from === 'int' ? BigInt.asIntN(64, integer) : BigInt.asUintN(64, integer);
  if (to === 'string') writer.str(value.toString());
  else if (to === 'float') writer.float64(Number(value));
  else if (to === 'uint') writer.uint(BigInt.asUintN(64, value));
  else writer.int(BigInt.asIntN(64, value));
  return true;
}

/**
 * Fluent Bit's `type_converter` filter (`plugins/filter_type_converter`, `src/flb_typecast.c`). Each
 * rule that finds its KEY appends NEW_KEY with the converted value after the record's own keys, which
 * keep their bytes. As in Fluent Bit the rules run str_key first, then int_key, uint_key, float_key, each
 * in config order; a value that cannot be converted is appended as it is, and an emit in which nothing
 * converted comes back unchanged.
 */
export const typeConverterFilter = defineFilter({
  ...typeConverterManifest,
  create(context) {
    const { config, instance } = context;
    const conversions = [...config.str_key, ...config.int_key, ...config.uint_key, ...config.float_key];
    if (conversions.length === 0) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: no rules: set int_key, uint_key, float_key or str_key`));
    }
    const failed = context.logger.repeating('error');
    const rewriter = new EventRewriter();
    const valueWriter = new MsgpackWriter(64);

    return {
      filter(events, records) {
        let converted = false;
        const out = rewriter.rewrite(events, records, (buf, event) => {
          const added: MapEntry[] = [];
          for (const conversion of conversions) {
            const range = resolveAccessor(buf, event.bodyStart, event.bodyEnd, conversion.accessor);
            if (range === null) continue;
            valueWriter.reset();
            let value: MapEntry;
            if (convert(valueWriter, buf, range, conversion)) {
              converted = true;
              const bytes = valueWriter.bytes();
              value = { keyBuf: conversion.toKey, keyStart: 0, keyEnd: conversion.toKey.length, valueBuf: bytes, valueStart: 0, end: bytes.length };
            } else {
              failed.log(`failed to convert. key=${conversion.fromKey}`);
              value = { keyBuf: conversion.toKey, keyStart: 0, keyEnd: conversion.toKey.length, valueBuf: buf, valueStart: range.start, end: range.end };
            }
            added.push(value);
          }
          if (added.length === 0) return 'keep';
          return [...(mapEntries(buf, event.bodyStart, event.bodyEnd) ?? []), ...added];
        });
        const result = converted ? out : { events, records };
        countFilterRecords(context.telemetry, records, result.records);
        return result;
      },
    };
  },
});
