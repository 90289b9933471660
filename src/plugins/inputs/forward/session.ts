/**
 * One connection of the forward input: the shared-key handshake when one is set, then Forward
 * protocol messages, framed in a buffer that grows by buffer_chunk_size up to buffer_max_size
 * (Fluent Bit's fw_conn.c), with an ack for each message that asks for one.
 */
import type net from 'node:net';
import { WsbitError, errorMessage } from '../../../base/errors.js';
import { quoteUntrusted } from '../../../base/logger.js';
import type { Telemetry } from '../../../base/telemetry.js';
import type { MsgpackWriter } from '../../../codec/msgpack-writer.js';
import { FrameScanner } from '../../../forward/frame-scanner.js';
import { checkPing, startHandshake, type HandshakeConfig, type HandshakeState } from '../../../forward/handshake.js';
import type { InputContext } from '../../../pipeline/contracts.js';
import type { ForwardInputOptions } from './options.js';
import { ackMessage, decodeForwardFrame, ForwardProtocolError } from './protocol.js';

/** Per connection: the handshake phase, then message frames. */
type Phase = { name: 'awaiting-ping'; config: HandshakeConfig; handshake: HandshakeState } | { name: 'established' } | { name: 'closed' };

export type SessionContext = Pick<InputContext<unknown>, 'tag' | 'telemetry' | 'emit' | 'admit'>;

export class ForwardSession {
  private readonly peer: string;
  private readonly scanner = new FrameScanner();
  private readonly telemetry: Telemetry;
  private buffer: Buffer;
  private length = 0;
  private phase: Phase = { name: 'established' };

  private readonly onData = (data: Buffer): void => this.receive(data);
  private readonly onEnd = (): void => {
    if (this.length > 0 && this.phase.name !== 'closed') {
      this.telemetry.event('warn', `connection from ${this.peer} closed in the middle of a message (${this.length} bytes dropped)`, 'wsbit_input_rejected_records_total');
    }
    this.socket.end();
  };
  private readonly onError = (error: Error): void => this.telemetry.logger.debug(`connection error from ${this.peer}: ${error.message}`);
  private readonly onClose = (): void => {
    this.phase = { name: 'closed' };
  };

  /**
   * `writer` is shared by the sessions of one input: a message is decoded and emitted before the next is read.
   * `adopted`: the connection comes from the pipeline before a hot reload, past its handshake.
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly options: ForwardInputOptions,
    private readonly context: SessionContext,
    private readonly writer: MsgpackWriter,
    adopted = false,
  ) {
    this.telemetry = context.telemetry;
    this.peer = socket.remoteAddress === undefined ? 'unix socket' : `${socket.remoteAddress}:${socket.remotePort ?? 0}`;
    this.buffer = Buffer.allocUnsafe(options.chunkBytes);
    if (options.handshake !== null && !adopted) {
      const started = startHandshake(options.handshake);
      this.phase = { name: 'awaiting-ping', config: options.handshake, handshake: started.state };
      socket.write(started.helo);
    }
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /**
   * Hot reload: stops reading for this pipeline and returns the bytes of an unfinished message, which
   * the next pipeline parses first. Null during a handshake, which cannot move: that connection drains.
   */
  detach(): Buffer | null {
    if (this.phase.name !== 'established') return null;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    const carried = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    this.scanner.reset();
    return carried;
  }

  /** A method, so the check is not narrowed away: handleFrame may close the connection. */
  private closed(): boolean {
    return this.phase.name === 'closed';
  }

  private disconnect(reason: string): void {
    if (this.phase.name === 'closed') return;
    this.phase = { name: 'closed' };
    this.telemetry.event('warn', `closing connection from ${this.peer}: ${reason}`, 'wsbit_input_rejected_records_total');
    this.socket.destroy();
  }

