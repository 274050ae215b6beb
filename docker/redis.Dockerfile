# ihs-redis:local — a Redis image FROM scratch: the host's redis-server and redis-cli with
# every shared library they load (docker/build-images.sh stages them in the context).
# Laid out like the official redis:7 image, so the docker provider's container command
# ["redis-server", "/data/redis.conf"] runs the same on both: binaries in /usr/local/bin,
# PATH, WORKDIR /data, a `redis` user (uid/gid 999) and no ENTRYPOINT.
FROM scratch
COPY rootfs/ /
COPY --chown=999:999 data/ /data/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
