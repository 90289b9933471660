/**
 * The websocket output against hand-built hostile servers on raw `net`. The first connection
 * misbehaves; later ones are served by a small, correct server written here byte by byte. Each case
 * must give a clear log line and a reconnect, never a crash, and the records must reach the good
 * connection. The frame-level vectors live in test/websocket/; these tests check the output's reaction.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { sleep, waitFor } from '../helpers/wait.js';
import { collectClientFrames, startRawServer, switchingProtocols, type ClientFrame, type RawPeer } from '../websocket/peers.js';
import { decodeRecords, startTestAgent, type RunningTestAgent } from './websocket-output-support.js';

type Behaviour = (socket: Socket, key: string, frames: ClientFrameLog) => void;

interface ClientFrameLog {
  frames: ClientFrame[];
  next(): Promise<ClientFrame>;
}

interface ScriptedServer {
  peer: RawPeer;
  /** Every frame the client sent, per connection. */
  connections: ClientFrame[][];
  /** Request heads, per connection. */
  heads: string[];
}

/** An unmasked server frame (payload under 126 bytes). */
const serverFrame = (byte0: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([byte0, payload.length]), payload]);
const upgrade = (key: string): Buffer => Buffer.from(switchingProtocols(key), 'latin1');
const closePayload = (code: number, reason: string): Buffer => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

/** After the upgrade, a correct server: answers pings and closes (frames are kept by the log). */
const serve = (socket: Socket, log: ClientFrameLog): void => {
  void (async () => {
    for (;;) {
      const frame = await log.next();
      if (frame.opcode === 0x9) socket.write(serverFrame(0x8a, frame.payload));
      if (frame.opcode === 0x8) {
        socket.end(serverFrame(0x88, frame.payload.subarray(0, 2)));
        return;
      }
    }
  })();
};

const good: Behaviour = (socket, key, log) => {
  socket.write(upgrade(key));
  serve(socket, log);
};

/** Runs `afterData` on the socket once the client's first data frame has arrived. */
const afterFirstData =
  (afterData: (socket: Socket) => void): Behaviour =>
  (socket, key, log) => {
    socket.write(upgrade(key));
    void (async () => {
      for (;;) {
        const frame = await log.next();
        if (frame.opcode === 0x1 || frame.opcode === 0x2) {
          afterData(socket);
          return;
        }
      }
    })();
  };

async function scriptedServer(behaviours: Behaviour[]): Promise<ScriptedServer> {
  const connections: ClientFrame[][] = [];
  const heads: string[] = [];
  const peer = await startRawServer((socket, key, head) => {
    const index = heads.length;
    heads.push(head);
    const log = collectClientFrames(socket);
    connections.push(log.frames);
    (behaviours[index] ?? good)(socket, key, log);
  });
  return { peer, connections, heads };
}

let server: ScriptedServer | undefined;
let agent: RunningTestAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  await server?.peer.close();
  agent = undefined;
  server = undefined;
});

const RECORDS = 5;
const dataFrames = (frames: ClientFrame[] | undefined): ClientFrame[] => (frames ?? []).filter((frame) => frame.opcode === 0x1 || frame.opcode === 0x2);
/** Data frames with the Continuation frames of fragmented messages. */
const messageFrames = (frames: ClientFrame[] | undefined): ClientFrame[] => (frames ?? []).filter((frame) => frame.opcode < 0x8);

/**
 * Starts a tcp → websocket agent against the scripted server, writes five numbered records, and
 * waits until a connection after the first one has them all. Returns the log.
 */
async function deliverThrough(behaviour: Behaviour, outputExtra: string[] = []): Promise<{ logs: string; target: string }> {
  server = await scriptedServer([behaviour]);
  const port = server.peer.port;
  agent = await startTestAgent([
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
    '-o', `websocket://127.0.0.1:${port}/`, '-p', 'format=json_lines', ...outputExtra, '-f', '0.2',
  ]);
  const lines = Array.from({ length: RECORDS }, (_, i) => `{"seq":${i + 1}}\n`).join('');
  netConnect({ host: '127.0.0.1', port: agent.tcpPort() }).end(lines);
  const scripted = server;
  const running = agent;
  await running.waitFor(() => scripted.connections.slice(1).some((frames) => dataFrames(frames).length > 0), 'the records on a later, good connection', 15_000);
  const payloads = scripted.connections.slice(1).flatMap((frames) => dataFrames(frames));
  const seqs = payloads.flatMap((frame) => decodeRecords('json_lines', frame.payload).map((record) => record['seq']));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5], 'every record, once, on the good connection');
  for (const frame of payloads) {
    assert.equal(frame.masked, true);
    assert.equal(frame.fin, true);
    assert.equal(frame.opcode, 0x1, 'json_lines goes in TEXT frames');
  }
  assert.match(running.logs(), /\[ info\] \[output:websocket:websocket\.0\] handshake with ws:\/\/127\.0\.0\.1:\d+\/ succeeded, connection up/);
  return { logs: running.logs(), target: `ws://127.0.0.1:${port}/` };
}

