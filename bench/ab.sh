#!/bin/sh
# A/B throughput of two builds of the proxy: A = a git revision (git archive, built with
# tsc), B = the working tree (make build). Each runs its own 3 masters (--replicas 0).
# redis-benchmark -c 50 -r 100000, SET and GET at -P 1 and -P 16; within a round the two
# proxies run back to back for each case (order alternating per round), so background load
# hits both alike; medians over rounds. Besides ops/s, the proxy's own CPU time per request
# (utime+stime from /proc/<pid>/stat around each run): on a shared machine, where ops/s
# swings with the neighbours' load, what the proxy spends per request moves much less.
# At the end, each proxy's peak and current resident memory (VmHWM, VmRSS).
# Usage: bench/ab.sh BASE_REV [ROUNDS] [N1] [N16]
# Both proxies run on the node make uses (`make node`: Node 24); NODE_A / NODE_B (paths to
# node binaries) run one of them on another, e.g. the same revision on two Node versions:
#   NODE_A=/usr/bin/node bench/ab.sh HEAD 3
set -eu
BASE=${1:?usage: bench/ab.sh BASE_REV [ROUNDS] [N1] [N16]}
ROUNDS=${2:-5}
N1=${3:-100000}
N16=${4:-500000}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/ihs-ab-XXXXXX)
# The proxies' pids, one per line (start() runs in a command substitution: a subshell).
PIDFILE="$TMP/pids"
: >"$PIDFILE"
cleanup() {
  # SIGTERM: each proxy stops its own nodes; wait for that before removing their dirs.
  for p in $(cat "$PIDFILE"); do kill -TERM "$p" 2>/dev/null || true; done
  for p in $(cat "$PIDFILE"); do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

make -C "$REPO" --no-print-directory -o node_modules/.package-lock.json build >/dev/null
NODE=$(make -C "$REPO" -s --no-print-directory node-bin | tail -n 1)
NODE_A=${NODE_A:-$NODE}
NODE_B=${NODE_B:-$NODE}
mkdir "$TMP/a"
git -C "$REPO" archive --format=tar "$BASE" | tar -x -C "$TMP/a"
ln -s "$REPO/node_modules" "$TMP/a/node_modules"
(cd "$TMP/a" && "$NODE" "$REPO/node_modules/typescript/bin/tsc" -p tsconfig.build.json)

free_port() { "$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
start() { # name root node
  port=$(free_port)
  # shellcheck disable=SC2086 # the flags are words
  "$3" ${PROXY_NODE_FLAGS---max-semi-space-size=16} "$2/bin/interface-hash-server.js" --port "$port" --http-port 0 --data-dir "$TMP/data-$1" --masters 3 --replicas 0 --log-level warn >"$TMP/$1.log" 2>&1 &
  echo $! >>"$PIDFILE"
  for _ in $(seq 1 150); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.2; done
  echo "$port"
}
PORT_A=$(start a "$TMP/a" "$NODE_A")
PORT_B=$(start b "$REPO" "$NODE_B")
PID_A=$(sed -n 1p "$PIDFILE")
PID_B=$(sed -n 2p "$PIDFILE")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
echo "A = $(git -C "$REPO" rev-parse --short "$BASE") on $PORT_A, node $("$NODE_A" --version); B = working tree at $(git -C "$REPO" rev-parse --short HEAD) on $PORT_B, node $("$NODE_B" --version)"

bench() { # port test pipeline n
  redis-benchmark -p "$1" -c 50 -r 100000 -n "$4" -P "$3" -t "$2" --csv 2>/dev/null | awk -F'"' 'NR==2 {print $4}'
}
for p in $PORT_A $PORT_B; do bench "$p" set 16 100000 >/dev/null; bench "$p" get 16 100000 >/dev/null; done # warm-up (JIT)

: >"$TMP/results"
for round in $(seq 1 "$ROUNDS"); do
  for P in 1 16; do
    n=$N1; [ "$P" = 1 ] || n=$N16
    for t in set get; do
      if [ $((round % 2)) = 1 ]; then order="a b"; else order="b a"; fi
      for who in $order; do
        port=$PORT_A; pid=$PID_A
        [ "$who" = b ] && port=$PORT_B && pid=$PID_B
        c0=$(cpu_ticks "$pid")
        ops=$(bench "$port" "$t" "$P" "$n")
        c1=$(cpu_ticks "$pid")
        cpu=$(awk -v d=$((c1 - c0)) -v tick="$TICK" -v n="$n" 'BEGIN {printf "%.3f", d * 1e6 / tick / n}')
        echo "$t $P $who $round $ops $cpu" >>"$TMP/results"
      done
    done
  done
  echo "round $round done" >&2
done

echo "| test | -P | A ops/s (median) | B ops/s (median) | B/A | B/A per round (min-max) | A CPU µs/req | B CPU µs/req | B/A CPU |"
echo "|:-----|---:|----:|----:|----:|----:|----:|----:|----:|"
for P in 1 16; do
  for t in set get; do
    med() { grep "^$t $P $1 " "$TMP/results" | awk -v f="$2" '{print $f}' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
    a=$(med a 5); b=$(med b 5); ca=$(med a 6); cb=$(med b 6)
    range=$(for r in $(seq 1 "$ROUNDS"); do
      x=$(grep "^$t $P a $r " "$TMP/results" | awk '{print $5}'); y=$(grep "^$t $P b $r " "$TMP/results" | awk '{print $5}')
      awk -v x="$x" -v y="$y" 'BEGIN {printf "%.3f\n", y/x}'
    done | sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}')
    awk -v t="$t" -v P="$P" -v a="$a" -v b="$b" -v r="$range" -v ca="$ca" -v cb="$cb" 'BEGIN {printf "| %s | %s | %.0f | %.0f | %.3f | %s | %.2f | %.2f | %.3f |\n", toupper(t), P, a, b, b/a, r, ca, cb, cb/ca}'
  done
done
echo
# Memory, read once all rounds are done: the peak (VmHWM) and what is still held (VmRSS).
mem() { awk '/^VmHWM|^VmRSS/ {printf "%s %.1f MB; ", $1, $2 / 1024}' "/proc/$1/status"; }
echo "A memory: $(mem "$PID_A")"
echo "B memory: $(mem "$PID_B")"
echo
echo "raw: test P build round ops/s cpu-us/req"
cat "$TMP/results"
