/**
 * Dispatcher: what happens to each request.
 *
 *   admin verb (ADD, LIST, ...) → the table main.ts gives (src/admin/admin-verbs.ts)
 *   unknown command            → Redis's "unknown command" error
 *   not authenticated          → NOAUTH (except AUTH, HELLO, QUIT, RESET)
 *   CLIENT PAUSE covers it     → held in its session until the pause ends
 *   answered by the proxy      → its handler (connection, dataset-wide and CLUSTER commands),
 *                                after Redis's arity check of the command or subcommand
 *   refused                    → an error naming the command and why
 *   has keys                   → the Router (slot → master)
 *   keyless `... HELP`         → any master
 *   anything else keyless      → refused: there is nothing to route it by
 *
 * A client in a transaction (MULTI, WATCH) has its requests decided by it first:
 * src/proxy/modes/transaction.ts.
 */
import { argBuffer, type RequestFrame } from '../resp/frame.js';
import { encodeError } from '../resp/encode.js';
import { arityOk, CMD_NO_MULTI, commandByName, lookupCommand, type CommandInfo } from '../commands/command-table.js';
import type { ClientSession } from './session.js';
import type { HandlerEntry, ProxyContext } from './context.js';
import { arityError, unknownSubcommand } from './request-checks.js';
import { connectionCommands } from './commands/connection-commands.js';
import { clientCommands } from './commands/client-commands.js';
import { nodeCommands } from './commands/node-commands.js';
import { serverCommands } from './commands/server-commands.js';
import { clusterCommands } from './commands/cluster-commands.js';
import { pubsubCommands, subscribedModeReply } from './commands/pubsub-commands.js';
import { scriptCommands } from './commands/script-commands.js';
import { configCommands } from './commands/config-commands.js';
import type { ClientPause } from './client-pause.js';
import type { AclDenial, AclUser } from '../auth/acl-user.js';
import { clientInfoLine } from './commands/client-commands.js';
import type { AdminVerbHandler, AdminVerbTable } from '../commands/admin-verb-table.js';
import { CLUSTER_MODE_ERRORS, UNSUPPORTED, unsupportedMessage } from './commands/unsupported.js';
import { notInTransaction, NOT_ALLOWED_IN_MULTI, QUEUED_ON_NODE, type QueuingCheck } from './modes/transaction.js';
import { RUN_AFTER_EXEC, transactionCommands } from './commands/transaction-commands.js';

const NOAUTH = encodeError('NOAUTH Authentication required.');
/** Redis's rejectCommand: a refused EXEC discards the transaction, and says so. */
const EXECABORT_NOAUTH = encodeError('EXECABORT Transaction discarded because of: NOAUTH Authentication required.');

/** Redis 7.0's NOPERM replies (server.c processCommand). */
function noPermMessage(denial: AclDenial): string {
  if (denial.reason === 'command') return `NOPERM this user has no permissions to run the '${denial.object}' command`;
  if (denial.reason === 'key') return 'NOPERM this user has no permissions to access one of the keys used as arguments';
  return 'NOPERM this user has no permissions to access one of the channels used as arguments';
}

/** Redis's unknown-command error, quoting the first arguments as Redis 7 does. */
export function unknownCommandError(frame: RequestFrame): Buffer {
  const name = argBuffer(frame, 0).toString('latin1').slice(0, 128);
  let args = '';
  for (let i = 1; i < frame.argc && args.length < 128; i++) args += `'${argBuffer(frame, i).toString('latin1').slice(0, 128)}' `;
  return encodeError(`ERR unknown command '${name}', with args beginning with: ${args}`);
}

function unknownSubcommandError(cmd: CommandInfo, frame: RequestFrame): Buffer {
  if (frame.argc < 2) return encodeError(`ERR wrong number of arguments for '${cmd.name}' command`);
  return encodeError(unknownSubcommand(cmd.name, argBuffer(frame, 1).toString('latin1')));
}

