import type net from 'node:net';

/**
 * The open connections of a socket input (tcp, forward). Pausing the input stops reading from all of
 * them, and from the ones that connect while paused, so senders feel TCP backpressure; nothing is refused.
 */
export class Connections implements Iterable<net.Socket> {
  /** Each socket with the listener that forgets it when it closes. */
  private readonly sockets = new Map<net.Socket, () => void>();
  #paused = false;

  /** Tracks `socket` until it closes. */
  add(socket: net.Socket): void {
    const forget = (): void => {
      this.sockets.delete(socket);
    };
    this.sockets.set(socket, forget);
    socket.once('close', forget);
    if (this.#paused) socket.pause();
  }

  /**
   * Stops tracking every socket and returns them (hot reload: they pass to the next pipeline). Their
   * close listeners go too, so that a connection that outlives many reloads does not collect them.
   */
  release(): net.Socket[] {
    const released = [...this.sockets.keys()];
    for (const [socket, forget] of this.sockets) socket.off('close', forget);
    this.sockets.clear();
    return released;
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
    for (const socket of this.sockets.keys()) socket.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const socket of this.sockets.keys()) socket.resume();
  }

  [Symbol.iterator](): Iterator<net.Socket> {
    return this.sockets.keys();
  }
}
