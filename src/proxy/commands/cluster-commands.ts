/**
 * CLUSTER emulation. The proxy presents itself as a one-node Redis Cluster that owns all
 * 16384 slots, so cluster-mode clients (ioredis Cluster, `redis-cli -c`, redis-py's
 * RedisCluster) discover a single node — the proxy — and send everything to it. No MOVED
 * or ASK ever reaches a client: the proxy routes internally.
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeInteger, encodeMap, encodeVerbatim } from '../../resp/encode.js';
import { keySlot } from '../../cluster/key-slot.js';
import { SLOT_COUNT } from '../../cluster/topology/topology.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { unknownSubcommand } from '../request-checks.js';
import { commandByName } from '../../commands/command-table.js';
import { unsupportedMessage } from './unsupported.js';

/** The address the client reached us on: what it should use to reach us again. */
function announcedAddress(s: ClientSession, ctx: ProxyContext): { ip: string; port: number } {
  let ip = s.socket.localAddress ?? '127.0.0.1';
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  return { ip, port: s.socket.localPort ?? ctx.settings.port };
}

function clusterInfo(ctx: ProxyContext): string {
  const epoch = ctx.router.slotMap.epoch;
  const lines = [
    'cluster_state:ok',
    `cluster_slots_assigned:${SLOT_COUNT}`,
    `cluster_slots_ok:${SLOT_COUNT}`,
    'cluster_slots_pfail:0',
    'cluster_slots_fail:0',
    'cluster_known_nodes:1',
    'cluster_size:1',
    `cluster_current_epoch:${epoch}`,
    `cluster_my_epoch:${epoch}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
  ];
  return lines.join('\r\n') + '\r\n';
}

/** CLUSTER subcommands that change the cluster's slots, nodes or roles. */
const CLUSTER_ADMIN = new Set([
  'addslots', 'addslotsrange', 'delslots', 'delslotsrange', 'flushslots', 'setslot', 'forget', 'meet', 'reset',
  'failover', 'replicate', 'saveconfig', 'set-config-epoch', 'bumpepoch',
]);

/** Why a CLUSTER subcommand the proxy does not answer is refused. */
function clusterRefusal(sub: string): string {
  if (CLUSTER_ADMIN.has(sub)) return "the cluster's slots, nodes and roles are managed by the proxy (its admin verbs: ADD, REMOVE, REBALANCE ...)";
  return 'the proxy presents the whole cluster as one node, which this would describe wrongly';
}

function cluster(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  const { ip, port } = announcedAddress(s, ctx);
  const id = ctx.settings.clusterNodeId;
  const proto = s.protocol;
  switch (sub) {
    case 'info':
      return s.reply(encodeVerbatim(clusterInfo(ctx), proto));
    case 'myid':
      return s.reply(encodeBulk(id));
    case 'keyslot': {
      const key = argBuffer(f, 2);
      return s.reply(encodeInteger(keySlot(key, 0, key.length)));
    }
    case 'slots':
      return s.reply(
        encodeArray([
          encodeArray([encodeInteger(0), encodeInteger(SLOT_COUNT - 1), encodeArray([encodeBulk(ip), encodeInteger(port), encodeBulk(id), encodeMap([], proto)])]),
        ]),
      );
    case 'shards':
      return s.reply(
        encodeArray([
          encodeMap([
            encodeBulk('slots'),
            encodeArray([encodeInteger(0), encodeInteger(SLOT_COUNT - 1)]),
            encodeBulk('nodes'),
            encodeArray([
              encodeMap([
                encodeBulk('id'), encodeBulk(id),
                encodeBulk('port'), encodeInteger(port),
                encodeBulk('ip'), encodeBulk(ip),
                encodeBulk('endpoint'), encodeBulk(ip),
                encodeBulk('role'), encodeBulk('master'),
                encodeBulk('replication-offset'), encodeInteger(0),
                encodeBulk('health'), encodeBulk('online'),
              ], proto),
            ]),
          ], proto),
        ]),
      );
    case 'countkeysinslot':
    case 'getkeysinslot': {
      // Answered by the master serving that slot, so a tool can look into one slot.
      const slot = Number(argString(f, 2));
      if (!/^\d+$/.test(argString(f, 2)) || slot >= SLOT_COUNT) return s.reply(encodeError('ERR Invalid slot'));
      return ctx.router.sendToSlot(s, slot, f.raw, s.openSlot());
    }
    case 'nodes': {
      const epoch = ctx.router.slotMap.epoch;
      return s.reply(encodeVerbatim(`${id} ${ip}:${port}@${port + 10000} myself,master - 0 0 ${epoch} connected 0-${SLOT_COUNT - 1}\n`, proto));
    }
    case 'help':
      return ctx.router.sendToMaster(s, ctx.router.anyMaster(s), f.raw, s.openSlot());
    default:
      if (commandByName(`cluster|${sub}`) === undefined) {
        return s.reply(encodeError(unknownSubcommand('cluster', argString(f, 1))));
      }
      return s.reply(encodeError(unsupportedMessage(`cluster ${sub}`, clusterRefusal(sub))));
  }
}

export const clusterCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([['cluster', { handler: cluster }]]);
