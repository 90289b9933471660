import fs from 'node:fs';
import net from 'node:net';
import { boundPort, closeServer, hostPort, listenOn, type ListenAddress } from '../../base/listen.js';
import type { InputContext, InputInstance } from '../../pipeline/contracts.js';
import { Connections } from './connections.js';

/**
 * The server of a socket input (tcp, forward): listens on TCP or a Unix socket, hands each connection
 * to `handleConnection`, pauses and resumes reading from all of them with the input, and closes them
 * at stop.
 */
export class SocketInputServer implements InputInstance {
  private readonly connections = new Connections();
  private server: net.Server | null = null;

  /** `unixPerm`: the mode given to a Unix socket once it listens (null leaves the umask's). */
  constructor(
    private readonly address: ListenAddress,
    private readonly unixPerm: number | null,
    private readonly handleConnection: (socket: net.Socket) => void,
    private readonly context: Pick<InputContext<unknown>, 'instance' | 'telemetry'>,
  ) {}

  async start(): Promise<void> {
    const { address, unixPerm } = this;
    const { instance, telemetry } = this.context;
    const listening = net.createServer((socket) => {
      this.connections.add(socket);
      this.handleConnection(socket);
    });
    // A socket file left by an earlier run would make listen fail; Fluent Bit unlinks it too.
    if ('path' in address) fs.rmSync(address.path, { force: true });
    const port = await listenOn(listening, address, { code: 'WSBIT_INPUT_LISTEN', instance }, telemetry.logger);
    this.server = listening;
    if ('path' in address && unixPerm !== null) fs.chmodSync(address.path, unixPerm);
    telemetry.logger.info(`listening on ${'path' in address ? `unix://${address.path}` : hostPort(address.host, port)}`);
  }

  pause(): void {
    this.connections.pause();
  }

  resume(): void {
    this.connections.resume();
  }

  async stop(): Promise<void> {
    const closing = this.server;
    this.server = null;
    await closeServer(closing, this.connections);
  }

  listeningPort(): number | null {
    return boundPort(this.server);
  }
}
