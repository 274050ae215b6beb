#!/bin/bash
# Where the docker provider's SET costs more than the process provider's (issue 17;
# bench/results/docker-set-gap.md). Three proxies of 3 masters x 1 replica each, side by side:
#   process          --provider process
#   docker-published --provider docker --docker-node-access published: the proxy on the host
#                    dialling each node's client port published on 127.0.0.1 (docker-proxy);
#                    what `auto` chose on the host before issue 17
#   docker-network   --provider docker --docker-node-access network: the same proxy dialling
#                    the containers' addresses on their bridge network (what `auto` chooses on
#                    the engine's Linux host since issue 17)
# and redis-benchmark straight at one master (m2: the slot of redis-benchmark's key
# "key:__rand_int__", 13782, so the proxy runs hit the same master):
#   node process          its 127.0.0.1 port
#   node docker-published its port published on 127.0.0.1 (docker-proxy)
#   node docker-ip        the same container at its bridge address
# Each case is `redis-benchmark -c 50 -P {16,1} -t {set,get}` (no -r: one key, one master, as
# the issue's runs); the targets run back to back within a round, in reverse order every other
# round; medians over ROUNDS. Besides requests/s, the CPU time per request (utime+stime from
# /proc/<pid>/stat) of the proxy, of the cluster's redis-servers and of the docker-proxy
# processes of its published ports: on a shared machine ops/s swings with the neighbours,
# CPU per request much less.
# Usage: bench/docker-set-gap.sh [ROUNDS] [N16] [N1]   (Linux, root or the docker group; the
# image ihs-redis:local from make docker-images)
set -eu
ROUNDS=${1:-3}
N16=${2:-200000}
N1=${3:-100000}
IMAGE=${IHS_REDIS_IMAGE:-ihs-redis:local}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/ihs-docker-gap-XXXXXX)
PIDFILE="$TMP/pids"
: >"$PIDFILE"
NAMES="process docker-published docker-network"

make -C "$REPO" --no-print-directory -o node_modules/.package-lock.json build >/dev/null
NODE=$(make -C "$REPO" -s --no-print-directory node-bin | tail -n 1)

