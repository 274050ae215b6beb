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
import type { ControlClients, NodeAddress } from '../nodes/control-client.js';
import { sleep } from '../nodes/wait.js';
import { SCRIPT_KILL, sendKill, type KillCommand } from '../commands/script-kill.js';
import type { NodeHealth } from '../status/node-status.js';

export interface ScriptKillerOptions {
  /** Connections to the nodes, with their password. */
  clients: ControlClients;
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
    let kill = SCRIPT_KILL;
    let switched = false;
    while (this.stillBusy(node.id)) {
      const answer = await sendKill((k) => this.sendOnNewConnection(node, k), kill);
      switch (answer.outcome) {
        case 'killed':
          this.o.log.warn({ node: node.id, command: kill.name }, 'busy script killed by the proxy');
          this.o.onEnded(node.id);
          return;
        case 'not-busy':
          this.o.onEnded(node.id); // it ended meanwhile
          return;
        case 'unkillable':
          this.o.log.warn({ node: node.id, command: kill.name }, 'busy script already wrote and cannot be killed (UNKILLABLE): failing the node over');
          this.o.onUnkillable(node.id);
          return;
        case 'other-kind':
          if (!switched && answer.named !== undefined) {
            kill = answer.named;
            switched = true;
            continue;
          }
      }
      this.o.log.warn({ node: node.id, command: kill.name, answer: answer.said }, 'could not kill the busy script; trying again');
      switched = false;
      await sleep(this.o.retryMs);
    }
  }

  /** The kill on a new connection: 'OK' or the error's text (Redis's or the connection's). */
  private async sendOnNewConnection(node: BusyNode, kill: KillCommand): Promise<string> {
    try {
      return String(await this.o.clients.with(node, (c) => c.call(...kill.args), this.o.commandTimeoutMs));
    } catch (err) {
      return (err as Error).message;
    }
  }
}
