# OpenDCRE as a container: the same .deb and configuration as on the Pi.
# Build on a Docker host after `make deb` (see packaging/README.md):
#   make docker            (or: docker build --build-arg DEB=build/deb/opendcre_<v>_<arch>.deb -t opendcre .)
# Run with the HAT's UART:
#   docker run -d -p 5000:5000 --device /dev/ttyAMA0 opendcre
FROM debian:bookworm-slim

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

COPY ${DEB} /tmp/opendcre.deb

# systemd is not running here, so the postinst only records the unit as
# enabled; the container runs the binary directly.
RUN apt-get update \
    && apt-get install -y --no-install-recommends /tmp/opendcre.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/opendcre.deb \
    && /usr/bin/opendcre --version

USER ${OPENDCRE_UID}:${OPENDCRE_UID}
EXPOSE 5000

# Same command line as the systemd unit. Without NOTIFY_SOCKET the service
# skips its readiness and watchdog messages.
ENTRYPOINT ["/usr/bin/opendcre"]
CMD ["serve", "--config", "/etc/opendcre/opendcre.toml"]

# bash's /dev/tcp keeps curl out of the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5000 && printf 'GET /opendcre/1.1/test HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"ok\"' <&3"]
