/**
 * The configuration keys of every output that encodes chunks in Fluent Bit's payload formats (`format`,
 * `json_date_key`, `json_date_format`, the `gelf_*_key`s; the text formats' keys for the outputs that
 * take them), and the PayloadOptions they make.
 */
import { parseBool } from '../../config/units.js';
import { outputFormats, type PayloadFormat, type PayloadOptions } from '../../codec/payload.js';
import { parseDelimiter } from '../../codec/text.js';
import { dateFormatAliases, dateFormats, parseDateFormat } from '../../codec/json-numbers.js';
import type { ServiceSettings } from '../../pipeline/contracts.js';

/**
 * The payload keys shared by every output that encodes chunks (stdout, http, websocket), declared once;
 * `formats` are those the output takes (Fluent Bit's payload formats unless it takes more).
 */
export function formatKeys<const F extends readonly PayloadFormat[] = typeof outputFormats>(defaultFormat: F[number], formats: F = outputFormats as unknown as F) {
  return [
    { key: 'format', type: 'enum', values: formats, default: defaultFormat, description: 'Payload format.' },
    {
      key: 'json_date_key',
      type: 'string',
      default: 'date',
      description: "Name of the timestamp key in JSON formats; 'false', 'off' or 'no' leaves it out.",
    },
    {
      key: 'json_date_format',
      type: 'enum',
      values: dateFormats,
      aliases: dateFormatAliases,
      default: 'double',
      description: 'Timestamp format in JSON formats.',
    },
    { key: 'gelf_short_message_key', type: 'string', default: 'short_message', description: "Record key for GELF's short_message (required in format gelf)." },
    { key: 'gelf_full_message_key', type: 'string', default: 'full_message', description: "Record key for GELF's full_message." },
    { key: 'gelf_timestamp_key', type: 'string', default: 'timestamp', description: "Record key for GELF's timestamp (the event time when absent)." },
    { key: 'gelf_host_key', type: 'string', default: 'host', description: "Record key for GELF's host." },
    { key: 'gelf_level_key', type: 'string', default: 'level', description: "Record key for GELF's level." },
  ] as const;
}

/** The keys of Fluent Bit's file output for its text formats (plain, csv, ltsv, template), declared once. */
export const textFormatKeys = [
  { key: 'template', type: 'string', default: '{time} {message}', description: "Format template: {KEY} is the record's KEY (strings without quotes), {time} the event time as seconds with 6 decimals; a {KEY} the record lacks stays as written." },
  { key: 'delimiter', type: 'string', default: null, description: "Field delimiter of format csv (default ',') and ltsv (default tab): '\\t' or 'tab', 'space', 'comma', or the text itself." },
  { key: 'label_delimiter', type: 'string', default: ':', description: "Between label and value in format ltsv: '\\t' or 'tab', 'space', 'comma', or the text itself." },
  { key: 'csv_column_names', type: 'bool', default: false, description: "Format csv: start each chunk with a line of the first record's keys ('timestamp' first)." },
] as const;

interface TextConfig {
  template: string;
  delimiter: string | null;
  label_delimiter: string;
  csv_column_names: boolean;
}

interface FormatConfig<F extends PayloadFormat> extends Partial<TextConfig> {
  format: F;
  json_date_key: string;
  json_date_format: string;
  gelf_short_message_key: string;
  gelf_full_message_key: string;
  gelf_timestamp_key: string;
  gelf_host_key: string;
  gelf_level_key: string;
}

export function payloadOptions<F extends PayloadFormat>(config: FormatConfig<F>, service: ServiceSettings): PayloadOptions<F> {
  return {
    format: config.format,
    // Fluent Bit's http output treats a false-like json_date_key as "no date key"; SPEC part A, 8.
    dateKey: parseBool(config.json_date_key) === false ? null : config.json_date_key,
    dateFormat: parseDateFormat(config.json_date_format) ?? 'double',
    escapeUnicode: service.escapeUnicode,
    convertNanToNull: service.convertNanToNull,
    gelf: {
      shortMessageKey: config.gelf_short_message_key,
      fullMessageKey: config.gelf_full_message_key,
      timestampKey: config.gelf_timestamp_key,
      hostKey: config.gelf_host_key,
      levelKey: config.gelf_level_key,
    },
    ...(config.template === undefined ? {} : { text: textOptions(config as FormatConfig<F> & TextConfig, service) }),
  };
}

function textOptions(config: TextConfig, service: ServiceSettings): NonNullable<PayloadOptions['text']> {
  return {
    template: config.template,
    delimiter: config.delimiter === null ? null : parseDelimiter(config.delimiter),
    labelDelimiter: parseDelimiter(config.label_delimiter),
    csvColumnNames: config.csv_column_names,
    escapeUnicode: service.escapeUnicode,
    convertNanToNull: service.convertNanToNull,
  };
}
