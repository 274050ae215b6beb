/**
 * One worker process's counters, as the workers of one host share them (--workers N): each
 * sends its own every second through the supervisor, and INFO sums them where a user
 * expects one number (Stats, connected_clients) and lists them one line per worker.
 */
export interface WorkerStats {
  index: number;
  pid: number;
  role: 'leader' | 'follower';
  connectedClients: number;
  totalConnections: number;
  totalCommands: number;
  opsPerSec: number;
  netInputBytes: number;
  netOutputBytes: number;
  rejectedConnections: number;
  /** When it was taken (ms since the epoch). */
  at: number;
}
