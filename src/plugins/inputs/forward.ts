import type { Socket } from 'node:net';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { defineInput } from '../../pipeline/contracts.js';
import { forwardInputOptions } from './forward/options.js';
import { forwardInputManifest } from './forward/schema.js';
import { ForwardSession } from './forward/session.js';
import { inputTlsOptions } from '../tls-server.js';
import { EmitCounter, SocketInputServer } from './socket-server.js';

/**
 * Fluent Bit's `forward` input: Fluentd's Forward protocol over TCP or a Unix socket, in all its modes,
 * with acks and the shared-key handshake. Records are copied from the wire as msgpack bytes.
 */
export const forwardInput = defineInput({
  ...forwardInputManifest,
  create(context) {
    const options = forwardInputOptions(context.config, context.instance);
    const writer = new MsgpackWriter(64 * 1024);
    const counter = new EmitCounter(context);
    const connect = (socket: Socket, adopted: boolean): ForwardSession => new ForwardSession(socket, options, counter.context, writer, adopted);
    // TLS over TCP (Fluentd's secure forward transport); a Unix socket stays plain.
    const tls = 'path' in options.address ? null : inputTlsOptions(context.config, context.instance);
    return new SocketInputServer(options.address, options.unixPerm, connect, context, counter, tls);
  },
});
