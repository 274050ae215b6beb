# ihs-local/node:24 — a local stand-in for node:24-bookworm-slim, FROM scratch: the Node 24
# binary make runs (NODE_BIN) with its shared libraries, the host's npm where the official image has it
# (/usr/local/lib/node_modules/npm, /usr/local/bin/npm and npx) and /usr/bin/env for
# their `#!/usr/bin/env node` shebangs (docker/build-images.sh stages them). No shell:
# Dockerfiles built on it use exec-form RUN. A `node` user, uid/gid 1000, as in the
# official image. For local builds only: don't push it.
FROM scratch
COPY rootfs/ /
COPY --chown=1000:1000 home-node/ /home/node/
ARG NODE_VERSION
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_VERSION=${NODE_VERSION}
CMD ["node"]
