import net from 'node:net';
import { connectCountingClient } from './lib/counting-client.js';
import { blast, printTable, processStats, quick, sleep, spawnWsbit, stopProcess, waitUntil } from './harness.js';

/**
 * A burst through websocket_server (issue 24): bin/wsbit takes N records of about 110 bytes as fast as
 * one tcp connection writes them and broadcasts them to bare WebSocket clients (lib/counting-client.ts)
 * that read at full speed. Before the per-client queues, 200k records at 10 clients closed all 10 with
 * 1013 after 122k–146k each; now every client should get all N. The run ends when every client has N
 * or no count moved for 5 s. Peak RSS is wsbit's (the burst waits in the engine's chunks, not in the
 * clients' queues).
 */
const STALL_MS = 5000;

async function burst(clients: number, records: number): Promise<Record<string, string | number>> {
  const agent = spawnWsbit([
    '-f', '0.25',
    '-i', 'tcp', '-p', 'listen=127.0.0.1', '-p', 'port=0', '-t', 'burst',
    '-o', 'websocket_server', '-m', '*', '-p', 'port=0', '-p', 'max_clients=0', '-p', 'live_page=off',
  ]);
  const sockets: net.Socket[] = [];
  try {
    const serverListening = /\[output:websocket_server:[^\]]+\] listening on 127\.0\.0\.1:(\d+)/;
    const tcpListening = /\[input:tcp:[^\]]+\] listening on [^:]+:(\d+)/;
    await waitUntil(() => serverListening.test(agent.stderr()) && tcpListening.test(agent.stderr()), 10_000, 'wsbit to listen');
    const port = Number(serverListening.exec(agent.stderr())?.[1]);
    const tcpPort = Number(tcpListening.exec(agent.stderr())?.[1]);
    const counts = new Array<number>(clients).fill(0);
    const closed = new Array<boolean>(clients).fill(false);
    sockets.push(
      ...(await Promise.all(
        counts.map((_, i) =>
          connectCountingClient(port, (_data, opcode) => {
            if (opcode <= 2) counts[i]!++;
            else if (opcode === 8) closed[i] = true;
          }),
        ),
      )),
    );
    await sleep(200);
    const line = Buffer.from(`{"level":"info","service":"checkout","msg":"order placed","order_id":12345,"detail":"${'x'.repeat(16)}"}\n`);
    // 10,000 lines per write: a socket that takes 110-byte writes as fast as wsbit reads never makes
    // write() return false, and the loop would then starve this process's clients of their reads.
    const linesPerWrite = 10_000;
    const started = Date.now();
    await blast(tcpPort, Buffer.concat(new Array<Buffer>(linesPerWrite).fill(line)), Math.ceil(records / linesPerWrite));
    let last = -1;
    let movedAt = Date.now();
    while (counts.some((count) => count < records) && Date.now() - movedAt < STALL_MS) {
      await sleep(100);
      const total = counts.reduce((a, b) => a + b, 0);
      if (total !== last) {
        last = total;
        movedAt = Date.now();
      }
    }
    const seconds = (Date.now() - started - (counts.every((c) => c >= records) ? 0 : STALL_MS)) / 1000;
    const stats = processStats(agent.child.pid as number);
    return {
      clients,
      records: records.toLocaleString('en'),
      'received per client (min / max)': `${Math.min(...counts).toLocaleString('en')} / ${Math.max(...counts).toLocaleString('en')}`,
      'closed 1013': closed.filter(Boolean).length,
      'slow drops logged': (agent.stderr().match(/fell behind/g) ?? []).length,
      seconds: seconds.toFixed(1),
      'wsbit peak RSS MB': stats.peakRssMb.toFixed(0),
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    await stopProcess(agent);
  }
}

const sizes = quick ? [200_000] : [200_000, 2_000_000];
const rows: Array<Record<string, string | number>> = [];
for (const records of sizes) for (const clients of [1, 10]) rows.push(await burst(clients, records));
printTable('tcp burst → websocket_server → counting clients reading at full speed (110-byte JSON messages, Flush 0.25)', rows);