const warnLine = (text: string): RegExp => new RegExp(`\\[ warn\\] \\[output:websocket:websocket\\.0\\] ${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`);

describe('hostile handshakes: logged, retried on a new connection', () => {
  it('a wrong Sec-WebSocket-Accept', async () => {
    const { logs, target } = await deliverThrough((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    });
    assert.match(logs, warnLine(`connecting to ${target} failed: response Sec-WebSocket-Accept is "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", expected "`));
    assert.equal(dataFrames(server?.connections[0]).length, 0, 'no frame is written before the Accept is checked');
  });

  it('a 200 response', async () => {
    const { logs, target } = await deliverThrough((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nnot a websocket');
    });
    assert.match(logs, warnLine(`connecting to ${target} failed: server rejected the WebSocket upgrade: HTTP 200 OK: not a websocket`));
  });

  it('no response at all: handshake_timeout fires', async () => {
    const started = Date.now();
    const { logs, target } = await deliverThrough(() => undefined, ['-p', 'handshake_timeout=1']);
    const port = server?.peer.port;
    assert.match(logs, warnLine(`connecting to ${target} failed: no WebSocket handshake response from 127.0.0.1:${port} within 1000 ms`));
    assert.ok(Date.now() - started >= 1000, 'the records waited for the timeout');
  });

  it('garbage instead of an HTTP response', async () => {
    const { logs, target } = await deliverThrough((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    assert.match(logs, warnLine(`connecting to ${target} failed: malformed HTTP status line "SSH-2.0-OpenSSH_9.6"`));
  });
});

describe('hostile servers after the upgrade: the connection is failed, logged, and replaced', () => {
  it('a close in the middle of a server frame (then EOF)', async () => {
    const { logs, target } = await deliverThrough(
      afterFirstData((socket) => {
        // A TEXT frame announcing 100 bytes, cut after 10.
        socket.end(Buffer.concat([Buffer.from([0x81, 0x64]), Buffer.from('0123456789')]));
      }),
    );
    const port = server?.peer.port;
    assert.match(logs, warnLine(`connection to ${target} down: 127.0.0.1:${port} closed the TCP connection without a close frame`));
  });

  it('a close in the middle of a frame in msgpack: the retried frame carries the same unmasked bytes (no double masking)', async () => {
    server = await scriptedServer([afterFirstData((socket) => socket.destroy())]);
    const scripted = server;
    agent = await startTestAgent([
      '-i', 'dummy', '-p', 'dummy={"key 1":123456789,"key 2":"abcdefg"}', '-p', 'start_time_sec=1700000000', '-p', 'start_time_nsec=123456789',
      '-p', 'fixed_timestamp=on', '-p', 'samples=1', '-p', 'rate=20',
      '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-f', '0.2',
    ]);
    await waitFor(() => dataFrames(scripted.connections[1]).length > 0, 'the retried frame');
    const first = dataFrames(scripted.connections[0])[0];
    const retried = dataFrames(scripted.connections[1])[0];
    assert.equal(first?.opcode, 0x2, 'msgpack goes in BINARY frames');
    assert.equal(retried?.opcode, 0x2);
    assert.equal(retried?.payload.toString('hex'), '9292d7006553f100075bcd158082a56b65792031ce075bcd15a56b65792032a761626364656667');
    assert.deepEqual(retried?.payload, first?.payload);
    assert.match(agent.logs(), /\[ warn\] \[output:websocket:websocket\.0\] connection to ws:\/\/127\.0\.0\.1:\d+\/ down: /);
  });

  for (const [fragmentSize, what] of [['0', 'one 2 MB frame'], ['256K', 'a 2 MB message in 256K fragments']] as const) {
    it(`the server drops the connection in the middle of ${what} it is reading: the whole message goes again`, async () => {
      server = await scriptedServer([
        (socket, key) => {
          socket.write(upgrade(key));
          let received = 0;
          socket.on('data', (data: Buffer) => {
            received += data.length;
            if (received > 600_000) socket.destroy();
          });
        },
      ]);
      const scripted = server;
      const blob = 'z'.repeat(100_000);
      agent = await startTestAgent([
        '-i', 'dummy', '-p', `dummy={"blob":"${blob}"}`, '-p', 'copies=20', '-p', 'samples=1', '-p', 'rate=20',
        '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-p', 'format=json_lines', '-p', `fragment_size=${fragmentSize}`, '-f', '0.2',
      ]);
      const running = agent;
      const lastFrame = (frames: ReturnType<typeof dataFrames>): boolean => frames.some((frame) => frame.fin);
      await running.waitFor(() => lastFrame(messageFrames(scripted.connections[1])), 'the message on the second connection', 15_000);
      assert.equal(lastFrame(messageFrames(scripted.connections[0])), false, 'the first connection never got the whole message');
      const message = messageFrames(scripted.connections[1]);
      // Pieces of 256K end at the record that takes them past it: three 100 KB records each, seven pieces.
      assert.equal(message.length, fragmentSize === '0' ? 1 : 7);
      const records = decodeRecords('json_lines', Buffer.concat(message.map((frame) => frame.payload)));
      assert.equal(records.length, 20);
      assert.ok(records.every((record) => record['blob'] === blob));
      assert.match(running.logs(), /\[ warn\] \[output:websocket:websocket\.0\] connection to ws:\/\/127\.0\.0\.1:\d+\/ down: /);
    });
  }

  it('a close frame: answered with a close echoing the code, then a new handshake', async () => {
    const { logs, target } = await deliverThrough(afterFirstData((socket) => socket.write(serverFrame(0x88, closePayload(1011, 'maintenance')))));
    assert.match(logs, warnLine(`connection to ${target} down: server closed the WebSocket (code 1011, reason "maintenance")`));
    const closes = (server?.connections[0] ?? []).filter((frame) => frame.opcode === 0x8);
    assert.equal(closes.length, 1);
    assert.equal(closes[0]?.masked, true);
    assert.equal(closes[0]?.payload.toString('hex'), '03f3', 'the client echoes 1011 with no reason');
  });

  it('a close frame that arrives with the 101 in one packet: the connection never counts as up', async () => {
    const { logs, target } = await deliverThrough((socket, key) => {
      socket.write(Buffer.concat([upgrade(key), serverFrame(0x88, closePayload(1001, 'restarting'))]));
    });
    assert.match(logs, warnLine(`connection to ${target} failed right after the handshake: server closed the WebSocket (code 1001, reason "restarting")`));
    assert.equal(dataFrames(server?.connections[0]).length, 0, 'no data frame on a connection the server closed');
  });

  it('a masked server frame: failed with close code 1002', async () => {
    // RFC 6455 §5.7's masked "Hello", which only a client may send.
    const { logs, target } = await deliverThrough(afterFirstData((socket) => socket.write(Buffer.from('818537fa213d7f9f4d5158', 'hex'))));
    assert.match(logs, warnLine(`connection to ${target} down: server sent a masked frame`));
    const closes = (server?.connections[0] ?? []).filter((frame) => frame.opcode === 0x8);
    assert.equal(closes[0]?.payload.subarray(0, 2).toString('hex'), '03ea');
  });

  it('garbage bytes: failed with close code 1002', async () => {
    const { logs, target } = await deliverThrough(afterFirstData((socket) => socket.write(Buffer.from('fffefdfcfbfaf9f8', 'hex'))));
    assert.match(logs, warnLine(`connection to ${target} down: frame has reserved bits set (0x70) but no extension was negotiated`));
    const closes = (server?.connections[0] ?? []).filter((frame) => frame.opcode === 0x8);
    assert.equal(closes[0]?.payload.subarray(0, 2).toString('hex'), '03ea');
  });
});

describe('servers that stop answering', () => {
  it('reads the data but never answers the ping after it: confirm_timeout drops the connection, the chunk goes again', async () => {
    const { logs, target } = await deliverThrough((socket, key) => socket.write(upgrade(key)), ['-p', 'confirm_timeout=1']);
    const port = server?.peer.port;
    assert.match(logs, warnLine(`connection to ${target} delivered nothing for `));
    assert.match(logs, new RegExp(`while 1 chunk waited \\(the server sent 0 pings and 0 pongs that answered none of ours meanwhile\\); dropping it: no pong from 127\\.0\\.0\\.1:${port} within 1000 ms`));
    assert.equal(dataFrames(server?.connections[0]).length, 1, 'the silent server did read the frame');
    const ping = server?.connections[0]?.[1];
    assert.equal(ping?.opcode, 0x9, 'the data frame is followed by a ping');
    assert.equal(ping?.payload.length, 8);
  });

  it('goes silent while the connection is idle: the keepalive ping (ping_interval) finds it, and the next flush handshakes again', async () => {
    // Confirms the first data frame (answers the ping behind it), then answers nothing more.
    server = await scriptedServer([
      (socket, key, log) => {
        socket.write(upgrade(key));
        void (async () => {
          let seenData = false;
          for (;;) {
            const frame = await log.next();
            if (frame.opcode === 0x1) seenData = true;
            if (frame.opcode === 0x9 && seenData) {
              socket.write(serverFrame(0x8a, frame.payload));
              return;
            }
          }
        })();
      },
    ]);
    const scripted = server;
    agent = await startTestAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-p', 'format=json_lines', '-p', 'ping_interval=1', '-p', 'ping_timeout=1', '-f', '0.2',
    ]);
    const running = agent;
    const tcpPort = agent.tcpPort();
    netConnect({ host: '127.0.0.1', port: tcpPort }).end('{"seq":1}\n');
    await waitFor(() => dataFrames(scripted.connections[0]).length === 1, 'the first record');
    await running.waitForLog(`connection to ws://127.0.0.1:${scripted.peer.port}/ down: no pong from 127.0.0.1:${scripted.peer.port} within 1000 ms`, 5000);
    netConnect({ host: '127.0.0.1', port: tcpPort }).end('{"seq":2}\n');
    await running.waitFor(() => dataFrames(scripted.connections[1]).length === 1, 'the second record on a new connection');
    const records = decodeRecords('json_lines', dataFrames(scripted.connections[1])[0]?.payload ?? Buffer.alloc(0));
    assert.deepEqual(records.map((record) => record['seq']), [2]);
    assert.equal(running.countLines(/\[ warn\] \[output:websocket:websocket\.0\] \[engine\] failed to flush/), 0, 'the dead peer was found before a flush needed it');
  });
});

