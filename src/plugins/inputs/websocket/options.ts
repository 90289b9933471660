/**
 * The websocket input's keys turned into what its runtime needs, with every check made at start-up
 * (as Fluent Bit's `*_conf.c` keeps configuration apart from the plugin).
 */
import { ConfigError } from '../../../base/errors.js';
import { TimeFormatError } from '../../../parsers/time-format.js';
import type { UpgradeGate } from '../../../websocket/admission.js';
import { admissionGate, badValue } from '../../websocket-server-keys.js';
import { PayloadDecoder } from './decode.js';
import { recordTimeReader, type RecordTimeReader } from './record-time.js';
import type { WebSocketInputConfig } from './schema.js';
import { checkTlsServerKeys } from '../../tls-server.js';

export interface WebSocketInputOptions {
  gate: UpgradeGate;
  /** The upgrade path with its leading slash; null = any. */
  path: string | null;
  decoder: PayloadDecoder;
  /** The JSON records' date key; null when records get the reception time. */
  timeKey: string | null;
  maxMessageBytes: number;
}

const OFF_WORDS = new Set(['false', 'off', 'no']);

export function websocketInputOptions(config: WebSocketInputConfig, instance: string): WebSocketInputOptions {
  if (config.max_connections < 0) throw badValue(instance, 'max_connections', config.max_connections, 'a number of clients, 0 or more');
  if (config.token === '') throw badValue(instance, 'token', config.token, 'a non-empty token');
  checkTlsServerKeys(config, instance);
  const path = config.path === null ? null : config.path.startsWith('/') ? config.path : `/${config.path}`;
  let time: RecordTimeReader;
  try {
    time = recordTimeReader(config.time_format);
  } catch (error) {
    if (error instanceof TimeFormatError) throw badValue(instance, 'time_format', config.time_format, `a date format word or a strptime pattern (${error.message})`);
    throw error;
  }
  const timeKey = config.time_key === null || OFF_WORDS.has(config.time_key.toLowerCase()) ? null : config.time_key;
  return {
    gate: admissionGate(config, { subject: 'the input', listen: config.listen, path, capacity: { key: 'max_connections', max: config.max_connections } }),
    path,
    decoder: new PayloadDecoder({ format: config.format, tagKey: config.tag_key, timeKey, timeKeep: config.time_keep, time }),
    timeKey,
    maxMessageBytes: config.max_message_size,
  };
}
