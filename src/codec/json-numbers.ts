/**
 * Doubles and dates as Fluent Bit 5.1.1 prints them in its JSON formats: `msgpack2json`'s float format
 * (src/flb_pack.c), and the date field every record gets, named by `json_date_key` and formatted by
 * `json_date_format` (double, epoch, epoch_ms, iso8601, java_sql_timestamp; `flb_pack_to_json_date_type`
 * and flb_pack.c:1386-1420).
 */
import { ByteSink } from './byte-sink.js';
import { writeQuotedJsonString } from './json-string.js';
import { formatG } from './c-printf.js';

export type DateFormat = 'double' | 'epoch' | 'epoch_ms' | 'iso8601' | 'java_sql_timestamp';

export const dateFormats: readonly DateFormat[] = ['double', 'epoch', 'epoch_ms', 'iso8601', 'java_sql_timestamp'];

/** Other names `flb_pack_to_json_date_type` accepts. */
export const dateFormatAliases: Readonly<Record<string, DateFormat>> = {
  epoch_millis: 'epoch_ms',
  epoch_milliseconds: 'epoch_ms',
};

/** Case-insensitive, like `strcasecmp` in Fluent Bit; undefined for an unknown name. */
export function parseDateFormat(name: string): DateFormat | undefined {
  const key = name.toLowerCase();
  return (dateFormats as readonly string[]).includes(key) ? (key as DateFormat) : dateFormatAliases[key];
}

const TWO_63 = 9223372036854775808;

/**
 * A double as msgpack2json prints it: `%.1f` when `f == (double)(long long)f` (integral and within the int64
 * range — on x86 the cast of anything larger yields INT64_MIN), else `%.16g`. `3.0`, `-0.0`, `1e+20`, `nan`.
 */
export function formatDouble(x: number): string {
  if (Number.isInteger(x) && x >= -TWO_63 && x < TWO_63) {
    if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
    return x.toFixed(1); // exact for integers below 1e21
  }
  return formatG(x, 16);
}

/** `formatDouble` into a sink; integral values below 2^53 skip the string conversion. */
export function writeDouble(out: ByteSink, x: number): void {
  if (Number.isInteger(x) && x > -9007199254740992 && x < 9007199254740992 && !Object.is(x, -0)) {
    if (x < 0) out.byte(0x2d);
    out.uint(x < 0 ? -x : x);
    out.byte(0x2e);
    out.byte(0x30);
  } else {
    out.ascii(formatDouble(x));
  }
}

/** Longer than any date value (an iso8601 date with its quotes is 29 bytes). */
const DATE_CACHE_BYTES = 40;

/** The date field chunkToJson puts first in every record. */
export class JsonDateField {
  /** The key's bytes, to find a body key of the same name (which hides the date). */
  readonly key: Buffer;
  /** `"<key>":`, escaped. */
  private readonly keyJson: Buffer;
  private readonly format: DateFormat;
  // Records read in one go share their time, so the last field is kept formatted, key and all, and
  // written with one byte loop.
  private readonly lastField: Buffer;
  private lastFieldLength = 0;
  private lastSec = Number.NaN;
  private lastNsec = Number.NaN;

  constructor(key: string, format: DateFormat, escapeUnicode: boolean) {
    this.key = Buffer.from(key, 'utf8');
    const sink = new ByteSink(this.key.length * 6 + 4);
    writeQuotedJsonString(sink, this.key, 0, this.key.length, escapeUnicode);
    sink.byte(0x3a);
    this.keyJson = Buffer.from(sink.bytes());
    this.lastField = Buffer.allocUnsafe(this.keyJson.length + DATE_CACHE_BYTES);
    this.format = format;
  }

