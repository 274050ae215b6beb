# interface-hash-server: the proxy's image. Its Redis nodes are containers too (the docker
# provider, the image's default: IHS_PROVIDER=docker), started through the host's Docker
# socket; the image holds no redis-server (see docker/README.md).
#
#   docker build -t interface-hash-server .                      (with a registry: node:24-bookworm-slim)
#   docker/build-images.sh  (or make docker-images)               (offline: ihs-local/node:24, host npm cache)
#   make docker-run                                               (socket mounted, data dir at its host path)
#
# Three stages on one base: `deps` installs the production dependencies, `build` all of them
# and compiles src/ into dist/ with tsc; the final image gets deps' node_modules, bin/ and
# build's dist/ — no TypeScript, no dev dependency, no npm cache.
#
# No shell is needed (the local base has none): every RUN is exec form, and no step runs an
# npm script (`npm run` needs sh). --ignore-scripts: no dependency needs its install script
# (ssh2/cpu-features native builds are optional).
#
# npm cache: docker/npm-cache/ is copied in and used as npm's cache. In a fresh clone it is
# empty and npm downloads as usual; docker/build-images.sh fills it with a copy of the host's
# cache and passes --build-arg npm_config_offline=true (npm reads npm_config_* from the
# environment, and build args are in RUN's environment), so `npm ci` reads the cache only
# and the build runs with --network none.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
ARG npm_config_offline=false
WORKDIR /app
COPY docker/npm-cache/ /npm-cache/
COPY package.json package-lock.json ./
RUN ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", "/npm-cache"]
# An empty /data for the final stage to take over (no mkdir without a shell).
WORKDIR /data

FROM ${NODE_IMAGE} AS build
ARG npm_config_offline=false
WORKDIR /app
COPY docker/npm-cache/ /npm-cache/
COPY package.json package-lock.json ./
RUN ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", "/npm-cache"]
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm run build` without npm's sh: the same tsc call.
RUN ["node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"]

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# glibc maps blocks of 128 KB and more on their own (no rising mmap threshold): RSS falls
# back after a burst of large replies (README, Memory held for clients).
ENV MALLOC_MMAP_THRESHOLD_=131072
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
# bin/ loads dist/main.js (source maps on: stack traces name src/*.ts lines).
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The status page's static files, next to their compiled module (tsc copies no .html/.js assets).
COPY src/http/public ./dist/http/public
# The default data dir, writable by the image's user. With the docker provider, mount the
# host's data dir at its own host path instead and pass --data-dir (each node's dir is
# bind-mounted into its Redis container by host path): see make docker-run.
COPY --from=deps --chown=1000:1000 /data /data

# Inside a container the proxy must listen on the container's interface to be published;
# publish it on the host's 127.0.0.1 (-p 127.0.0.1:6380:6380) unless clients elsewhere need it.
# The same for the HTTP API (-p 127.0.0.1:8888:8888).
ENV IHS_BIND=0.0.0.0 \
    IHS_HTTP_BIND=0.0.0.0 \
    IHS_DATA_DIR=/data \
    IHS_PROVIDER=docker
EXPOSE 6380 8888
# `node` (uid/gid 1000) exists in the official node image and in ihs-local/node:24. To use
# the Docker socket it needs the socket's group: docker run --group-add <gid of the socket>.
USER node

# PING on the proxy's port (read from its flags and IHS_* env); +PONG or -NOAUTH is alive.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "/app/bin/ihs-healthcheck.js"]

# node stops the proxy on SIGTERM (docker stop); run with --init so that PID 1 reaps orphans.
STOPSIGNAL SIGTERM
# --max-semi-space-size: as `make run` (Makefile, PROXY_NODE_FLAGS).
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/interface-hash-server.js"]