export class Dispatcher implements QueuingCheck {
  /**
   * Handlers and refusals by top-level command (the container for a subcommand), indexed by
   * CommandInfo.index: looked up for every request, an array slot rather than a Map lookup.
   */
  private readonly handlers: (HandlerEntry | undefined)[] = [];
  private readonly refusals: (Buffer | undefined)[] = [];
  /** Admin verbs that are not Redis commands (ADD, LIST, ...), by the request's first word. */
  private readonly adminVerb: (frame: RequestFrame) => AdminVerbHandler | undefined;
  /** The registry's, kept here: consulted for every request. */
  private readonly pause: ClientPause;

  /** @param adminVerbs absent: the admin verbs are unknown commands */
  constructor(
    private readonly ctx: ProxyContext,
    adminVerbs: AdminVerbTable | undefined,
  ) {
    for (const table of [connectionCommands, clientCommands, serverCommands, nodeCommands, scriptCommands, configCommands, clusterCommands, pubsubCommands, transactionCommands]) {
      for (const [name, entry] of table) this.handlers[this.known(name).index] = entry;
    }
    for (const [name, handler] of adminVerbs?.overrides ?? []) this.handlers[this.known(name).index] = { handler: (_ctx, session, frame) => handler(session, frame) };
    this.pause = ctx.clients.pause;
    this.adminVerb = adminVerbs === undefined ? () => undefined : (frame) => adminVerbs.verb(frame);
    for (const [name, reason] of UNSUPPORTED) {
      const message = CLUSTER_MODE_ERRORS.get(name) ?? unsupportedMessage(name, reason);
      this.refusals[this.known(name).index] = encodeError(message);
    }
  }

  private known(name: string): CommandInfo {
    const cmd = commandByName(name);
    if (cmd === undefined) throw new Error(`dispatcher: '${name}' is not in the command table`);
    return cmd;
  }

  dispatch(session: ClientSession, frame: RequestFrame): void {
    const cmd = lookupCommand(frame);
    const stats = this.ctx.commandStats;
    const user = session.info.user;
    if (user !== null) {
      const refusal = this.userRefusal(session, user, cmd, frame);
      if (refusal !== null) {
        stats.rejectedCall(cmd, refusal.subarray(1, refusal.indexOf(0x20)).toString('latin1'));
        if (session.tx !== null) session.tx.refused(refusal);
        else session.reply(refusal);
        return;
      }
    }
    if (session.tx !== null && session.tx.takes(cmd)) {
      if (cmd !== undefined) this.called(session, cmd);
      session.tx.handle(frame, cmd, this);
      return;
    }
    if (cmd === undefined) {
      const admin = session.authenticated ? this.adminVerb(frame) : undefined;
      if (admin !== undefined) return admin(session, frame);
      stats.rejectedCall(undefined, session.authenticated ? 'ERR' : 'NOAUTH');
      session.reply(session.authenticated ? unknownCommandError(frame) : NOAUTH);
      return;
    }
    const top = cmd.container ?? cmd;
    const entry = this.handlers[top.index];
    const tracking = session.info.tracking;
    if (tracking !== null) tracking.beginCommand(top.name === 'client');
    if (!session.authenticated && entry?.noAuth !== true) {
      stats.rejectedCall(cmd, 'NOAUTH');
      session.reply(cmd.name === 'exec' ? EXECABORT_NOAUTH : NOAUTH);
      return;
    }
    if (session.pubsub !== null) {
      // A client that subscribed (RESP2) may run only a few commands, as in Redis.
      const restricted = subscribedModeReply(session, frame, cmd);
      if (restricted !== null) {
        session.reply(restricted);
        return;
      }
    }
    if (this.pause.holds(session, cmd, frame)) return;
    session.info.lastCommand = cmd;
    if (entry !== undefined) {
      // Redis checks the arity of every command (`client|kill`...) before running it; so do
      // the proxy's handlers, here once for all of them.
      if (!arityOk(cmd, frame.argc)) {
        stats.rejectedCall(cmd, 'ERR');
        session.reply(encodeError(arityError(cmd.name)));
        return;
      }
      this.called(session, cmd);
      entry.handler(this.ctx, session, frame);
      return;
    }
    const refusal = this.refusals[top.index];
    // A refused container may still have keyed subcommands that route fine (MEMORY USAGE).
    if (refusal !== undefined && !(cmd !== top && cmd.hasKeys)) {
      stats.rejectedCall(cmd, 'ERR');
      session.reply(refusal);
      return;
    }
    if (cmd.subcommands !== null) {
      // A container (OBJECT, XINFO, ...) whose subcommand is missing or unknown.
      stats.rejectedCall(cmd, 'ERR');
      session.reply(unknownSubcommandError(cmd, frame));
      return;
    }
    this.called(session, cmd);
    if (cmd.hasKeys) {
      // While some client tracks keys, reads and writes are seen on their way (tracking-hub.ts).
      if (this.ctx.tracking.active) this.ctx.tracking.forward(session, frame, cmd);
      else this.ctx.router.forward(session, frame, cmd);
      return;
    }
    if (cmd.name.endsWith('|help')) {
      this.ctx.router.sendToMaster(session, this.ctx.router.anyMaster(session), frame.raw, session.openSlot());
      return;
    }
    stats.rejectedCall(cmd, 'ERR', true);
    session.calledCommand = undefined; // rejected after all: not a call, so not timed
    session.reply(encodeError(unsupportedMessage(cmd.name.replace('|', ' '), 'it has no key to route it by')));
  }

