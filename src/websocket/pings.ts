/**
 * Control frames of one client connection, apart from the frames themselves: our pings waiting for their
 * pongs, and the budget of control frames the server may send that we did not ask for.
 */
import { randomBytes } from '../base/entropy.js';
import { WsbitError } from '../base/errors.js';

/** Bytes of our own ping payloads: random per ping, so a server cannot answer pings it never read. */
const PING_PAYLOAD_BYTES = 8;

interface PendingPing {
  payload: Buffer;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (error: WsbitError) => void;
}

/** Our pings in the order they were sent, each settled by its pong, its timeout or the end of the connection. */
export class PendingPings {
  readonly #pings: PendingPing[] = [];

  /**
   * A new ping: its payload (for the frame) and a promise that resolves on its pong. When no pong comes
   * within `timeoutMs` the promise rejects with `timeoutError`, which is also passed to `onTimeout`.
   */
  add(timeoutMs: number, timeoutError: () => WsbitError, onTimeout: (error: WsbitError) => void): { payload: Buffer; confirmed: Promise<void> } {
    // Unpredictable, so only a server that read this ping (and so everything before it) can answer it.
    const payload = randomBytes(PING_PAYLOAD_BYTES);
    const confirmed = new Promise<void>((resolve, reject) => {
      const pending: PendingPing = {
        payload,
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.#pings.indexOf(pending);
          if (index >= 0) this.#pings.splice(index, 1);
          const error = timeoutError();
          reject(error);
          onTimeout(error);
        }, timeoutMs),
      };
      this.#pings.push(pending);
    });
    return { payload, confirmed };
  }

  /**
   * A pong answers the ping with the same payload. §5.5.3 lets a server answer only the latest of several
   * pings, and a pong for ping N proves everything before ping N was read too, so it settles every earlier
   * ping as well. Unknown pongs are unsolicited heartbeats (§5.5.3): they confirm nothing. False for those.
   */
  settle(pongPayload: Buffer): boolean {
    const index = this.#pings.findIndex((ping) => ping.payload.equals(pongPayload));
    if (index < 0) return false;
    for (const ping of this.#pings.splice(0, index + 1)) {
      clearTimeout(ping.timer);
      ping.resolve();
    }
    return true;
  }

  /** The connection ended: every ping still waiting is rejected with `error`. */
  rejectAll(error: WsbitError): void {
    for (const ping of this.#pings.splice(0)) {
      clearTimeout(ping.timer);
      ping.reject(error);
    }
  }
}

/**
 * Counts the control frames a server sends that we did not ask for (its pings, and pongs that answer none
 * of ours) in one-second windows: real servers ping every few seconds at most, a flood is hostile.
 */
export class ControlFrameBudget {
  #windowStartMs = 0;
  #framesInWindow = 0;

  /** `perSecond` 0 = no limit. */
  constructor(readonly perSecond: number) {}

  /** Counts one frame; true once this second's frames exceed the limit. */
  exceeded(): boolean {
    if (this.perSecond <= 0) return false;
    const nowMs = performance.now();
    if (nowMs - this.#windowStartMs >= 1000) {
      this.#windowStartMs = nowMs;
      this.#framesInWindow = 0;
    }
    this.#framesInWindow++;
    return this.#framesInWindow > this.perSecond;
  }
}
