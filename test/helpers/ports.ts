import { createServer, type AddressInfo, type Server } from 'node:net';

/**
 * `count` loopback TCP ports that were free a moment ago, all different (they are held together while
 * chosen): for processes that take their port from a config or must come back on the same port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
