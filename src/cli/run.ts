import { main } from './main.js';

// The process entry point: bin/wsbit imports this file.
process.exitCode = await main(process.argv.slice(2));
// Listening sockets and timers are closed by then; exit explicitly in case a plugin left a handle.
process.exit();
