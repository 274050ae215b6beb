/**
 * One client's CLIENT TRACKING state, as Redis 7.0 keeps it in its client flags
 * (tracking.c, networking.c clientCommand): the mode (default, BCAST with prefixes, OPTIN,
 * OPTOUT), NOLOOP, the redirect id and whether that redirect broke, and CLIENT CACHING's
 * one-command flag. The option parsing and its errors are Redis's, word for word; the
 * proxy-wide part (the key table, the nodes' invalidations) is the TrackingHub's.
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeInteger, encodeMap, encodeSet, type Protocol } from '../../resp/encode.js';
import { parseInteger } from '../request-checks.js';

export const SYNTAX_ERROR = encodeError('ERR syntax error');

/** What CLIENT TRACKING ON asked for, once its options are checked. */
export interface TrackingOptions {
  /** 0: no redirect (Redis's value for none). */
  readonly redirect: number;
  readonly bcast: boolean;
  readonly optin: boolean;
  readonly optout: boolean;
  readonly noloop: boolean;
  /** BCAST prefixes, as given (latin1 strings of their bytes); none: every key. */
  readonly prefixes: readonly string[];
}

export class ClientTracking {
  on = false;
  bcast = false;
  optin = false;
  optout = false;
  noloop = false;
  /** The redirect target's client id; 0: none. */
  redirect = 0;
  /** The redirect target went away (TRACKINGINFO broken_redirect, CLIENT LIST flag R). */
  brokenRedirect = false;
  /** CLIENT CACHING yes (OPTIN) or no (OPTOUT) was given for the next command. */
  caching = false;
  /** CLIENT CACHING's flag as it stood when the command being run began. */
  cachingThisCommand = false;
  /** BCAST prefixes (latin1 strings of their bytes), in the order Redis lists them (sorted, as its rax). */
  prefixes: string[] = [];

  /** Whether the read being sent now is remembered for this client (default mode, OPTIN/OPTOUT with CACHING). */
  get remembersRead(): boolean {
    if (!this.on || this.bcast) return false;
    if (this.optin) return this.cachingThisCommand;
    if (this.optout) return !this.cachingThisCommand;
    return true;
  }

  /**
   * A command begins: CACHING applies to it, and ends with it unless it is a CLIENT command
   * (Redis clears the flag after every command but CLIENT, outside MULTI).
   */
  beginCommand(isClientCommand: boolean): void {
    this.cachingThisCommand = this.caching;
    if (!isClientCommand) this.caching = false;
  }

  enable(opts: TrackingOptions): void {
    this.on = true;
    this.brokenRedirect = false;
    this.redirect = opts.redirect;
    this.bcast = opts.bcast;
    this.optin = opts.optin;
    this.optout = opts.optout;
    this.noloop = opts.noloop;
    if (opts.bcast) {
      const all = new Set(this.prefixes);
      for (const p of opts.prefixes.length === 0 ? [''] : opts.prefixes) all.add(p);
      this.prefixes = [...all].sort(compareBytes);
    }
  }

  disable(): void {
    this.on = this.bcast = this.optin = this.optout = this.noloop = this.brokenRedirect = this.caching = false;
    this.redirect = 0;
    this.prefixes = [];
  }

  /** Whether a BCAST client's prefixes cover `key`. */
  matches(key: string): boolean {
    for (const p of this.prefixes) if (key.startsWith(p)) return true;
    return false;
  }

  /** CLIENT TRACKINGINFO, in Redis's order and words. */
  info(protocol: Protocol): Buffer {
    const flags = [this.on ? 'on' : 'off'];
    if (this.bcast) flags.push('bcast');
    if (this.optin) flags.push('optin');
    if (this.optin && this.caching) flags.push('caching-yes');
    if (this.optout) flags.push('optout');
    if (this.optout && this.caching) flags.push('caching-no');
    if (this.noloop) flags.push('noloop');
    if (this.brokenRedirect) flags.push('broken_redirect');
    return encodeMap(
      [
        encodeBulk('flags'),
        encodeSet(flags.map((f) => encodeBulk(f)), protocol),
        encodeBulk('redirect'),
        encodeInteger(this.on ? this.redirect : -1),
        encodeBulk('prefixes'),
        encodeArray(this.prefixes.map((p) => encodeBulk(Buffer.from(p, 'latin1')))),
      ],
      protocol,
    );
  }

