/**
 * permessage-deflate (RFC 7692) on the two WebSocket servers (the `websocket` input and the
 * `websocket_server` output; their keys are in websocket-server-keys.ts): the options handed to ws, the bound on how many
 * connections may compress at once, and the count of bytes on the wire beside the message bytes.
 *
 * Memory: ws keeps one zlib context per connection and direction, made when the first compressed
 * message goes that way and freed at close. An inflate context costs about 40 KB (a 32 KB window at 15
 * bits, the size every client asks for); a deflate context about 260 KB (a 128 KB window and 128 KB of
 * hash chains at memLevel 8). The input only inflates (it sends nothing but pongs and closes, which
 * are never compressed); websocket_server mostly deflates. `compress.max_connections` caps the
 * connections that may negotiate the extension, so a flood of clients costs at most cap × context
 * (input: 256 × 40 KB ≈ 10 MB; websocket_server: 32 × 260 KB ≈ 8 MB); the clients after them are
 * accepted uncompressed, which every RFC 7692 client must handle. Shrinking the windows instead would
 * refuse clients that do not offer client_max_window_bits (ws declines such an offer), and cost ratio.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PerMessageDeflateOptions, WebSocket } from 'ws';
import type { MetricName } from '../base/metrics.js';
import type { Telemetry } from '../base/telemetry.js';
import type { CompressionConfig } from './websocket-server-keys.js';

/**
 * zlib jobs run on libuv's thread pool (4 threads by default), shared with DNS and file work; more
 * concurrent jobs would only queue there. ws keeps one limiter for the whole process, set by the
 * first server that compresses, so both servers pass the same number.
 */
const ZLIB_CONCURRENCY = 4;

/** ws's `perMessageDeflate` option: false with compress off (the client's offer is declined). */
export function perMessageDeflate(config: CompressionConfig, sending?: { level: number; threshold: number }): PerMessageDeflateOptions | false {
  if (!config.compress) return false;
  return {
    concurrencyLimit: ZLIB_CONCURRENCY,
    ...(sending === undefined ? {} : { threshold: sending.threshold, zlibDeflateOptions: { level: sending.level } }),
  };
}

/** Whether ws negotiated permessage-deflate on this connection. */
export function negotiatedDeflate(ws: WebSocket): boolean {
  return ws.extensions.split(',').includes('permessage-deflate');
}

/** The connections that negotiated permessage-deflate, kept under `compress.max_connections`. */
export class CompressionSlots {
  private used = 0;
  private readonly closeListeners = new Map<WebSocket, () => void>();

  constructor(
    private readonly max: number,
    private readonly telemetry: Telemetry,
    private readonly gauge: MetricName,
  ) {}

  /**
   * Call before ws's handleUpgrade: with every slot taken, the request's offer is removed, so ws
   * answers without the extension and the client goes on uncompressed.
   */
  screen(request: IncomingMessage, remote: string): void {
    if (this.max === 0 || this.used < this.max || request.headers['sec-websocket-extensions'] === undefined) return;
    delete request.headers['sec-websocket-extensions'];
    this.telemetry.logger.debug(`client ${remote} accepted without compression: compress.max_connections (${this.max}) reached`);
  }

  /** Counts an upgraded connection that negotiated the extension, until it closes. */
  track(ws: WebSocket): void {
    if (ws.readyState !== ws.OPEN || !negotiatedDeflate(ws) || this.closeListeners.has(ws)) return;
    this.used++;
    this.telemetry.gauge(this.gauge, this.used);
    const onClose = (): void => {
      this.closeListeners.delete(ws);
      this.used--;
      this.telemetry.gauge(this.gauge, this.used);
    };
    this.closeListeners.set(ws, onClose);
    ws.once('close', onClose);
  }

  /** Hot reload: the connection now counts in the next pipeline's slots (which track() it again). */
  forget(ws: WebSocket): void {
    const onClose = this.closeListeners.get(ws);
    if (onClose === undefined) return;
    ws.off('close', onClose);
    this.closeListeners.delete(ws);
    this.used--;
  }
}

/**
 * One connection's bytes: messages as the application sees them (inflated, or before deflating) and
 * bytes on the wire. ws tells neither how large a compressed frame was nor when it wrote one, so the
 * wire side is read from the socket's own counter (bytesRead or bytesWritten, frame headers and control
 * frames included; under TLS the socket is the TLS one, so still the WebSocket stream).
 */
export class WireBytes {
  private counted: number;
  messageBytes = 0;
  wireBytes = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly direction: 'read' | 'written',
    private readonly metrics: { telemetry: Telemetry; wire: MetricName; message: MetricName },
    /** Bytes the socket had already counted that are not frames (the HTTP request or response); default: all so far. */
    alreadyCounted?: number,
  ) {
    this.counted = alreadyCounted ?? this.socketCount();
  }

  socketCount(): number {
    const socket = this.socket as Socket;
    return (this.direction === 'read' ? socket.bytesRead : socket.bytesWritten) ?? 0;
  }

  messages(bytes: number): void {
    this.messageBytes += bytes;
    this.metrics.telemetry.count(this.metrics.message, bytes);
  }

  /** Adds what the socket counted since the last call. */
  update(): void {
    const now = this.socketCount();
    if (now <= this.counted) return;
    this.wireBytes += now - this.counted;
    this.metrics.telemetry.count(this.metrics.wire, now - this.counted);
    this.counted = now;
  }

  /** `N bytes of messages in M on the wire`, for the disconnect line. */
  describe(): string {
    this.update();
    const ratio = this.messageBytes > 0 ? ` (${Math.round((100 * this.wireBytes) / this.messageBytes)} %)` : '';
    return `${this.messageBytes} bytes of messages in ${this.wireBytes} bytes on the wire${ratio}`;
  }
}
