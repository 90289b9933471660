import fs from 'node:fs';
import net from 'node:net';
import { ConfigError, WsbitError, errorMessage } from '../../base/errors.js';
import { MsgpackWriter } from '../../codec/msgpack-writer.js';
import { boundPort, closeServer, hostPort, listenOn, type ListenAddress } from '../../base/listen.js';
import { defineInput } from '../../pipeline/contracts.js';
import { Connections } from './connections.js';
import { FrameScanner } from '../../forward/frame-scanner.js';
import { checkPing, startHandshake, type HandshakeConfig, type HandshakeState } from '../../forward/handshake.js';
import { ackMessage, decodeForwardFrame, ForwardProtocolError } from './forward/protocol.js';
import { quoteUntrusted } from '../../base/logger.js';

const schema = [
  { key: 'listen', type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
  { key: 'port', type: 'int', default: 24224, description: 'TCP port to listen on.' },
  { key: 'tag', type: 'string', default: null, description: "Tag for every received record, replacing the tag each message carries (ignored when tag_prefix is set)." },
  { key: 'tag_prefix', type: 'string', default: null, description: 'Prefix added to the tag each message carries.' },
  { key: 'unix_path', type: 'string', default: null, description: 'Listen on this Unix socket instead of TCP.' },
  { key: 'unix_perm', type: 'string', default: null, description: 'Permissions of the Unix socket, in octal (e.g. 0660).' },
  { key: 'shared_key', type: 'string', default: null, description: 'Shared key for secure forward authentication (HELO/PING/PONG handshake).' },
  { key: 'empty_shared_key', type: 'bool', default: false, description: 'Require the handshake with an empty string as the shared key.' },
  { key: 'self_hostname', type: 'string', default: 'localhost', description: 'Host name this server gives in the handshake.' },
  { key: 'security.users', type: 'string', multiple: true, description: "A 'username password' pair clients must authenticate with; needs shared_key or empty_shared_key." },
  { key: 'buffer_chunk_size', type: 'size', default: '1024000', description: 'Step by which the receive buffer of a connection grows.' },
  { key: 'buffer_max_size', type: 'size', default: '6144000', description: 'Largest message a connection may send; a client that exceeds it is disconnected.' },
] as const;

/** Per connection: the handshake phase, then message frames. */
type Phase = { name: 'awaiting-ping'; handshake: HandshakeState } | { name: 'established' } | { name: 'closed' };

/**
 * Fluent Bit's `forward` input: Fluentd's Forward protocol over TCP or a Unix socket, in all its modes,
 * with acks and the shared-key handshake. Records are copied from the wire as msgpack bytes.
 */
export const forwardInput = defineInput({
  kind: 'input',
  name: 'forward',
  description: 'Fluentd in-forward',
  schema,
  serviceUriKeys: { host: 'listen', port: 'port' },
  create(context) {
    const { config, telemetry, instance } = context;
    const chunkSize = Math.max(1024, config.buffer_chunk_size);
    const maxSize = config.buffer_max_size;
    if (maxSize < chunkSize) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: buffer_max_size (${maxSize}) must not be smaller than buffer_chunk_size (${chunkSize})`);
    }
    const users = new Map<string, string>();
    for (const pair of config['security.users']) {
      const [user, password, ...rest] = pair.trim().split(/\s+/);
      if (user === undefined || password === undefined || rest.length > 0) {
        throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid security.users '${pair}': expected 'username password'`);
      }
      users.set(user, password);
    }
    const sharedKey = config.shared_key ?? (config.empty_shared_key ? '' : null);
    if (users.size > 0 && sharedKey === null) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: security.users is set but no shared_key or empty_shared_key`);
    }
    const handshake: HandshakeConfig | null = sharedKey === null ? null : { sharedKey, selfHostname: config.self_hostname, users };
    const unixPerm = config.unix_perm === null ? null : Number.parseInt(config.unix_perm, 8);
    if (unixPerm !== null && (!Number.isInteger(unixPerm) || unixPerm < 0 || unixPerm > 0o7777)) {
      throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', `[config] ${instance}: invalid unix_perm '${config.unix_perm ?? ''}': expected an octal mode such as 0660`);
    }

    const connections = new Connections();
    const writer = new MsgpackWriter(64 * 1024);
    let server: net.Server | null = null;

    /** Fluent Bit's rule: tag_prefix + the message's tag; else a Tag set on the input; else the message's tag. */
    const tagFor = (messageTag: string): string => {
      if (config.tag_prefix !== null) return config.tag_prefix + messageTag;
      if (config.tag !== null) return config.tag;
      return messageTag === '' ? context.tag : messageTag;
    };

    const handleConnection = (socket: net.Socket): void => {
      connections.add(socket);
      const peer = socket.remoteAddress === undefined ? 'unix socket' : `${socket.remoteAddress}:${socket.remotePort ?? 0}`;
      const scanner = new FrameScanner();
      let buffer = Buffer.allocUnsafe(chunkSize);
      let length = 0;
      let phase: Phase = { name: 'established' };
      // A function, so the check is not narrowed away: handleFrame may close the connection.
      const closed = (): boolean => phase.name === 'closed';

      const disconnect = (reason: string): void => {
        if (phase.name === 'closed') return;
        phase = { name: 'closed' };
        telemetry.event('warn', `closing connection from ${peer}: ${reason}`, 'wsbit_input_rejected_records_total');
        socket.destroy();
      };

      if (handshake !== null) {
        const started = startHandshake(handshake);
        phase = { name: 'awaiting-ping', handshake: started.state };
        socket.write(started.helo);
      }

      const handleFrame = (frame: Uint8Array): void => {
        if (phase.name === 'awaiting-ping') {
          const result = checkPing(frame, handshake as HandshakeConfig, phase.handshake);
          if (!result.ok) {
            if (result.pong !== null) socket.write(result.pong);
            phase = { name: 'closed' };
            telemetry.event('warn', `handshake with ${peer} failed: ${result.reason}`, 'wsbit_input_rejected_records_total');
            socket.end();
            return;
          }
          socket.write(result.pong);
          phase = { name: 'established' };
          telemetry.logger.debug(`handshake with ${quoteUntrusted(result.clientHostname)} (${peer}) established`);
          return;
        }
        writer.reset();
        const message = decodeForwardFrame(frame, writer);
        if (message.rejected > 0 && message.chunk !== null) {
          // The client asked for an ack, which must mean every record of the message is in wsbit's
          // buffer. So none is taken and no ack is sent: the client keeps them all, and if it sends them
          // again nothing is duplicated. The connection stays up for its next messages.
          const refused = message.records + message.rejected;
          telemetry.event(
            'warn',
            `${message.mode} message from ${peer} refused, not acknowledged (${refused} ${refused === 1 ? 'record' : 'records'}): ${message.rejectReason ?? ''}`,
            'wsbit_input_rejected_records_total',
            refused,
          );
          return;
        }
        if (message.records > 0) context.emit(writer.view(), message.records, tagFor(message.tag));
        if (message.rejected > 0) {
          telemetry.event(
            'warn',
            `${message.rejected} invalid ${message.rejected === 1 ? 'entry' : 'entries'} in a ${message.mode} message from ${peer} skipped: ${message.rejectReason ?? ''}`,
            'wsbit_input_rejected_records_total',
            message.rejected,
          );
        }
        // The ack says the records are in wsbit's buffer, as Fluent Bit acks after appending.
        if (message.chunk !== null) socket.write(ackMessage(message.chunk));
      };

      socket.on('data', (data: Buffer) => {
        if (phase.name === 'closed') return;
        if (length + data.length > buffer.length) {
          // Grow in buffer_chunk_size steps, as fw_conn.c does.
          const needed = length + data.length;
          const size = Math.ceil(needed / chunkSize) * chunkSize;
          const next = Buffer.allocUnsafe(size);
          buffer.copy(next, 0, 0, length);
          buffer = next;
        }
        data.copy(buffer, length);
        length += data.length;
        let start = 0;
        try {
          for (;;) {
            const frameLength = scanner.scan(buffer, start, length);
            if (frameLength < 0) break;
            const frame = buffer.subarray(start, start + frameLength);
            start += frameLength;
            scanner.reset();
            handleFrame(frame);
            if (closed()) return;
          }
        } catch (error) {
          if (error instanceof ForwardProtocolError || error instanceof WsbitError) disconnect(error.message);
          else disconnect(`failed to process a message: ${errorMessage(error)}`);
          return;
        }
        if (start > 0) {
          buffer.copy(buffer, 0, start, length);
          length -= start;
        }
        if (length > maxSize) {
          disconnect(`incoming data exceed limit (${maxSize} bytes): a message larger than buffer_max_size`);
          return;
        }
        // Give memory back once a large message has gone through.
        if (buffer.length > chunkSize && length <= chunkSize) {
          const smaller = Buffer.allocUnsafe(chunkSize);
          buffer.copy(smaller, 0, 0, length);
          buffer = smaller;
        }
      });
      socket.on('end', () => {
        if (length > 0 && phase.name !== 'closed') {
          telemetry.event('warn', `connection from ${peer} closed in the middle of a message (${length} bytes dropped)`, 'wsbit_input_rejected_records_total');
        }
        socket.end();
      });
      socket.on('error', (error) => telemetry.logger.debug(`connection error from ${peer}: ${error.message}`));
      socket.on('close', () => {
        phase = { name: 'closed' };
      });
    };

    return {
      async start() {
        const listening = net.createServer(handleConnection);
        const address: ListenAddress = config.unix_path === null ? { host: config.listen, port: config.port } : { path: config.unix_path };
        // A socket file left by an earlier run would make listen fail; Fluent Bit unlinks it too.
        if (config.unix_path !== null) fs.rmSync(config.unix_path, { force: true });
        const port = await listenOn(listening, address, { code: 'WSBIT_INPUT_LISTEN', instance }, telemetry.logger);
        server = listening;
        if (config.unix_path !== null && unixPerm !== null) fs.chmodSync(config.unix_path, unixPerm);
        telemetry.logger.info(`listening on ${config.unix_path === null ? hostPort(config.listen, port) : `unix://${config.unix_path}`}`);
      },
      pause: () => connections.pause(),
      resume: () => connections.resume(),
      async stop() {
        const closing = server;
        server = null;
        await closeServer(closing, connections);
      },
      listeningPort: () => boundPort(server),
    };
  },
});
