import { main } from './main.js';

/**
 * Resolves once everything written to `stream` so far has left the process. A pipe takes 64 KiB;
 * `process.exit()` before the rest drains cuts `wsbit -J | jq` short. A reader that went away
 * (EPIPE: `wsbit -J | head`) ends the wait too: there is nobody left to write for.
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => resolve();
    // Kept until exit: a broken pipe reports both through the callback and as an event.
    stream.on('error', done);
    // Write callbacks run in order, so this empty write's comes after every earlier write's.
    stream.write('', done);
  });
}

// The process entry point: bin/wsbit imports this file.
process.exitCode = await main(process.argv.slice(2));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// Listening sockets and timers are closed by then; exit explicitly in case a plugin left a handle.
process.exit();