  /** CLIENT LIST's tracking flags: t, R, B, in Redis's order. */
  get listFlags(): string {
    return (this.on ? 't' : '') + (this.brokenRedirect ? 'R' : '') + (this.bcast ? 'B' : '');
  }
}

/** Redis's rax order: bytes compared as unsigned, a prefix first. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Prefixes overlap when one starts with the other (Redis's stringCheckPrefix). */
function overlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/**
 * CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]:
 * 'off', the options of 'on', or the error Redis gives, checked in Redis's order.
 * `clientExists` says whether a redirect target is connected now.
 */
export function parseTracking(f: RequestFrame, state: ClientTracking | null, clientExists: (id: number) => boolean): TrackingOptions | 'off' | Buffer {
  let redirect = 0;
  let bcast = false;
  let optin = false;
  let optout = false;
  let noloop = false;
  const prefixes: string[] = [];
  for (let j = 3; j < f.argc; j++) {
    const more = f.argc - 1 - j;
    const opt = argString(f, j).toLowerCase();
    if (opt === 'redirect' && more > 0) {
      j++;
      if (redirect !== 0) return encodeError('ERR A client can only redirect to a single other client');
      const id = parseInteger(argString(f, j));
      if (id === undefined) return encodeError('ERR value is not an integer or out of range');
      if (!clientExists(id)) return encodeError('ERR The client ID you want redirect to does not exist');
      redirect = id;
    } else if (opt === 'bcast') bcast = true;
    else if (opt === 'optin') optin = true;
    else if (opt === 'optout') optout = true;
    else if (opt === 'noloop') noloop = true;
    else if (opt === 'prefix' && more > 0) {
      j++;
      prefixes.push(argBuffer(f, j).toString('latin1'));
    } else return SYNTAX_ERROR;
  }
  const onOff = argString(f, 2).toLowerCase();
  if (onOff === 'off') return 'off';
  if (onOff !== 'on') return SYNTAX_ERROR;
  if (!bcast && prefixes.length > 0) return encodeError('ERR PREFIX option requires BCAST mode to be enabled');
  if (state?.on === true && state.bcast !== bcast) {
    return encodeError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
  }
  if (bcast && (optin || optout)) return encodeError('ERR OPTIN and OPTOUT are not compatible with BCAST');
  if (optin && optout) return encodeError("ERR You can't specify both OPTIN mode and OPTOUT mode");
  if ((optin && state?.optout === true) || (optout && state?.optin === true)) {
    return encodeError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
  }
  if (bcast) {
    const collision = prefixCollision(prefixes, state?.prefixes ?? []);
    if (collision !== null) return collision;
  }
  return { redirect, bcast, optin, optout, noloop, prefixes };
}

/** Redis's checkPrefixCollisionsOrReply: a new prefix overlapping an existing one, or another new one. */
function prefixCollision(prefixes: readonly string[], existing: readonly string[]): Buffer | null {
  for (let i = 0; i < prefixes.length; i++) {
    for (const old of existing) {
      if (overlap(old, prefixes[i])) {
        return encodeError(`ERR Prefix '${prefixes[i]}' overlaps with an existing prefix '${old}'. Prefixes for a single client must not overlap.`);
      }
    }
    for (let j = i + 1; j < prefixes.length; j++) {
      if (overlap(prefixes[i], prefixes[j])) {
        return encodeError(`ERR Prefix '${prefixes[i]}' overlaps with another provided prefix '${prefixes[j]}'. Prefixes for a single client must not overlap.`);
      }
    }
  }
  return null;
}

/** CLIENT CACHING YES|NO: the error Redis gives, or null once the flag is set. */
export function setCaching(state: ClientTracking | null, value: string): Buffer | null {
  if (state === null || !state.on) {
    return encodeError('ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled');
  }
  const v = value.toLowerCase();
  if (v === 'yes') {
    if (!state.optin) return encodeError('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.');
  } else if (v === 'no') {
    if (!state.optout) return encodeError('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.');
  } else {
    return SYNTAX_ERROR;
  }
  state.caching = true;
  return null;
}
