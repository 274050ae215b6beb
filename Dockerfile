# interface-hash-server: the proxy with redis-server inside. The default (process) provider
# starts its Redis nodes as child processes in this same container, bound to 127.0.0.1;
# only the proxy port is published.
#
#   docker build -t interface-hash-server .
#   docker run --init -p 127.0.0.1:6380:6380 -v ihs-data:/data interface-hash-server
#
# Without an image registry: docker/build-local-base.sh, then
#   docker build --build-arg NODE_IMAGE=ihs-local/node:20-bookworm -t interface-hash-server .
# (see docker/README.md).
#
# Two stages: `build` installs every dependency (typescript included) and compiles src/ into
# dist/ with tsc; the final image gets production dependencies only, bin/ and that dist/.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# --ignore-scripts: tsc needs no install script (see the final stage for the others).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}

# redis-server 7 (Debian bookworm: 7.0.x) unless the base image has one already.
RUN if command -v redis-server >/dev/null; then \
      echo "redis-server already present: $(redis-server --version)"; \
    else \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && redis-server --version

# The proxy and its Redis nodes run as this user; /data must be writable by it.
ARG IHS_UID=10001
RUN groupadd --gid ${IHS_UID} ihs \
    && useradd --uid ${IHS_UID} --gid ihs --home-dir /data --no-create-home --shell /usr/sbin/nologin ihs \
    && mkdir -p /data && chown ihs:ihs /data && chmod 700 /data

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first (cached while package*.json are unchanged): production ones only
# (ioredis, pino, pino-pretty, yargs, dockerode); tsx, typescript and the @types are dev
# dependencies, used in the build stage alone. --ignore-scripts: no dependency needs its
# install script at run time (ssh2/cpu-features native builds are optional and this image
# has no compiler).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

# bin/ loads dist/main.js (source maps on: stack traces name src/*.ts lines).
COPY bin ./bin
COPY --from=build /app/dist ./dist

ENV IHS_BIND=0.0.0.0 \
    IHS_DATA_DIR=/data
VOLUME /data
EXPOSE 6380
USER ihs

# node handles SIGTERM/SIGINT itself: it stops the proxy, then each redis-server (SIGTERM,
# AOF flushed), then exits. `docker stop` sends SIGTERM. Run with --init (tini as PID 1
# forwards the signal and reaps orphans); node as PID 1 also works because it installs
# its own SIGTERM handler.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/interface-hash-server.js"]
