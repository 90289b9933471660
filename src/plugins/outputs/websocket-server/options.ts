/**
 * `websocket_server`'s keys turned into what its runtime needs, with every check made at start-up
 * (as Fluent Bit's `*_conf.c` keeps configuration apart from the plugin).
 */
import type { ServiceSettings } from '../../../pipeline/contracts.js';
import type { UpgradeGate } from '../../../websocket/admission.js';
import { admissionGate, badValue } from '../../websocket-server-keys.js';
import type { MessageShape } from './encode.js';
import type { WebSocketServerConfig } from './schema.js';
import { checkTlsServerKeys } from '../../tls-server.js';

export interface WebSocketServerOptions {
  gate: UpgradeGate;
  /** How each record becomes a message. */
  shape: MessageShape;
}

export function websocketServerOptions(config: WebSocketServerConfig, instance: string, service: ServiceSettings): WebSocketServerOptions {
  if (config.buffered_messages < 0) throw badValue(instance, 'buffered_messages', config.buffered_messages, 'a number of messages, 0 or more');
  if (config.max_clients < 0) throw badValue(instance, 'max_clients', config.max_clients, 'a number of clients, 0 or more');
  if (config.token === '') throw badValue(instance, 'token', config.token, 'a non-empty token');
  checkTlsServerKeys(config, instance);
  return {
    gate: admissionGate(config, { subject: 'the server', listen: config.host, path: null, capacity: { key: 'max_clients', max: config.max_clients } }),
    shape: {
      addTag: config.add_tag,
      addTime: config.add_time,
      useMsgpack: config.use_msgpack,
      escapeUnicode: service.escapeUnicode,
      convertNanToNull: service.convertNanToNull,
      idKey: config.message_id_key === '' ? null : config.message_id_key,
    },
  };
}