  /** Writes `"<key>":<value>`. */
  writeField(out: ByteSink, sec: number, nsec: number): void {
    const length = this.lastFieldLength;
    if (sec === this.lastSec && nsec === this.lastNsec) {
      out.ensure(length);
      const b = out.buf;
      const field = this.lastField;
      let p = out.pos;
      for (let i = 0; i < length; i++) b[p++] = field[i]!;
      out.pos = p;
      return;
    }
    const from = out.pos;
    out.raw(this.keyJson);
    if (this.format === 'double') writeDateDouble(out, sec, nsec); // flb_time_to_double
    else out.ascii(dateValue(sec, nsec, this.format));
    if (out.pos - from <= this.lastField.length) {
      out.buf.copy(this.lastField, 0, from, out.pos);
      this.lastFieldLength = out.pos - from;
      this.lastSec = sec;
      this.lastNsec = nsec;
    }
  }
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** Days since 1970-01-01 → [year, month, day] (proleptic Gregorian, H. Hinnant's civil_from_days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/** `strftime("%Y-%m-%d<sep>%H:%M:%S", gmtime(sec))` + `.%06llu` of nsec/1000 (microseconds, truncated). */
function formatUtc(sec: number, nsec: number, separator: string): string {
  const micros = String(Math.floor(nsec / 1000)).padStart(6, '0');
  if (sec === utcCache.sec && separator === utcCache.separator) return `${utcCache.text}.${micros}`;
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  const [year, month, day] = civilFromDays(days);
  const time = `${pad2(Math.floor(rem / 3600))}:${pad2(Math.floor(rem / 60) % 60)}:${pad2(rem % 60)}`;
  const text = `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}${separator}${time}`;
  utcCache = { sec, separator, text };
  return `${text}.${micros}`;
}

/** Records of a chunk mostly share their second: keep the last formatted one. */
let utcCache = { sec: Number.NaN, separator: '', text: '' };

/** Half an ulp of a double in [2^e, 2^(e+1)), in nanoseconds, for e = 0..31. */
const HALF_ULP_NS = Array.from({ length: 32 }, (_, e) => 2 ** (e - 53) * 1e9);
const NS_PER_DIGIT = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

/**
 * The `double` date, i.e. `%.16g` of d = sec + nsec/1e9, usually without formatting d. For sec with k >= 8
 * digits, %.16g keeps 16 - k decimals; d is within half an ulp of the exact time (119 ns for sec in
 * [2^30, 2^31)), so unless the exact time lies that close to a rounding boundary (then: the general path),
 * rounding the exact time gives the digits rounding d gives.
 */
function writeDateDouble(out: ByteSink, sec: number, nsec: number): void {
  const d = sec + nsec / 1e9;
  if (sec >= 1e7 && sec < 4294967296 && nsec >= 0 && nsec < 1e9 && !Number.isInteger(d)) {
    const decimals = sec >= 1e9 ? 6 : sec >= 1e8 ? 7 : 8;
    const unit = NS_PER_DIGIT[9 - decimals]!;
    const q = Math.floor(nsec / unit);
    const distance = nsec - q * unit - unit / 2;
    if (Math.abs(distance) > HALF_ULP_NS[31 - Math.clz32(sec)]! + 1e-3) {
      const fraction = distance > 0 ? q + 1 : q;
      if (fraction === NS_PER_DIGIT[decimals]) {
        out.uint(sec + 1); // rounds up to the next second: %.16g then prints no decimals
        return;
      }
      out.uint(sec);
      if (fraction > 0) {
        let digits = String(fraction).padStart(decimals, '0');
        let end = digits.length;
        while (digits.charCodeAt(end - 1) === 0x30) end--;
        if (end < digits.length) digits = digits.slice(0, end);
        out.byte(0x2e);
        out.ascii(digits);
      }
      return;
    }
  }
  writeDouble(out, d);
}

/** The date value per `json_date_format` (flb_pack.c:1386-1420); epoch values are uint64 as in C. */
function dateValue(sec: number, nsec: number, format: DateFormat): string {
  switch (format) {
    case 'double':
      return formatDouble(sec + nsec / 1e9); // flb_time_to_double
    case 'epoch':
      return sec >= 0 ? String(sec) : BigInt.asUintN(64, BigInt(sec)).toString();
    case 'epoch_ms': {
      const ms = Math.floor(nsec / 1e6);
      return sec >= 0 ? String(sec * 1000 + ms) : BigInt.asUintN(64, BigInt(sec) * 1000n + BigInt(ms)).toString();
    }
    case 'iso8601':
      return `"${formatUtc(sec, nsec, 'T')}Z"`;
    case 'java_sql_timestamp':
      return `"${formatUtc(sec, nsec, ' ')}"`;
  }
}