describe('confirm_delivery', () => {
  it('off: data frames only, no ping after them (Fluent Bit counts a write as delivered)', async () => {
    server = await scriptedServer([]);
    const scripted = server;
    agent = await startTestAgent([
      '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0',
      '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-p', 'format=json_lines', '-p', 'confirm_delivery=off', '-p', 'ping_interval=0', '-f', '0.2',
    ]);
    const tcpPort = agent.tcpPort();
    netConnect({ host: '127.0.0.1', port: tcpPort }).end('{"seq":1}\n');
    await waitFor(() => dataFrames(scripted.connections[0]).length === 1, 'the first record');
    await sleep(300);
    netConnect({ host: '127.0.0.1', port: tcpPort }).end('{"seq":2}\n');
    await waitFor(() => dataFrames(scripted.connections[0]).length === 2, 'the second record');
    await agent.stop();
    await waitFor(() => (scripted.connections[0] ?? []).some((frame) => frame.opcode === 0x8), 'the close frame');
    assert.deepEqual((scripted.connections[0] ?? []).map((frame) => frame.opcode), [0x1, 0x1, 0x8]);
    assert.equal(agent.agent.metrics.get('wsbit_output_ping_acks_total', 'websocket.0'), 0);
  });

  it('on (the default): every data frame is followed by a ping, and its pong confirms the chunk', async () => {
    server = await scriptedServer([]);
    const scripted = server;
    agent = await startTestAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-f', '0.2']);
    netConnect({ host: '127.0.0.1', port: agent.tcpPort() }).end('{"seq":1}\n');
    const running = agent;
    await waitFor(() => running.agent.metrics.get('wsbit_output_ping_acks_total', 'websocket.0') === 1, 'the confirmation');
    const frames = scripted.connections[0] ?? [];
    assert.deepEqual(frames.map((frame) => frame.opcode), [0x2, 0x9], 'a BINARY msgpack frame, then a ping');
    assert.ok(frames.every((frame) => frame.masked && frame.fin));
    assert.equal(running.agent.metrics.get('fluentbit_output_proc_records_total', 'websocket.0'), 1);
  });
});

