import type { EventTime } from '../base/record.js';
import type { FieldDecoder } from './decoders.js';

export const parserFormats = ['json', 'regex', 'logfmt', 'ltsv'] as const;
export type ParserFormat = (typeof parserFormats)[number];

/** `Types key:integer ...` (`flb_parser_typecast`). */
export type FieldType = 'string' | 'integer' | 'float' | 'bool' | 'hex';

/** One `[PARSER]` section, validated, with Fluent Bit's defaults filled in. */
export interface ParserDefinition {
  name: string;
  format: ParserFormat;
  /** Onigmo (Ruby) syntax, as written in the file; required for format regex. */
  regex: string | null;
  /** Defaults to `time` when a `Time_Format` is set, as in Fluent Bit. */
  timeKey: string | null;
  timeFormat: string | null;
  timeKeep: boolean;
  /** Seconds east of UTC for times without a zone (`Time_Offset`). */
  timeOffsetSeconds: number;
  /** Fluent Bit's default on: a time that does not fit the format is an error, not a silent 0. */
  timeStrict: boolean;
  timeSystemTimezone: boolean;
  /** `Time_Zone`: an IANA name for times without an offset (checked when the parser is made). */
  timeZone: string | null;
  /** `Decode_Field` / `Decode_Field_As` rules, by key. */
  decoders: FieldDecoder[];
  types: ReadonlyMap<string, FieldType>;
  /** Regex groups that matched nothing are left out (default on). */
  skipEmptyValues: boolean;
  /** logfmt: a line with a bare key (no `=`) is not parsed (default off). */
  logfmtNoBareKeys: boolean;
}

/** What a parser makes of one line. `time` is null when the line has no time the parser could read. */
export type ParseOutcome = { ok: true; body: Buffer; time: EventTime | null } | { ok: false; reason: string };

export interface Parser {
  readonly name: string;
  readonly format: ParserFormat;
  /**
   * Parses one line (no trailing newline). `warn` receives problems that do not reject the line, such
   * as a time that does not fit `Time_Format` (Fluent Bit: `invalid time format ... for '...'`).
   */
  parse(line: Uint8Array, warn?: (message: string) => void): ParseOutcome;
}
