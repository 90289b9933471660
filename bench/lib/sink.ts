import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { countEvents } from './msgpack-count.js';

/**
 * The receiving end of the end-to-end benchmarks: a `ws` server in a process of its own, so the agent
 * under test never shares an event loop with it. It counts records cheaply (newlines for json_lines, a
 * msgpack skipper for msgpack), and measures latency from the send timestamps the senders embed in
 * every Nth record (`"t":<µs since the epoch>`, see senders.ts) to the moment a message arrives.
 *
 * Started as `node dist/bench/lib/sink.js '<SinkOptions as JSON>'`. It prints `port N` once listening and
 * `records N` (at most every 10 ms) as the count grows. On stdin it takes `fast` (stop throttling) and
 * `report` (answered with `report <SinkReport as JSON>`).
 *
 * UTF-8 validation is off and nothing relies on pongs: Fluent Bit sends msgpack in TEXT frames and
 * never answers pings (SPEC §1.5, §1.7). What an agent gets wrong is counted, never fatal: a message
 * that is not whole JSON lines or whole msgpack events is corrupt (Fluent Bit sends a msgpack chunk
 * it retries unmasked, having masked it in place on the first try, SPEC §1.7), and a TCP connection
 * that never upgrades (Fluent Bit writing frames on a fresh pooled connection, SPEC §1.9) is counted
 * apart from the upgraded ones.
 */
export interface SinkOptions {
  format: 'json_lines' | 'msgpack';
  /** Listen here (a server that comes up later on a port an agent already sends to); default 0. */
  port?: number;
  /**
   * How the `t` key looks in the output: `json` ("t":), `escaped` (\"t\":, a JSON line kept whole as
   * a string by tail without a parser) or `msgpack` (fixstr "t", then a uint64 or int64).
   */
  marker: 'json' | 'escaped' | 'msgpack';
  /** Read no faster than this many records a second (a slow server), until told `fast`. */
  recordsPerSecond?: number;
  /** Track the `"n":` sequence numbers 0..seqCapacity-1 (json formats only), to count losses and duplicates. */
  seqCapacity?: number;
  /** Accept permessage-deflate (`ws`'s perMessageDeflate), for the compression benchmark. */
  perMessageDeflate?: boolean;
}

export interface SinkReport {
  records: number;
  /** Latency samples in ms, as p50/p99/max, and how many there were. */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** With seqCapacity: distinct sequence numbers seen, and records seen more than once. */
  distinct: number;
  duplicates: number;
  /** WebSocket connections (upgraded). */
  connections: number;
  /** TCP connections, upgraded or not, and those whose first bytes were not an HTTP request. */
  tcpConnections: number;
  notHttp: number;
  /** Messages that were not whole JSON lines / whole msgpack events; their records are not counted. */
  corruptMessages: number;
  /** Bytes read from the TCP connections (handshakes, frame headers, payloads as sent, compressed or not). */
  wireBytes: number;
  /** Bytes of the messages as received (inflated). */
  payloadBytes: number;
}

const MARKERS = {
  json: Buffer.from('"t":'),
  escaped: Buffer.from('\\"t\\":'),
  // fixstr "t"; the uint64 (0xcf) or int64 (0xd3) after it is checked below.
  msgpack: Buffer.from([0xa1, 0x74]),
};
const SEQ_MARKERS = { json: Buffer.from('"n":'), escaped: Buffer.from('\\"n\\":') };
/** Any sample further off than this is not a timestamp (a stray byte pattern in msgpack). */
const PLAUSIBLE_US = 3_600_000_000;

function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function readDigits(data: Buffer, pos: number): number {
  let value = 0;
  for (let b = data[pos]; b !== undefined && b >= 0x30 && b <= 0x39; b = data[++pos]) value = value * 10 + (b - 0x30);
  return value;
}

function readUint64(data: Buffer, pos: number): number {
  return data.readUInt32BE(pos) * 0x100000000 + data.readUInt32BE(pos + 4);
}

