/**
 * The configuration keys of every output that encodes chunks in Fluent Bit's payload formats (`format`,
 * `json_date_key`, `json_date_format`, the `gelf_*_key`s), and the PayloadOptions they make.
 */
import { parseBool } from '../../config/units.js';
import { outputFormats, type OutputFormat, type PayloadOptions } from '../../codec/payload.js';
import { dateFormatAliases, dateFormats, parseDateFormat } from '../../codec/json-numbers.js';
import type { ServiceSettings } from '../../pipeline/contracts.js';

/** The payload keys shared by every output that encodes chunks (stdout, websocket), declared once. */
export function formatKeys(defaultFormat: OutputFormat) {
  return [
    { key: 'format', type: 'enum', values: outputFormats, default: defaultFormat, description: 'Payload format.' },
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

interface FormatConfig {
  format: OutputFormat;
  json_date_key: string;
  json_date_format: string;
  gelf_short_message_key: string;
  gelf_full_message_key: string;
  gelf_timestamp_key: string;
  gelf_host_key: string;
  gelf_level_key: string;
}

export function payloadOptions(config: FormatConfig, service: ServiceSettings): PayloadOptions {
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
  };
}
