import type { ListenerHandle } from '../../pipeline/contracts.js';

/**
 * The listener a listening input was given by the previous pipeline (hot reload), until its start()
 * takes it. One that was never started (the new pipeline failed to start) passes on as it came.
 */
export class Adoption<Handle extends ListenerHandle> {
  private handle: Handle | null = null;

  constructor(private readonly kind: abstract new (...args: never[]) => Handle) {}

  /** False when `handle` comes from another kind of input. */
  offer(handle: ListenerHandle): boolean {
    if (!(handle instanceof this.kind)) return false;
    this.handle = handle;
    return true;
  }

  take(): Handle | null {
    const handle = this.handle;
    this.handle = null;
    return handle;
  }
}
