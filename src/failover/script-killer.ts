/**
 * ScriptKiller: a node that answers BUSY runs a script or function past its
 * busy-reply-threshold. Left alone it would answer BUSY for ever (the nodes never fail
 * themselves over: cluster-replica-no-failover), so at its first BUSY — the node answers BUSY
 * only once busy-reply-threshold has passed, which is the script's grace — the proxy sends
 * SCRIPT KILL, or FUNCTION KILL, which Redis names in its BUSY answer when a function runs, on
 * a connection of its own. A script that already wrote cannot be killed (UNKILLABLE): its
 * writes reach replicas only when it ends, so the failover side fails the node over to a
 * replica that has none of them. Anything else (no answer, a refused connection) is tried
 * again after a pause while the node stays busy-script; --busy-timeout bounds it.
 */
import type { Logger } from '../log.js';
import { withControlClient, type NodeAddress } from '../nodes/control-client.js';
import { sleep } from '../nodes/wait.js';
import type { NodeHealth } from '../status/node-status.js';

export interface ScriptKillerOptions {
  password: string;
  log: Logger;
  /** Pause before a KILL that did not work (no answer, refused) is tried again. */
  retryMs: number;
  /** Bound on each KILL (connect + command). */
  commandTimeoutMs: number;
  stateOf: (id: string) => NodeHealth | undefined;
  /** The script wrote (UNKILLABLE): the node must be failed over. */
  onUnkillable: (id: string) => void;
  /** The script was killed (or ended meanwhile): the node serves again. */
  onEnded: (id: string) => void;
}

export interface BusyNode extends NodeAddress {
  id: string;
}

type KillCommand = 'SCRIPT' | 'FUNCTION';

export class ScriptKiller {
  private readonly active = new Set<string>();
  private closed = false;

  constructor(private readonly o: ScriptKillerOptions) {}

  /** The node answers BUSY: kill its script now. */
  watch(node: BusyNode): void {
    if (this.active.has(node.id) || this.closed) return;
    this.active.add(node.id);
    void this.run({ id: node.id, host: node.host, port: node.port }).finally(() => this.active.delete(node.id));
  }

  close(): void {
    this.closed = true;
  }

  private stillBusy(id: string): boolean {
    return !this.closed && this.o.stateOf(id) === 'busy-script';
  }

  private async run(node: BusyNode): Promise<void> {
    let command: KillCommand = 'SCRIPT';
    let switched = false;
    while (this.stillBusy(node.id)) {
      const answer = await this.kill(node, command);
      if (answer === 'OK') {
        this.o.log.warn({ node: node.id, command: `${command} KILL` }, 'busy script killed by the proxy');
        this.o.onEnded(node.id);
        return;
      }
      if (answer.startsWith('NOTBUSY')) {
        this.o.onEnded(node.id); // it ended meanwhile
        return;
      }
      if (answer.startsWith('UNKILLABLE')) {
        this.o.log.warn({ node: node.id, command: `${command} KILL` }, 'busy script already wrote and cannot be killed (UNKILLABLE): failing the node over');
        this.o.onUnkillable(node.id);
        return;
      }
      // "BUSY ... You can only call FUNCTION KILL ...": the other kind runs.
      const named: KillCommand | undefined = /\bFUNCTION KILL\b/.test(answer) ? 'FUNCTION' : /\bSCRIPT KILL\b/.test(answer) ? 'SCRIPT' : undefined;
      if (answer.startsWith('BUSY') && named !== undefined && named !== command && !switched) {
        command = named;
        switched = true;
        continue;
      }
      this.o.log.warn({ node: node.id, command: `${command} KILL`, answer }, 'could not kill the busy script; trying again');
      switched = false;
      await sleep(this.o.retryMs);
    }
  }

  /** `<command> KILL` on a new connection: 'OK' or the error's text (Redis's or the connection's). */
  private async kill(node: BusyNode, command: KillCommand): Promise<string> {
    try {
      return String(await withControlClient(node, this.o.password, this.o.commandTimeoutMs, (c) => c.call(command, 'KILL')));
    } catch (err) {
      return (err as Error).message;
    }
  }
}