describe('a server ping', () => {
  it('is answered with a masked pong echoing its payload; server messages are ignored; the connection stays up', async () => {
    const pingPayload = Buffer.from('are you there? 42');
    server = await scriptedServer([
      (socket, key, log) => {
        // A ping, then a text and a binary message, which a log shipper ignores.
        socket.write(Buffer.concat([upgrade(key), serverFrame(0x89, pingPayload), serverFrame(0x81, Buffer.from('hello from the server')), serverFrame(0x82, Buffer.from([1, 2, 3]))]));
        serve(socket, log);
      },
    ]);
    const scripted = server;
    agent = await startTestAgent(['-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-o', `websocket://127.0.0.1:${scripted.peer.port}/`, '-p', 'format=json_lines', '-f', '0.2']);
    netConnect({ host: '127.0.0.1', port: agent.tcpPort() }).end('{"seq":1}\n');
    await waitFor(() => dataFrames(scripted.connections[0]).length > 0, 'the data frame');
    const frames = scripted.connections[0] ?? [];
    const pong = frames.find((frame) => frame.opcode === 0xa);
    assert.ok(pong !== undefined, 'a pong');
    assert.equal(pong.masked, true);
    assert.equal(pong.fin, true);
    assert.deepEqual(pong.payload, pingPayload);
    assert.equal(scripted.connections.length, 1, 'no reconnect');
  });
});
