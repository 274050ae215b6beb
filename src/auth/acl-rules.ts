/**
 * The users file: one `user <name> <rule> ...` line per user, in Redis's ACL rule syntax
 * (the rules a proxy can enforce), plus the proxy's own limits. Blank lines and lines
 * starting with `#` are skipped.
 *
 *   on | off                      enabled or not (a new user is off)
 *   >pass  <pass  #sha256  !sha256  nopass  resetpass
 *   ~pattern  %R~pattern  %W~pattern  %RW~pattern  allkeys (= ~*)  resetkeys
 *   &pattern  allchannels (= &*)  resetchannels
 *   +command  -command  +command|sub  -command|sub  +@category  -@category
 *   allcommands (= +@all)  nocommands (= -@all)  reset
 *   proxy-maxclients=N  proxy-max-ops=N    the proxy's limits (not Redis rules: no Redis
 *                                          rule starts with a letter and holds '=')
 */
import { ACL_CATEGORIES, ACL_CATEGORY_NAMES } from './acl-categories.js';
import { commandByName, type CommandInfo } from '../commands/command-table.js';
import { everyCommand, KEY_READ, KEY_WRITE, type AclUserDefinition, type KeyPattern } from './acl-user.js';
import { sha256Hex } from './acl-user.js';

export type ParseResult = { readonly ok: true; readonly users: AclUserDefinition[] } | { readonly ok: false; readonly error: string };

interface Draft {
  name: string;
  enabled: boolean;
  nopass: boolean;
  passwordHashes: string[];
  allowed: boolean[];
  allKeys: boolean;
  keys: KeyPattern[];
  allChannels: boolean;
  channels: Buffer[];
  commandRules: string[];
  maxClients: number;
  maxOpsPerSecond: number;
}

function newDraft(name: string): Draft {
  return {
    name,
    enabled: false,
    nopass: false,
    passwordHashes: [],
    allowed: [],
    allKeys: false,
    keys: [],
    allChannels: false,
    channels: [],
    commandRules: [],
    maxClients: 0,
    maxOpsPerSecond: 0,
  };
}

/** Commands a `+name`/`-name` rule names: the command and, for a container, its subcommands. */
function commandsNamed(name: string): CommandInfo[] | null {
  if (name.includes('|')) {
    const cmd = commandByName(name);
    return cmd === undefined || cmd.container === null ? null : [cmd];
  }
  const cmd = commandByName(name);
  if (cmd === undefined) return null;
  const all = [cmd];
  for (const c of everyCommand()) if (c.container === cmd) all.push(c);
  return all;
}

function commandsInCategory(category: string): CommandInfo[] | null {
  if (category === 'all') return everyCommand();
  if (!ACL_CATEGORY_NAMES.includes(category)) return null;
  return everyCommand().filter((c) => ACL_CATEGORIES.get(c.name)?.includes(category) === true);
}

const HEX64 = /^[0-9a-f]{64}$/;
const LIMIT = /^proxy-(maxclients|max-ops)=(\d+)$/;

/** Applies one rule to the draft; an error message (Redis's wording where it has one) or null. */
function applyRule(d: Draft, rule: string): string | null {
  const lower = rule.toLowerCase();
  if (lower === 'on') d.enabled = true;
  else if (lower === 'off') d.enabled = false;
  else if (lower === 'nopass') {
    d.nopass = true;
    d.passwordHashes = [];
  } else if (lower === 'resetpass') {
    d.nopass = false;
    d.passwordHashes = [];
  } else if (rule.startsWith('>')) {
    const h = sha256Hex(rule.slice(1));
    if (!d.passwordHashes.includes(h)) d.passwordHashes.push(h);
    d.nopass = false;
  } else if (rule.startsWith('<')) {
    const h = sha256Hex(rule.slice(1));
    d.passwordHashes = d.passwordHashes.filter((x) => x !== h);
  } else if (rule.startsWith('#')) {
    const h = rule.slice(1).toLowerCase();
    if (!HEX64.test(h)) return 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
    if (!d.passwordHashes.includes(h)) d.passwordHashes.push(h);
    d.nopass = false;
  } else if (rule.startsWith('!')) {
    const h = rule.slice(1).toLowerCase();
    d.passwordHashes = d.passwordHashes.filter((x) => x !== h);
  } else if (lower === 'allkeys' || rule === '~*') {
    d.allKeys = true;
    d.keys = [];
  } else if (lower === 'resetkeys') {
    d.allKeys = false;
    d.keys = [];
  } else if (rule.startsWith('~') || rule.startsWith('%')) {
    return addKeyPattern(d, rule);
  } else if (lower === 'allchannels' || rule === '&*') {
    d.allChannels = true;
    d.channels = [];
  } else if (lower === 'resetchannels') {
    d.allChannels = false;
    d.channels = [];
  } else if (rule.startsWith('&')) {
    if (!d.allChannels) d.channels.push(Buffer.from(rule.slice(1), 'latin1'));
  } else if (lower === 'allcommands' || lower === 'nocommands') {
    return applyCommandRule(d, lower === 'allcommands' ? '+@all' : '-@all');
  } else if (rule.startsWith('+') || rule.startsWith('-')) {
    return applyCommandRule(d, rule);
  } else if (lower === 'reset') {
    Object.assign(d, newDraft(d.name));
  } else {
    const limit = LIMIT.exec(lower);
    if (limit === null) return 'Syntax error';
    if (limit[1] === 'maxclients') d.maxClients = Number(limit[2]);
    else d.maxOpsPerSecond = Number(limit[2]);
  }
  return null;
}