  private receive(data: Buffer): void {
    if (this.closed()) return;
    const { chunkBytes, maxMessageBytes } = this.options;
    if (this.length + data.length > this.buffer.length) {
      // Grow in buffer_chunk_size steps, as fw_conn.c does.
      const needed = this.length + data.length;
      const next = Buffer.allocUnsafe(Math.ceil(needed / chunkBytes) * chunkBytes);
      this.buffer.copy(next, 0, 0, this.length);
      this.buffer = next;
    }
    data.copy(this.buffer, this.length);
    this.length += data.length;
    let start = 0;
    try {
      for (;;) {
        const frameLength = this.scanner.scan(this.buffer, start, this.length);
        if (frameLength < 0) break;
        const frame = this.buffer.subarray(start, start + frameLength);
        start += frameLength;
        this.scanner.reset();
        this.handleFrame(frame);
        if (this.closed()) return;
      }
    } catch (error) {
      if (error instanceof ForwardProtocolError || error instanceof WsbitError) this.disconnect(error.message);
      else this.disconnect(`failed to process a message: ${errorMessage(error)}`);
      return;
    }
    if (start > 0) {
      this.buffer.copy(this.buffer, 0, start, this.length);
      this.length -= start;
    }
    if (this.length > maxMessageBytes) {
      this.disconnect(`incoming data exceed limit (${maxMessageBytes} bytes): a message larger than buffer_max_size`);
      return;
    }
    // Give memory back once a large message has gone through.
    if (this.buffer.length > chunkBytes && this.length <= chunkBytes) {
      const smaller = Buffer.allocUnsafe(chunkBytes);
      this.buffer.copy(smaller, 0, 0, this.length);
      this.buffer = smaller;
    }
  }

  private handleFrame(frame: Uint8Array): void {
    if (this.phase.name === 'awaiting-ping') {
      this.handlePing(frame, this.phase.config, this.phase.handshake);
      return;
    }
    const { writer, telemetry, peer } = this;
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
    const wantsAck = message.chunk !== null;
    // An ack must mean the records are in a chunk file. While chunk writes fail, a message that asks
    // for one is refused whole, as Fluent Bit refuses it: no ack, and the connection is closed, so
    // the client sends it again once it reconnects. A message without an ack request is kept in memory.
    if (wantsAck && message.records > 0 && !this.context.admit(message.records)) return this.holdBack(message.records, 'chunk writes fail');
    if (message.records > 0 && !this.context.emit(writer.view(), message.records, this.tagFor(message.tag)) && wantsAck) {
      return this.holdBack(message.records, 'its records could not be written to a chunk file');
    }
    if (message.rejected > 0) {
      telemetry.event(
        'warn',
        `${message.rejected} invalid ${message.rejected === 1 ? 'entry' : 'entries'} in a ${message.mode} message from ${peer} skipped: ${message.rejectReason ?? ''}`,
        'wsbit_input_rejected_records_total',
        message.rejected,
      );
    }
    // The ack says the records are in wsbit's buffer, as Fluent Bit acks after appending.
    if (message.chunk !== null) this.socket.write(ackMessage(message.chunk));
  }

  /** Refuses an acknowledged message the storage could not keep: no ack, and the connection closes. */
  private holdBack(records: number, reason: string): void {
    if (this.phase.name === 'closed') return;
    this.phase = { name: 'closed' };
    // The engine logs the disk failure once; a line per connection would only repeat it.
    this.telemetry.logger.debug(`message of ${records} records from ${this.peer} not acknowledged (${reason}): closing the connection so the client sends it again`);
    this.socket.destroy();
  }

  private handlePing(frame: Uint8Array, config: HandshakeConfig, state: HandshakeState): void {
    const result = checkPing(frame, config, state);
    if (!result.ok) {
      if (result.pong !== null) this.socket.write(result.pong);
      this.phase = { name: 'closed' };
      this.telemetry.event('warn', `handshake with ${this.peer} failed: ${result.reason}`, 'wsbit_input_rejected_records_total');
      this.socket.end();
      return;
    }
    this.socket.write(result.pong);
    this.phase = { name: 'established' };
    this.telemetry.logger.debug(`handshake with ${quoteUntrusted(result.clientHostname)} (${this.peer}) established`);
  }

  /** Fluent Bit's rule: tag_prefix + the message's tag; else a Tag set on the input; else the message's tag. */
  private tagFor(messageTag: string): string {
    const { tag, tagPrefix } = this.options;
    if (tagPrefix !== null) return tagPrefix + messageTag;
    if (tag !== null) return tag;
    return messageTag === '' ? this.context.tag : messageTag;
  }
}
