/** A throwaway redis-server for tests (shared with the command-table generator). */
export { freePort, startRedisServer, type RedisServerHandle } from '../../scripts/gen-commands.js';
