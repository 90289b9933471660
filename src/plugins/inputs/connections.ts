import type net from 'node:net';

/**
 * The open connections of a socket input (tcp, forward). Pausing the input stops reading from all of
 * them, and from the ones that connect while paused, so senders feel TCP backpressure; nothing is refused.
 */
export class Connections implements Iterable<net.Socket> {
  private readonly sockets = new Set<net.Socket>();
  #paused = false;

  /** Tracks `socket` until it closes. */
  add(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.#paused) socket.pause();
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const socket of this.sockets) socket.resume();
  }

  [Symbol.iterator](): Iterator<net.Socket> {
    return this.sockets.values();
  }
}
