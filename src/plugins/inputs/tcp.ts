import { defineInput } from '../../pipeline/contracts.js';
import { inputTlsOptions } from '../tls-server.js';
import { EmitCounter, SocketInputServer } from './socket-server.js';
import { tcpInputOptions } from './tcp/options.js';
import { TcpReceiver } from './tcp/receiver.js';
import { tcpManifest } from './tcp/schema.js';

/** Fluent Bit's `tcp` input: JSON or plain lines over TCP, timestamped on reception. */
export const tcpInput = defineInput({
  ...tcpManifest,
  create(context) {
    const options = tcpInputOptions(context.config, context.instance, context.parsers);
    const counter = new EmitCounter(context);
    const receiver = new TcpReceiver(options, counter.context);
    const tls = inputTlsOptions(context.config, context.instance);
    return new SocketInputServer({ host: options.listen, port: options.port }, null, (socket) => receiver.connection(socket), context, counter, tls);
  },
});