async function main(options: SinkOptions): Promise<void> {
  let tcpConnections = 0;
  let notHttp = 0;
  const server = createServer();
  const sockets = new Set<Socket>();
  let closedSocketBytes = 0;
  server.on('connection', (socket: Socket) => {
    tcpConnections++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closedSocketBytes += socket.bytesRead;
    });
  });
  // Node answers 400 and closes; this only counts it.
  server.on('clientError', (_error, socket) => {
    notHttp++;
    socket.destroy();
  });
  const wss = new WebSocketServer({ server, maxPayload: 256 * 1024 * 1024, skipUTF8Validation: true, perMessageDeflate: options.perMessageDeflate === true });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1');
  });
  const address = server.address();
  process.stdout.write(`port ${typeof address === 'object' && address !== null ? address.port : 0}\n`);

  const marker = MARKERS[options.marker];
  const seqMarker = options.marker === 'msgpack' ? null : SEQ_MARKERS[options.marker];
  const seen = options.seqCapacity === undefined ? null : new Uint8Array(options.seqCapacity);
  let records = 0;
  let reported = 0;
  let distinct = 0;
  let duplicates = 0;
  let connections = 0;
  const latenciesUs: number[] = [];
  let recordsPerSecond = options.recordsPerSecond ?? Infinity;
  /** When a throttled socket may read again. */
  let readyAtMs = 0;
  const paused = new Set<WebSocket>();

  setInterval(() => {
    if (records !== reported) {
      reported = records;
      process.stdout.write(`records ${records}\n`);
    }
  }, 10);

  let corruptMessages = 0;
  let payloadBytes = 0;
  /** Records in a message, or -1 when it is corrupt: every JSON line is `{...}\n`, every msgpack event an array. */
  const count = (data: Buffer): number => {
    if (options.format === 'msgpack') return countEvents(data);
    let lines = 0;
    let start = 0;
    for (let at = data.indexOf(0x0a); at >= 0; at = data.indexOf(0x0a, at + 1)) {
      if (data[start] !== 0x7b || data[at - 1] !== 0x7d) return -1;
      lines++;
      start = at + 1;
    }
    return start === data.length ? lines : -1;
  };

  const sampleLatency = (data: Buffer, receivedUs: number): void => {
    for (let at = data.indexOf(marker); at >= 0; at = data.indexOf(marker, at + marker.length)) {
      let start = at + marker.length;
      if (options.marker === 'msgpack') {
        const type = data[start++];
        if ((type !== 0xcf && type !== 0xd3) || start + 8 > data.length) continue;
      }
      const sentUs = options.marker === 'msgpack' ? readUint64(data, start) : readDigits(data, start);
      const latencyUs = receivedUs - sentUs;
      if (latencyUs > -PLAUSIBLE_US && latencyUs < PLAUSIBLE_US) latenciesUs.push(latencyUs);
    }
  };

  const trackSequence = (data: Buffer, sequenceMarker: Buffer, table: Uint8Array): void => {
    for (let at = data.indexOf(sequenceMarker); at >= 0; at = data.indexOf(sequenceMarker, at + sequenceMarker.length)) {
      const n = readDigits(data, at + sequenceMarker.length);
      if (n >= table.length) continue;
      if (table[n] === 0) {
        table[n] = 1;
        distinct++;
      } else duplicates++;
    }
  };

  const throttle = (ws: WebSocket, received: number): void => {
    if (!Number.isFinite(recordsPerSecond)) return;
    const now = performance.now();
    readyAtMs = Math.max(readyAtMs, now) + (received / recordsPerSecond) * 1000;
    if (readyAtMs - now < 1) return;
    ws.pause();
    paused.add(ws);
    setTimeout(() => {
      if (paused.delete(ws)) ws.resume();
    }, readyAtMs - now);
  };

  wss.on('connection', (ws) => {
    connections++;
    ws.on('message', (data: Buffer) => {
      const receivedUs = nowMicros();
      payloadBytes += data.length;
      const received = count(data);
      if (received < 0) {
        corruptMessages++;
        return;
      }
      records += received;
      sampleLatency(data, receivedUs);
      if (seen !== null && seqMarker !== null) trackSequence(data, seqMarker, seen);
      throttle(ws, received);
    });
    ws.on('error', () => {});
  });

  let pendingInput = '';
  process.stdin.on('data', (chunk: Buffer) => {
    pendingInput += chunk.toString();
    const lines = pendingInput.split('\n');
    pendingInput = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'fast') {
        recordsPerSecond = Infinity;
        for (const ws of paused) ws.resume();
        paused.clear();
      } else if (line === 'report') {
        const sorted = Float64Array.from(latenciesUs).sort();
        const at = (p: number): number => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number) / 1000);
        const report: SinkReport = {
          records,
          samples: sorted.length,
          p50Ms: at(0.5),
          p99Ms: at(0.99),
          maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number) / 1000,
          distinct,
          duplicates,
          connections,
          tcpConnections,
          notHttp,
          corruptMessages,
          wireBytes: [...sockets].reduce((sum, socket) => sum + socket.bytesRead, closedSocketBytes),
          payloadBytes,
        };
        process.stdout.write(`report ${JSON.stringify(report)}\n`);
      }
    }
  });
}

await main(JSON.parse(process.argv[2] ?? '{}') as SinkOptions);
