/**
 * Scripts and functions everywhere: a client of one big Redis loads a script or a library
 * once and runs it on any key, so
 * - SCRIPT LOAD/FLUSH go to every master and every replica (a replica promoted later has
 *   them), and the proxy remembers each script it sees loaded or run (ScriptRegistry);
 * - FUNCTION LOAD/DELETE/FLUSH/RESTORE go to every master; replicas get them from their
 *   master (Redis replicates functions; a replica refuses FUNCTION LOAD with READONLY);
 * - EVALSHA that meets NOSCRIPT on a node for a script the proxy knows is sent again as
 *   EVAL with its body (which also caches it there): robust against any gap — a node that
 *   was down during SCRIPT LOAD, a script only ever EVAL'd on another master.
 * Nodes that join later are prepared with both (cluster/operations/node-preparation.ts).
 *
 * A node that cannot be reached is left out of a change (it is prepared when it is back);
 * a node that answers with an error makes that error the answer.
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { arrayElements } from '../../resp/reply-value.js';
import { encodeArray, encodeCommand, encodeError, encodeInteger } from '../../resp/encode.js';
import { commandByName, type CommandInfo } from '../../commands/command-table.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientSession } from '../session.js';
import { Gather } from '../datapath/reply-slot.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { unknownSubcommand } from '../request-checks.js';
import { integerOf, UNEXPECTED_REPLY } from '../datapath/reply-merge.js';
import { mergeReachable, toEveryMaster, toEveryNode } from './every-node.js';
import { toReachableMaster } from './server-commands.js';

function unknownSubcommandOf(container: string, f: RequestFrame): Buffer {
  return encodeError(unknownSubcommand(container, argString(f, 1)));
}

// --- SCRIPT ------------------------------------------------------------------------------

function script(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'load':
      return scriptLoad(ctx, s, f);
    case 'flush':
      return toEveryNode(ctx, s, f.raw, frameArgs(f), (parts) => {
        const reply = mergeReachable()(parts);
        if (reply[0] === 0x2b /* '+' */) ctx.nodes.scripts.clear();
        return reply;
      });
    case 'exists':
      return scriptExists(ctx, s, f);
    case 'kill':
      return killScripts(ctx, s, f);
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    case 'debug':
      return s.reply(encodeError('ERR SCRIPT DEBUG is not supported by interface-hash-server: the Lua debugger needs a connection of its own to one node'));
    default:
      return s.reply(unknownSubcommandOf('SCRIPT', f));
  }
}

function scriptLoad(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const body = argBuffer(f, 2);
  toEveryNode(ctx, s, f.raw, frameArgs(f), (parts) => {
    const reply = mergeReachable()(parts);
    if (reply[0] === 0x24 /* '$' */) ctx.nodes.scripts.remember(body);
    return reply;
  });
}

/**
 * A script exists if the proxy knows it (an EVALSHA of it works: see NoScriptRetry) or
 * every master that answers has it.
 */
function scriptExists(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const known: boolean[] = [];
  for (let i = 2; i < f.argc; i++) known.push(ctx.nodes.scripts.has(argString(f, i)));
  toEveryMaster(
    ctx,
    s,
    f.raw,
    mergeReachable((parts) => {
      const lists = parts.map(arrayElements);
      if (lists.some((l) => l === null || l.length !== known.length)) return UNEXPECTED_REPLY;
      return encodeArray(known.map((k, i) => encodeInteger(k || lists.every((l) => integerOf(l![i]) === 1) ? 1 : 0)));
    }),
  );
}

/** The arguments of a request, as views (for control connections). */
function frameArgs(f: RequestFrame): Buffer[] {
  const args: Buffer[] = [];
  for (let i = 0; i < f.argc; i++) args.push(argBuffer(f, i));
  return args;
}

/**
 * SCRIPT KILL / FUNCTION KILL: to every master, on its control connection. Redis does not
 * read the connection that runs the script (nor anything pipelined behind it there), but
 * serves these on any other while busy. OK if a master killed something; otherwise the
 * first error that says more than NOTBUSY (UNKILLABLE, a master down), else NOTBUSY.
 */
function killScripts(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const masters = ctx.router.servingMasters;
  const gather = new Gather(masters.length, mergeKill, s.openSlot(), ctx.runtime.faults);
  for (let i = 0; i < masters.length; i++) ctx.router.sendToControl(masters[i], f.raw, gather.part(i));
}

const NOTBUSY = Buffer.from('-NOTBUSY ', 'latin1');

