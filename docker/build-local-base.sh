#!/usr/bin/env bash
# Build a local stand-in for node:20-bookworm-slim when no image registry is reachable.
#
#   docker/build-local-base.sh [TAG]        (default TAG: ihs-local/node:20-bookworm)
#   docker build --build-arg NODE_IMAGE=ihs-local/node:20-bookworm -t interface-hash-server .
#
# What it makes: a Debian bookworm minbase rootfs (debootstrap, from the apt mirror) with
# ca-certificates and redis-server installed, plus this host's Node.js binary and npm laid
# out as in the official node image (/usr/local/bin/node, /usr/local/lib/node_modules/npm,
# a `node` user with uid 1000) and the host's locally added CA certificates, imported with
# `docker import` as TAG. For local builds only: do not push it anywhere.
#
# Needs: root, debootstrap, a running Docker daemon, Node.js 20 on the host (glibc build).
# Env: MIRROR (default: http://deb.debian.org/debian), SUITE (default: bookworm),
#      NODE_BIN (default: the `node` on PATH).
set -euo pipefail

TAG="${1:-ihs-local/node:20-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SUITE="${SUITE:-bookworm}"
NODE_BIN="$(readlink -f "${NODE_BIN:-$(command -v node)}")"

die() { echo "build-local-base: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start one: dockerd >/tmp/dockerd.log 2>&1 &)"
[ -x "$NODE_BIN" ] || die "node not found (set NODE_BIN)"
NODE_VERSION="$("$NODE_BIN" --version)"
case "$NODE_VERSION" in v20.*) ;; *) die "host node is $NODE_VERSION, want v20.x (set NODE_BIN)";; esac
NPM_DIR="$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")"
[ -f "$NPM_DIR/package.json" ] || die "npm package not found (looked in $NPM_DIR)"

ROOTFS="$(mktemp -d /tmp/ihs-rootfs.XXXXXX)"
cleanup() {
  # Nothing is mounted into the rootfs, so a plain rm is safe.
  rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

echo "== debootstrap $SUITE minbase from $MIRROR into $ROOTFS"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR"

# redis-server in a second step, with services blocked: its postinst must not start a
# redis-server (it would run on the host's network namespace, chroot or not).
echo "== redis-server (no service start)"
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
chroot "$ROOTFS" apt-get clean
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
: >"$ROOTFS/etc/resolv.conf"   # Docker bind-mounts its own at run time
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log

echo "== node $NODE_VERSION from $NODE_BIN, npm from $NPM_DIR"
install -D -m 755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# Every shared library node links against must exist in the rootfs.
missing=0
while read -r lib; do
  [ -e "$ROOTFS$lib" ] || { echo "missing in rootfs: $lib" >&2; missing=1; }
done < <(ldd "$NODE_BIN" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]+ \(/{print $1}')
[ "$missing" = 0 ] || die "node's libraries are not all in the rootfs"

# Locally added CAs of this host (/usr/local/share/ca-certificates): where the host reaches
# the npm registry through a TLS-intercepting egress proxy, `npm ci` inside the build
# needs that CA too. npm uses Node's built-in CA list unless told otherwise, so point it
# at the system bundle (global npmrc of the copied npm: /usr/local/etc/npmrc).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  echo "== host's local CAs: $(cd /usr/local/share/ca-certificates && echo *.crt)"
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" update-ca-certificates
  mkdir -p "$ROOTFS/usr/local/etc"
  echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$ROOTFS/usr/local/etc/npmrc"
fi

# As in the official image: a `node` user, uid/gid 1000.
chroot "$ROOTFS" groupadd --gid 1000 node
chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

echo "== checks inside the rootfs"
chroot "$ROOTFS" /usr/local/bin/node --version
chroot "$ROOTFS" /usr/local/bin/node /usr/local/bin/npm --version
chroot "$ROOTFS" redis-server --version

echo "== docker import as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change 'CMD ["node"]' \
  --message "local stand-in for node:20-bookworm-slim (debootstrap $SUITE minbase + redis-server + host node $NODE_VERSION)" \
  - "$TAG"
docker image ls "$TAG"