cleanup() {
  # SIGTERM: each proxy stops its nodes; then the Docker clusters' containers, volumes and networks go.
  for p in $(cut -d' ' -f2 "$PIDFILE"); do kill -TERM "$p" 2>/dev/null || true; done
  for p in $(cut -d' ' -f2 "$PIDFILE"); do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
  for n in docker-published docker-network; do
    [ -d "$TMP/data-$n" ] && "$NODE" "$REPO/bin/ihs-docker-clean.js" --data-dir "$TMP/data-$n" >/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { "$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
start() { # name flags...
  local name=$1 port
  shift
  port=$(free_port)
  "$NODE" --max-semi-space-size=16 "$REPO/bin/interface-hash-server.js" --port "$port" --http-port 0 --data-dir "$TMP/data-$name" --log-level warn "$@" >"$TMP/$name.log" 2>&1 &
  echo "$name $! $port" >>"$PIDFILE"
  for _ in $(seq 1 300); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return; sleep 0.2; done
  echo "proxy $name did not answer: $(tail -3 "$TMP/$name.log")" >&2
  exit 1
}
start process --provider process
start docker-published --provider docker --redis-image "$IMAGE" --docker-node-access published
start docker-network --provider docker --redis-image "$IMAGE" --docker-node-access network
field() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$PIDFILE"; }
password() { "$NODE" -p "JSON.parse(require('fs').readFileSync('$TMP/data-$1/topology.json','utf8')).nodePassword"; }
cluster_id() { "$NODE" -p "require('crypto').createHash('sha1').update('interface-hash-server:$TMP/data-$1').digest('hex').slice(0,12)"; }
container_pid() { docker inspect -f '{{.State.Pid}}' "$1"; }
# The docker-proxy behind a container's published client port (none when it publishes nothing).
docker_proxy_pid() {
  local port
  port=$(docker inspect -f '{{with index .HostConfig.PortBindings "6379/tcp"}}{{(index . 0).HostPort}}{{end}}' "$1")
  [ -n "$port" ] && ps -eo pid=,args= | awk -v p="$port" '$2 ~ /docker-proxy$/ && / -host-port / { for (i = 3; i < NF; i++) if ($i == "-host-port" && $(i + 1) == p) print $1 }'
  return 0
}
NODE_IDS="m0 m0r0 m1 m1r0 m2 m2r0"

# Targets: name port password "proxy pids" "redis pids" "docker-proxy pids" [host]
TARGETS="$TMP/targets"
: >"$TARGETS"
redis_pids_process=""
for id in $NODE_IDS; do redis_pids_process="$redis_pids_process $(cat "$TMP/data-process/nodes/$id/redis.pid")"; done
echo "proxy:process|$(field process 3)|-|$(field process 2)|$redis_pids_process|-|127.0.0.1" >>"$TARGETS"
for n in docker-published docker-network; do
  cid=$(cluster_id "$n")
  rp=""
  dp=""
  for id in $NODE_IDS; do
    rp="$rp $(container_pid "ihs-$cid-$id")"
    dp="$dp $(docker_proxy_pid "ihs-$cid-$id")"
  done
  echo "proxy:$n|$(field "$n" 3)|-|$(field "$n" 2)|$rp|${dp:- -}|127.0.0.1" >>"$TARGETS"
done
m2_port=$(awk '/^port /{print $2}' "$TMP/data-process/nodes/m2/redis.conf")
echo "node:process|$m2_port|$(password process)|-|$(cat "$TMP/data-process/nodes/m2/redis.pid") $(cat "$TMP/data-process/nodes/m2r0/redis.pid")|-|127.0.0.1" >>"$TARGETS"
cid=$(cluster_id docker-published)
m2_pids="$(container_pid "ihs-$cid-m2") $(container_pid "ihs-$cid-m2r0")"
published=$(docker inspect -f '{{(index (index .HostConfig.PortBindings "6379/tcp") 0).HostPort}}' "ihs-$cid-m2")
ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"ihs-$cid\").IPAddress}}" "ihs-$cid-m2")
echo "node:docker-published|$published|$(password docker-published)|-|$m2_pids|$(docker_proxy_pid "ihs-$cid-m2")|127.0.0.1" >>"$TARGETS"
echo "node:docker-ip|6379|$(password docker-published)|-|$m2_pids|-|$ip" >>"$TARGETS"

ticks() { # pids... → their utime+stime, summed
  local sum=0 p
  for p in "$@"; do
    [ "$p" = - ] && continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
  done
  echo "$sum"
}
TICK=$(getconf CLK_TCK)
RESULTS="$TMP/results"
: >"$RESULTS"
run_case() { # target-line test pipeline n
  local name port pw proxy redis dproxy host t0p t0r t0d rps
  IFS='|' read -r name port pw proxy redis dproxy host <<<"$1"
  # shellcheck disable=SC2086 # pid lists are words
  t0p=$(ticks $proxy) t0r=$(ticks $redis) t0d=$(ticks $dproxy)
  local auth=()
  [ "$pw" != - ] && auth=(-a "$pw")
  rps=$(redis-benchmark -h "$host" -p "$port" "${auth[@]}" -c 50 -n "$4" -P "$3" -t "$2" --csv 2>/dev/null | awk -F'"' 'NR==2 {print $4}')
  # shellcheck disable=SC2086
  echo "$name $2 $3 $rps $(( $(ticks $proxy) - t0p )) $(( $(ticks $redis) - t0r )) $(( $(ticks $dproxy) - t0d )) $4" >>"$RESULTS"
}
mapfile -t LINES <"$TARGETS"
for round in $(seq 1 "$ROUNDS"); do
  order=("${LINES[@]}")
  if [ $((round % 2)) = 0 ]; then mapfile -t order < <(printf '%s\n' "${LINES[@]}" | tac); fi
  for c in "set 16 $N16" "set 1 $N1" "get 16 $N16" "get 1 $N1"; do
    # shellcheck disable=SC2086
    for line in "${order[@]}"; do run_case "$line" $c; done
  done
  echo "round $round of $ROUNDS done" >&2
done

echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, redis-benchmark -c 50 (no -r), $ROUNDS rounds: medians"
echo
echo "| target | test | -P | requests/s | proxy µs/req | redis µs/req | docker-proxy µs/req | rounds (requests/s) |"
echo "|---|---|---|---|---|---|---|---|"
sort -k2,2r -k3,3nr -s "$RESULTS" | awk -v tick="$TICK" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $2 "|" $3 "|" $1; if (!(k in rps)) order[++n] = k
    rps[k] = rps[k] " " $4; us = 1e6 / tick / $8
    p[k] = p[k] " " $5 * us; r[k] = r[k] " " $6 * us; d[k] = d[k] " " $7 * us }
  END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, "|")
    printf "| %s | %s | %s | %.0f | %.1f | %.1f | %.1f | %s |\n", f[3], toupper(f[1]), f[2], median(rps[k]), median(p[k]), median(r[k]), median(d[k]), rps[k] } }'