function mergeKill(parts: Buffer[]): Buffer {
  let notBusy: Buffer | undefined;
  let other: Buffer | undefined;
  for (const p of parts) {
    if (p[0] === 0x2b /* '+' */) return p;
    if (p.length >= NOTBUSY.length && p.compare(NOTBUSY, 0, NOTBUSY.length, 0, NOTBUSY.length) === 0) notBusy ??= p;
    else other ??= p;
  }
  return other ?? notBusy ?? UNEXPECTED_REPLY;
}

// --- FUNCTION ----------------------------------------------------------------------------

function func(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'load':
    case 'delete':
    case 'flush':
    case 'restore':
      // Every master, serving or not; a master that is down gets the libraries when it is back.
      return toEveryMaster(ctx, s, f.raw, mergeReachable());
    case 'kill':
      return killScripts(ctx, s, f);
    case 'list':
    case 'dump':
    case 'stats':
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    default:
      return s.reply(unknownSubcommandOf('FUNCTION', f));
  }
}

// --- EVAL / EVALSHA ----------------------------------------------------------------------

const EVAL = commandByName('eval')!;
const EVAL_RO = commandByName('eval_ro')!;
const EVALSHA = commandByName('evalsha')!;
const EVALSHA_RO = commandByName('evalsha_ro')!;

/** EVAL and EVAL_RO: remember the script (a node that never ran it may get its EVALSHA), then route as usual. */
function evalFor(cmd: CommandInfo) {
  return (ctx: ProxyContext, s: ClientSession, f: RequestFrame): void => {
    ctx.nodes.scripts.remember(argBuffer(f, 1));
    forward(ctx, s, f, cmd);
  };
}

/** EVALSHA and EVALSHA_RO: routed as usual; a NOSCRIPT for a script the proxy knows is retried once as EVAL. */
function evalshaFor(cmd: CommandInfo, evalName: string) {
  return (ctx: ProxyContext, s: ClientSession, f: RequestFrame): void => {
    const body = ctx.nodes.scripts.body(argString(f, 1));
    if (body === undefined) return forward(ctx, s, f, cmd);
    const numkeys = Number(argString(f, 2));
    // forward answers CROSSSLOT itself; the retry goes where the first key (or none) routes.
    const slot = Number.isInteger(numkeys) && numkeys > 0 && f.argc > 3 ? ctx.router.slotOfArg(f, 3) : -1;
    // The retry's reply is the write's too (read your writes: remembered when it comes).
    forward(ctx, s, f, cmd, new NoScriptRetry(ctx, s, f, evalName, body, slot, ctx.router.trackWrite(s, slot, s.openSlot())));
  };
}

/** Route by keys, through the tracking hub while some client tracks (a script's writes wait for its barrier, EVAL_RO's keys are remembered). */
function forward(ctx: ProxyContext, s: ClientSession, f: RequestFrame, cmd: CommandInfo, sink?: ReplySink): void {
  if (ctx.tracking.active) ctx.tracking.forward(s, f, cmd, sink);
  else ctx.router.forward(s, f, cmd, sink);
}

const NOSCRIPT = Buffer.from('-NOSCRIPT ', 'latin1');

/**
 * Passes the reply on, unless it is NOSCRIPT: then the same call goes once more as EVAL
 * with the script's body, to the master of the same slot. (Requests the client pipelined
 * behind it may run on the nodes before the retry; their replies keep their order.)
 */
class NoScriptRetry implements ReplySink {
  constructor(
    private readonly ctx: ProxyContext,
    private readonly session: ClientSession,
    /** The EVALSHA (frames are never reused: its views stay valid). */
    private readonly frame: RequestFrame,
    private readonly evalName: string,
    private readonly body: Buffer,
    private readonly slot: number,
    private readonly target: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    if (reply.length < NOSCRIPT.length || reply.compare(NOSCRIPT, 0, NOSCRIPT.length, 0, NOSCRIPT.length) !== 0) {
      this.target.deliver(reply);
      return;
    }
    const args: Buffer[] = [Buffer.from(this.evalName), this.body];
    for (let i = 2; i < this.frame.argc; i++) args.push(argBuffer(this.frame, i));
    const asEval = encodeCommand(args);
    const router = this.ctx.router;
    if (this.slot === -1) router.sendToMaster(this.session, router.anyMaster(this.session), asEval, this.target);
    else router.sendToSlot(this.session, this.slot, asEval, this.target);
  }
}

export const scriptCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['script', { handler: script }],
  ['function', { handler: func }],
  ['eval', { handler: evalFor(EVAL) }],
  ['eval_ro', { handler: evalFor(EVAL_RO) }],
  ['evalsha', { handler: evalshaFor(EVALSHA, 'EVAL') }],
  ['evalsha_ro', { handler: evalshaFor(EVALSHA_RO, 'EVAL_RO') }],
]);