function addKeyPattern(d: Draft, rule: string): string | null {
  let access = KEY_READ | KEY_WRITE;
  let pattern = rule.slice(1);
  if (rule.startsWith('%')) {
    const tilde = rule.indexOf('~');
    const perms = rule.slice(1, tilde < 0 ? rule.length : tilde).toUpperCase();
    if (tilde < 0 || perms === '' || !/^[RW]+$/.test(perms)) return 'Syntax error';
    access = (perms.includes('R') ? KEY_READ : 0) | (perms.includes('W') ? KEY_WRITE : 0);
    pattern = rule.slice(tilde + 1);
  }
  if (d.allKeys) return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
  // As ACL LIST writes it back: `~` for read and write, else `%R~` or `%W~`.
  const text = access === (KEY_READ | KEY_WRITE) ? `~${pattern}` : `${access === KEY_READ ? '%R' : '%W'}~${pattern}`;
  d.keys.push({ pattern: Buffer.from(pattern, 'latin1'), access, text });
  return null;
}

function applyCommandRule(d: Draft, rule: string): string | null {
  const allow = rule.startsWith('+');
  const what = rule.slice(1).toLowerCase();
  const commands = what.startsWith('@') ? commandsInCategory(what.slice(1)) : commandsNamed(what);
  if (commands === null) return 'Unknown command or category name in ACL';
  for (const c of commands) d.allowed[c.index] = allow;
  if (what === '@all') d.commandRules = [];
  d.commandRules.push(`${allow ? '+' : '-'}${what}`);
  return null;
}

/** One `user <name> rules...` line (already split into words). */
export function parseUserLine(words: readonly string[]): { ok: true; user: AclUserDefinition } | { ok: false; error: string } {
  if (words.length < 2 || words[0].toLowerCase() !== 'user') return { ok: false, error: "a line must be 'user <name> <rule> ...'" };
  const d = newDraft(words[1]);
  for (const rule of words.slice(2)) {
    const err = applyRule(d, rule);
    if (err !== null) return { ok: false, error: `Error in applying operation '${rule}': ${err}` };
  }
  return {
    ok: true,
    user: {
      name: d.name,
      enabled: d.enabled,
      nopass: d.nopass,
      passwordHashes: d.passwordHashes,
      allowed: d.allowed,
      allKeys: d.allKeys,
      keys: d.keys,
      allChannels: d.allChannels,
      channels: d.channels,
      commandRules: d.commandRules,
      limits: { maxClients: d.maxClients, maxOpsPerSecond: d.maxOpsPerSecond },
    },
  };
}

/** The whole users file; an error names the line. A user listed twice is an error, as in Redis's aclfile. */
export function parseUsersFile(text: string): ParseResult {
  const users: AclUserDefinition[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseUserLine(line.split(/\s+/));
    if (!parsed.ok) return { ok: false, error: `line ${n + 1}: ${parsed.error}` };
    if (users.some((u) => u.name === parsed.user.name)) return { ok: false, error: `line ${n + 1}: user '${parsed.user.name}' is listed twice` };
    if (parsed.user.name === 'admin') return { ok: false, error: `line ${n + 1}: 'admin' is the proxy's admin user (--admin-password), not a users-file user` };
    users.push(parsed.user);
  }
  return { ok: true, users };
}
