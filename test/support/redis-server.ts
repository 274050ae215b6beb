/** A throwaway redis-server for tests (shared with the command-table generator). */
import { createServer, type Server } from 'node:net';
export { freePort, startRedisServer, type RedisServerHandle } from '../../scripts/gen-commands.js';

/**
 * `count` distinct free ports on 127.0.0.1: all are held open at once while picked (picking
 * them one after the other may return a port twice, and two redis-servers configured for
 * one port leave one of them dead).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((srv) => {
      const addr = srv.address();
      return typeof addr === 'object' && addr !== null ? addr.port : 0;
    });
  } finally {
    await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  }
}
