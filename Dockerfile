# OpenDCRE as a container: the same .deb and configuration as on the Pi.
# Build after `make deb` (see packaging/README.md), with Docker or podman:
#   make docker            (or: docker build --build-arg DEB=build/deb/opendcre_<v>_<arch>.deb -t opendcre .)
#   make container-test    podman, from a base made locally with mmdebstrap
#                          (--build-arg BASE=localhost/opendcre-base:bookworm), then REST checks
# Run with the HAT's UART:
#   docker run -d -p 5000:5000 --device /dev/ttyAMA0 opendcre

# The base image: Debian's official one from a registry, or any Debian 12
# root file system imported locally (`podman import base.tar NAME`) where no
# registry is reachable (ci/container-test.sh).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# The .deb to install, relative to the build context (the repository root);
# its architecture must match the Docker host's.
ARG DEB=build/deb/opendcre_0.1.0_amd64.deb

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# A fixed uid/gid so the image runs as a numeric, non-root user that the
# host (and runAsNonRoot checks) can resolve; the package's postinst finds
# the user present and only adds it to dialout and gpio.
ARG OPENDCRE_UID=999
RUN groupadd --system --gid "${OPENDCRE_UID}" opendcre \
    && useradd --system --uid "${OPENDCRE_UID}" --gid opendcre \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
        --comment "OpenDCRE service" opendcre

# The event log's directory (systemd's StateDirectory=opendcre on a node);
# without it the log is kept in memory only. A volume here keeps it.
RUN install -d -o opendcre -g opendcre -m 0750 /var/lib/opendcre

COPY ${DEB} /tmp/opendcre.deb

# systemd is not running here, so the postinst only records the unit as
# enabled; the container runs the binary directly. apt's package caches
# (/var/cache/apt/*.bin, 77 MB after an update) go with the indexes; the
# registry's images delete them through a hook, a local base has none.
RUN apt-get -o Acquire::Retries=3 update \
    && apt-get -o Acquire::Retries=3 install -y --no-install-recommends /tmp/opendcre.deb \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/opendcre.deb \
    && /usr/bin/opendcre --version

# The uid alone, no ":gid": with a group given, the engine (podman and runc
# measured) drops the user's supplementary groups, and the service would
# lose dialout (ttyAMA0) and gpio. With the uid alone they come from the
# image's /etc/group; the primary group is opendcre (999).
USER ${OPENDCRE_UID}
EXPOSE 5000

# Same command line as the systemd unit. Without NOTIFY_SOCKET the service
# skips its readiness and watchdog messages.
ENTRYPOINT ["/usr/bin/opendcre"]
CMD ["serve", "--config", "/etc/opendcre/opendcre.toml"]

# Liveness: the API port accepts connections. The packaged configuration
# serves HTTPS with a bearer token (security.toml from `opendcre auth init`,
# see packaging/README.md), which a shell cannot speak; bash's /dev/tcp keeps
# curl and a token out of the image. The REST answers are checked by
# `make container-test`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5000"]
