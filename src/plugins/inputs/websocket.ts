/**
 * The `websocket` input: a WebSocket server that takes what the websocket output sends (one message
 * per chunk: msgpack events, or JSON in any of its formats), from wsbit and from Fluent Bit agents.
 * Its keys become options in websocket/options.ts; its clients, and why a pong means delivered, are in
 * websocket/connections.ts.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { boundPort, closeServer, hostPort, listenOn } from '../../base/listen.js';
import { screenUpgrade } from '../../websocket/admission.js';
import { countTlsFailures } from '../tls-server.js';
import { CompressionSlots, perMessageDeflate } from '../websocket-server-compression.js';
import { defineInput, type ListenerHandle } from '../../pipeline/contracts.js';
import { Adoption } from './adoption.js';
import { InputConnections, type HandedClient } from './websocket/connections.js';
import { createInputServer } from './websocket/http-server.js';
import { websocketInputOptions } from './websocket/options.js';
import { websocketInputManifest } from './websocket/schema.js';

type Upgrade = [request: IncomingMessage, socket: Duplex, head: Buffer];

/** The websocket input's server between two pipelines (hot reload): its clients, paused, and the upgrades that came meanwhile. */
class WebSocketListener implements ListenerHandle {
  readonly upgrades: Upgrade[] = [];
  readonly park = (...upgrade: Upgrade): void => {
    upgrade[1].on('error', () => undefined);
    this.upgrades.push(upgrade);
  };

  constructor(
    readonly server: Server,
    readonly address: string,
    readonly clients: HandedClient[],
  ) {}

  get connections(): number {
    return this.clients.length;
  }
}

export const websocketInput = defineInput({
  ...websocketInputManifest,
  create(context) {
    const { config, telemetry, instance } = context;
    const { logger } = telemetry;
    const options = websocketInputOptions(config, instance);
    const connections = new InputConnections({
      decoder: options.decoder,
      timeKey: options.timeKey,
      maxMessageBytes: options.maxMessageBytes,
      telemetry,
      emit: (events, records, tag) => context.emit(events, records, tag),
      admit: (records) => context.admit(records),
    });
    // ws does the handshake, frames, inflating and closing; we keep the clients, and send pongs ourselves.
    // maxPayload bounds a message after inflating too (ws closes with 1009 past it), so compressed or
    // not, max_message_size is what a client can make us hold.
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: perMessageDeflate(config),
      clientTracking: false,
      maxPayload: options.maxMessageBytes,
      skipUTF8Validation: true,
      autoPong: false,
    });
    const compression = new CompressionSlots(config['compress.max_connections'], telemetry, 'wsbit_input_compressed_connected');
    let server: Server | null = null;
    const adoption = new Adoption(WebSocketListener);

    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const load = { stopping: connections.stopping, connected: connections.size };
      const admitted = screenUpgrade(request, socket, options.gate, load, telemetry, 'wsbit_input_refused_connections_total');
      if (admitted === null) return;
      compression.screen(request, admitted.remote);
      // Frames start after the request head; `head` holds the first of them, read along with it.
      const framesFrom = ((socket as Socket).bytesRead ?? 0) - head.length;
      wss.handleUpgrade(request, socket, head, (ws) => {
        compression.track(ws);
        connections.accept(ws, socket, admitted.remote, framesFrom);
      });
    };

    return {
      async start() {
        const handle = adoption.take();
        if (handle !== null) {
          handle.server.off('upgrade', handle.park);
          handle.server.on('upgrade', onUpgrade);
          server = handle.server;
          for (const client of handle.clients) {
            compression.track(client.ws);
            connections.adopt(client);
          }
          for (const upgrade of handle.upgrades) onUpgrade(...upgrade);
          const bound = hostPort(config.listen, boundPort(server) ?? config.port);
          logger.info(`listening on ${bound}, ws://${bound}${options.path ?? '/'}, format ${config.format} (kept across the reload with ${handle.clients.length} connections)`);
          return;
        }
        const listening = createInputServer(config, instance);
        listening.on('upgrade', onUpgrade);
        countTlsFailures(listening, telemetry, 'wsbit_tls_handshake_failures_total');
        listening.on('clientError', (error: Error, socket: Duplex) => {
          logger.debug(`bad HTTP request: ${error.message}`);
          socket.destroy();
        });
        const port = await listenOn(listening, { host: config.listen, port: config.port }, { code: 'WSBIT_INPUT_LISTEN', instance }, logger);
        server = listening;
        const bound = hostPort(config.listen, port);
        logger.info(`listening on ${bound}, ${config.tls ? 'wss' : 'ws'}://${bound}${options.path ?? '/'}, format ${config.format}`);
      },
      pause: () => connections.pause(),
      resume: () => connections.resume(),
      // A TLS listener is not kept: its certificate files are read again by a new one.
      ...(config.tls
        ? {}
        : {
            listenerAddress: () => hostPort(config.listen, config.port),
            handOver(): ListenerHandle | null {
              const unstarted = adoption.take();
              const kept = server;
              if (unstarted !== null || kept === null) return unstarted;
              server = null;
              kept.off('upgrade', onUpgrade);
              const clients = connections.handOver();
              for (const client of clients) compression.forget(client.ws);
              const handle = new WebSocketListener(kept, hostPort(config.listen, config.port), clients);
              kept.on('upgrade', handle.park);
              return handle;
            },
            adopt(handle: ListenerHandle): boolean {
              return adoption.offer(handle);
            },
          }),
      async stop() {
        const orphan = adoption.take();
        if (orphan !== null) {
          orphan.server.off('upgrade', orphan.park);
          for (const client of orphan.clients) connections.adopt(client);
          for (const [, socket] of orphan.upgrades) socket.destroy();
          server = orphan.server;
        }
        await connections.closeAll();
        wss.close();
        const http = server;
        server = null;
        await closeServer(http);
      },
      listeningPort: () => boundPort(server),
    };
  },
});
