/**
 * Loading every module takes a noticeable time on a busy machine, and a SIGTERM that arrives
 * then would kill the process by signal instead of stopping it cleanly. bin/wsbit calls
 * catchStartupSignals() before it loads the rest, so such a signal is remembered and honoured
 * once the service runs.
 */
const caught: NodeJS.Signals[] = [];
const remember = (signal: NodeJS.Signals): void => {
  caught.push(signal);
};

export function catchStartupSignals(): void {
  process.on('SIGTERM', remember);
  process.on('SIGINT', remember);
}

/** Stops remembering and returns the first stop signal caught so far, if any. */
export function takeStartupSignal(): NodeJS.Signals | undefined {
  process.off('SIGTERM', remember);
  process.off('SIGINT', remember);
  return caught.shift();
}
