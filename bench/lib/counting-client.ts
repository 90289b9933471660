import { randomBytes } from 'node:crypto';
import net from 'node:net';

/**
 * A bare WebSocket client for the broadcast benchmark: an upgrade request, then a frame parser that
 * hands each complete server frame's payload to `onMessage` as a view. A hundred `ws` clients in one
 * process top out around a million messages a second, below what wsbit sends; this one costs a few
 * header reads per frame, so the clients do not set the ceiling. It does not check the handshake
 * beyond the 101 (wsbit's own tests do), does not answer pings (the windows are shorter than the
 * server's ping interval) and never sends data.
 */
export function connectCountingClient(port: number, onMessage: (payload: Buffer, opcode: number) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let upgraded = false;
    let pending: Buffer | null = null;

    const parse = (data: Buffer): void => {
      let pos = 0;
      while (pos + 2 <= data.length) {
        const opcode = (data[pos] as number) & 0x0f;
        let length = (data[pos + 1] as number) & 0x7f;
        let header = 2;
        if (length === 126) {
          if (pos + 4 > data.length) break;
          length = data.readUInt16BE(pos + 2);
          header = 4;
        } else if (length === 127) {
          if (pos + 10 > data.length) break;
          length = data.readUInt32BE(pos + 2) * 0x100000000 + data.readUInt32BE(pos + 6);
          header = 10;
        }
        if (pos + header + length > data.length) break;
        onMessage(data.subarray(pos + header, pos + header + length), opcode);
        pos += header + length;
      }
      pending = pos < data.length ? data.subarray(pos) : null;
    };

    socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      const data: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      if (upgraded) {
        parse(data);
        return;
      }
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        pending = data;
        return;
      }
      const status = data.toString('latin1', 0, data.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${status}`));
        return;
      }
      upgraded = true;
      resolve(socket);
      parse(data.subarray(end + 4));
    });
    socket.on('error', (error) => {
      if (!upgraded) reject(error);
    });
  });
}
