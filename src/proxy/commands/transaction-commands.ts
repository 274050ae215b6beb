/**
 * MULTI, EXEC, DISCARD, WATCH and UNWATCH outside a transaction (inside one, the session's
 * Transaction takes them: modes/transaction.ts), and the commands the proxy answers itself
 * that a transaction runs after the node's EXEC.
 */
import type { RequestFrame } from '../../resp/frame.js';
import { encodeError, OK } from '../../resp/encode.js';
import { arityOk, lookupCommand } from '../../commands/command-table.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError } from '../request-checks.js';
import { DISCARD_WITHOUT_MULTI, EXEC_WITHOUT_MULTI, Transaction, TRANSACTION_COMMANDS, type AfterExecCommand, type TransactionScope } from '../modes/transaction.js';
import { configSetReply } from './config-commands.js';

/** Commands the proxy answers itself that a transaction runs right after the node's EXEC (see modes/transaction.ts). */
export const RUN_AFTER_EXEC: ReadonlyMap<string, (ctx: ProxyContext, s: ClientSession, f: RequestFrame) => Promise<Buffer>> = new Map([
  ['config|set', configSetReply],
]);

function transactionScope(ctx: ProxyContext, session: ClientSession): TransactionScope {
  return {
    router: ctx.router,
    afterExec(name): AfterExecCommand | undefined {
      const run = RUN_AFTER_EXEC.get(name);
      return run === undefined ? undefined : (frame) => run(ctx, session, frame);
    },
    afterChanges: (sink) => ctx.tracking.afterPushes(sink),
  };
}

/** MULTI and WATCH start a transaction; EXEC, DISCARD and UNWATCH without one answer as Redis does. */
function noTransaction(ctx: ProxyContext, session: ClientSession, frame: RequestFrame): void {
  const cmd = lookupCommand(frame)!;
  if (!arityOk(cmd, frame.argc)) {
    session.reply(encodeError(arityError(cmd.name)));
    return;
  }
  switch (cmd.name) {
    case 'multi':
    case 'watch': {
      const tx = new Transaction(transactionScope(ctx, session), session);
      session.tx = tx;
      if (cmd.name === 'multi') tx.multi();
      else tx.watch(frame, cmd);
      return;
    }
    case 'exec':
      session.reply(EXEC_WITHOUT_MULTI);
      return;
    case 'discard':
      session.reply(DISCARD_WITHOUT_MULTI);
      return;
    default:
      session.reply(OK); // UNWATCH: nothing is watched
  }
}

export const transactionCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>(
  [...TRANSACTION_COMMANDS].map((name) => [name, { handler: noTransaction }]),
);