  /**
   * What a --users-file user may not run, checked before anything else runs or routes it:
   * its proxy-max-ops, then its ACL rules (a command whose arity or subcommand is wrong
   * gets that error later instead, as Redis checks those first). The denial goes to ACL LOG.
   */
  private userRefusal(session: ClientSession, user: AclUser, cmd: CommandInfo | undefined, frame: RequestFrame): Buffer | null {
    const users = this.ctx.settings.users;
    if (users === null) return null;
    if (!users.admitRequest(user)) {
      return encodeError(`ERR max requests per second reached for user '${user.name}' (proxy-max-ops ${user.def.limits.maxOpsPerSecond})`);
    }
    if (cmd === undefined || cmd.subcommands !== null || !arityOk(cmd, frame.argc)) return null;
    const denial = user.check(cmd, frame);
    if (denial === null) return null;
    const context = session.tx?.inMulti === true ? 'multi' : 'toplevel';
    users.log.add(denial.reason, context, denial.object, user.name, clientInfoLine(this.ctx, session));
    return encodeError(noPermMessage(denial));
  }

  /** Count a call of `cmd`, and have the session time it from request to reply. */
  private called(session: ClientSession, cmd: CommandInfo): void {
    this.ctx.commandStats.called(cmd);
    session.calledCommand = cmd;
  }

  /**
   * Inside MULTI: the error a request gets instead of +QUEUED, by Redis's checks at queuing
   * time in Redis's order; or null when it joins the transaction. What the proxy answers
   * itself is refused: answered here, it would not be part of the transaction.
   */
  queuingError(frame: RequestFrame, cmd: CommandInfo | undefined): Buffer | null {
    if (cmd === undefined) return this.adminVerb(frame) === undefined ? unknownCommandError(frame) : notInTransaction(argBuffer(frame, 0).toString('latin1'));
    if (cmd.subcommands !== null) return unknownSubcommandError(cmd, frame);
    if (!arityOk(cmd, frame.argc)) return encodeError(arityError(cmd.name));
    if ((cmd.flags & CMD_NO_MULTI) !== 0) return NOT_ALLOWED_IN_MULTI;
    const top = cmd.container ?? cmd;
    if (QUEUED_ON_NODE.has(top.name) || RUN_AFTER_EXEC.has(cmd.name)) return null;
    const answered = this.handlers[top.index] !== undefined || (this.refusals[top.index] !== undefined && !(cmd !== top && cmd.hasKeys));
    if (answered || !(cmd.hasKeys || cmd.name.endsWith('|help'))) return notInTransaction(cmd.name);
    return null;
  }
}
