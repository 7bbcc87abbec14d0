#!/usr/bin/env bash
# `make container-test`: builds the repository's Dockerfile with podman
# (daemonless, rootful, from Debian 12) on a base root file system made here
# with mmdebstrap (no container registry is reachable), runs the container
# with the built-in bus emulator on a published loopback port, and checks it.
# Its /etc/opendcre is a named volume that `opendcre auth init` (run in the
# image as root, with a token brought in a file) filled with a certificate and
# the token's hash, as an operator sets up a container; the service reads it
# read-only and serves HTTPS with the token, like the Pi image. Checks:
#   * the REST checks of the image boot test (image/boot-test/rest_checks.py:
#     /test, scan-all against the emulator configuration, versions,
#     thermistor reads, power status/on/off, asset info, a missing board,
#     401 without or with a wrong token) over HTTPS trusting exactly the
#     container's certificate; plain HTTP gets no answer;
#   * the material in the volume: root-owned, group opendcre, 0640;
#   * GET /metrics: Prometheus text that promtool's parser accepts, with
#     opendcre_build_info naming this .deb's version;
#   * the service is PID 1 of the container and runs as the image's numeric
#     non-root user (uid/gid 999, in dialout and gpio, no effective
#     capabilities), seen from the host's /proc;
#   * the image's HEALTHCHECK command passes (podman healthcheck run);
#   * `podman stop` (SIGTERM) ends it cleanly: exit code 0, "SIGTERM
#     received" in its log, well before podman's kill timeout.
# It measures the build time, the image size (uncompressed and as gzip'ed
# docker-archive) and the time from `podman run` to the first REST answer,
# and writes them to build/container-test/report.txt.
#
# Podman runs with its own configuration and storage in a temporary
# directory (removed at the end), so nothing of the host's podman setup is
# used or changed, and no image stays behind: overlay storage, runc (Debian's
# crun refuses a hybrid cgroup layout), cgroupfs (no systemd as init in CI),
# no default ulimits (raising RLIMIT_NPROC is refused in some VMs).
#
# Usage: ci/container-test.sh [DEB]   (as root; default DEB:
#        build/deb/opendcre_<changelog version>_<host arch>.deb, `make deb-amd64`)
# Variables: CONTAINER_BASE_CACHE (/var/cache/opendcre-container/base-bookworm-slim.tar,
#            made again after 7 days), CONTAINER_API_TIMEOUT (60 s to the
#            first answer), CONTAINER_OUT (build/container-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

require_root "ci/container-test.sh (rootful podman)"
ARCH=$(dpkg --print-architecture)
VERSION=$(sed -n '1s/^opendcre (\([^)]*\)).*/\1/p' "$ROOT/packaging/debian/changelog")
DEB=${1:-$ROOT/build/deb/opendcre_${VERSION}_${ARCH}.deb}
[ -f "$DEB" ] || die "$DEB not found: run 'make deb-$ARCH' first"
[ "$(dpkg-deb -f "$DEB" Architecture)" = "$ARCH" ] || die "$DEB is not for this machine's architecture ($ARCH)"
DEB=$(realpath "$DEB")
case "$DEB" in
"$ROOT"/build/deb/*.deb) DEB_REL=${DEB#"$ROOT"/} ;;
*) die "$DEB must lie in $ROOT/build/deb/: the build context is the repository root and .dockerignore lets only build/deb/*.deb in" ;;
esac
DEB_VERSION=$(dpkg-deb -f "$DEB" Version)
bash "$HERE/install-container.sh"

BASE_CACHE=${CONTAINER_BASE_CACHE:-/var/cache/opendcre-container/base-bookworm-slim.tar}
API_TIMEOUT=${CONTAINER_API_TIMEOUT:-60}
OUT=${CONTAINER_OUT:-$ROOT/build/container-test}
BASE_IMAGE=localhost/opendcre-base:bookworm
IMAGE=localhost/opendcre:test
CTR=opendcre-test-$$
EMULATOR_CONFIG=$ROOT/firmware-api/emulator-configs/rack.json
mkdir -p "$OUT"
REPORT=$OUT/report.txt
: >"$REPORT"
report() { echo "$*" | tee -a "$REPORT"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- the base: Debian 12 minbase, slimmed like the registry's bookworm-slim ----
# dpkg leaves out documentation (but the copyright files), man and info pages,
# translations; the exclusions stay in the base's dpkg configuration, so the
# .deb installed on top is slimmed the same way. The merged-usr hook lays out
# /usr as bookworm does without the usrmerge package (which pulls in perl).
if [ ! -s "$BASE_CACHE" ] || [ -n "$(find "$BASE_CACHE" -mtime +7)" ]; then
    log "creating the container base $BASE_CACHE (mmdebstrap minbase, about a minute)"
    t0=$(now)
    mmdebstrap_tarball "$BASE_CACHE" bookworm --variant=minbase \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
    report "base tarball made:        $(secs "$t0" "$(now)") s"
fi
report "base tarball:             $BASE_CACHE, $(stat -c %s "$BASE_CACHE") B"

# --- podman's private configuration and storage --------------------------------------
WORK=$(mktemp -d /var/tmp/opendcre-container.XXXXXX)
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
EOF
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
cleanup() {
    local rc=$? m
    trap - EXIT
    podman rm --force --time 0 "$CTR" >/dev/null 2>&1 || true
    [ -z "${VOLUME:-}" ] || podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
    podman rmi --all --force >/dev/null 2>&1 || true
    # c/storage keeps its own mounts under the storage directory; none may
    # be left before it is removed.
    for m in $(findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
log "podman $(podman version --format '{{.Client.Version}}'): $(podman info --format '{{.Store.GraphDriverName}} storage, {{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupsVersion}}, {{.Host.NetworkBackend}} network')"

t0=$(now)
podman import --quiet "$BASE_CACHE" "$BASE_IMAGE" >/dev/null
report "base import:              $(secs "$t0" "$(now)") s"

# --- build --------------------------------------------------------------------------------------
# --network host: the RUN step's apt-get reaches the Debian mirror the base
# names (the host's). --format docker keeps the HEALTHCHECK (OCI has none).
log "podman build $IMAGE from $DEB_REL on $BASE_IMAGE"
t0=$(now)
podman build --pull=never --network host --format docker \
    --build-arg "BASE=$BASE_IMAGE" --build-arg "DEB=$DEB_REL" \
    --tag "$IMAGE" --file "$ROOT/Dockerfile" "$ROOT" >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log" >&2; die "podman build failed (log: $OUT/build.log)"; }
report "build:                    $(secs "$t0" "$(now)") s (podman build, base imported)"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
podman save --quiet --format docker-archive -o "$WORK/image.tar" "$IMAGE"
gz=$(gzip -6 -c "$WORK/image.tar" | wc -c)
rm -f "$WORK/image.tar"
podman history "$IMAGE" >>"$OUT/build.log"
report "image size:               $size B ($((size / 1048576)) MiB; base $((base_size / 1048576)) MiB), docker-archive gzip -6: $gz B ($((gz / 1048576)) MiB)"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = 999 ] || die "the image's USER is '$user', expected 999"
health=$(podman image inspect --format '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "$IMAGE")
[ -n "$health" ] || die "the image lost its HEALTHCHECK"

# --- first start: the node's TLS certificate and API token ----------------------
# As an operator does it (packaging/README.md): `opendcre auth init` as root
# into a named volume for /etc/opendcre (podman fills a new volume with the
# image's files first), with a token the operator brings; the service then
# gets the volume read-only.
VOLUME=opendcre-etc-$$
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$WORK/api-token"
podman volume create "$VOLUME" >/dev/null
podman run --rm --user 0 --volume "$VOLUME:/etc/opendcre" --volume "$WORK/api-token:/run/api-token:ro" \
    "$IMAGE" auth init --group opendcre --hostname localhost --hostname 127.0.0.1 --token-file /run/api-token \
    >"$OUT/auth-init.log" 2>&1 || { cat "$OUT/auth-init.log" >&2; die "opendcre auth init in the container failed"; }
ETC=$(podman volume inspect --format '{{.Mountpoint}}' "$VOLUME")
cp "$ETC/tls/server.crt" "$OUT/server.crt"

# --- run ----------------------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE_URL=https://127.0.0.1:$PORT
CURL=(curl -sS --max-time 10 --cacert "$OUT/server.crt" -H "Authorization: Bearer $TOKEN")
log "podman run $CTR: $BASE_URL -> container port 5000, built-in emulator"
t0=$(now)
# podman logs that it cannot reach systemd to schedule the HEALTHCHECK (no
# systemd as init in CI); the check is run by hand below. Its output goes to
# run.log, shown when the start fails.
podman run --detach --name "$CTR" --publish "127.0.0.1:$PORT:5000" --volume "$VOLUME:/etc/opendcre:ro" "$IMAGE" \
    serve --config /etc/opendcre/opendcre.toml --emulator /usr/share/opendcre/emulator/rack.json \
    >"$OUT/run.log" 2>&1 || { cat "$OUT/run.log" >&2; die "podman run failed"; }
deadline=$(($(date +%s) + API_TIMEOUT))
n=0
until "${CURL[@]}" -f --max-time 2 -o /dev/null "$BASE_URL/opendcre/1.1/test" 2>/dev/null; do
    n=$((n + 1))
    if [ $((n % 10)) = 0 ] && [ "$(podman inspect --format '{{.State.Running}}' "$CTR")" != true ]; then
        podman logs "$CTR" 2>&1 | tail -20 >&2 || true
        die "the container stopped before answering (exit code $(podman inspect --format '{{.State.ExitCode}}' "$CTR"))"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        podman logs "$CTR" 2>&1 | tail -20 >&2 || true
        die "no 200 from $BASE_URL/opendcre/1.1/test with the token within ${API_TIMEOUT}s"
    fi
    sleep 0.1
done
report "run to REST answering:    $(secs "$t0" "$(now)") s (podman run to the first 200 of GET /opendcre/1.1/test over HTTPS)"

failed=0
check() { # NAME COMMAND...
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok   $name"
    else
        echo "FAIL $name: $out"
        failed=$((failed + 1))
    fi
}

# The REST checks of the image boot test: HTTPS trusting exactly the
# container's certificate (name 127.0.0.1), the token, 401 without it.
if ! python3 "$ROOT/image/boot-test/rest_checks.py" "$BASE_URL" "$EMULATOR_CONFIG" --cacert "$OUT/server.crt" \
    --header "Authorization: Bearer $TOKEN" --expect-auth | tee "$OUT/rest-checks.txt"; then
    failed=$((failed + 1))
fi
report "rest checks:              $(tail -1 "$OUT/rest-checks.txt")"

check_metrics() {
    "${CURL[@]}" -f "$BASE_URL/metrics" >"$OUT/metrics.txt" || return 1
    grep -q "^opendcre_build_info{.*version=\"$DEB_VERSION\"" "$OUT/metrics.txt" ||
        { echo "no opendcre_build_info with version $DEB_VERSION"; return 1; }
    grep -q '^opendcre_bus_' "$OUT/metrics.txt" || { echo "no opendcre_bus_* series"; return 1; }
    if command -v promtool >/dev/null; then
        # Prometheus's own parser and linter (Debian 12's promtool 2.42).
        promtool check metrics <"$OUT/metrics.txt"
    fi
}
check_plain_http() {
    if curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/opendcre/1.1/test" 2>/dev/null; then
        echo "plain HTTP got an HTTP answer"
        return 1
    fi
}
check "plain HTTP gets no answer on the API port" check_plain_http

# What auth init left in the volume: owned by root, readable by the
# service's group only, so the service cannot rewrite its own auth policy.
check_material() {
    local f got
    for f in security.toml tls/server.key tls/server.crt; do
        got=$(stat -c '%U:%g %a' "$ETC/$f")
        [ "$got" = "root:999 640" ] || { echo "$f is $got, expected root:999 640"; return 1; }
    done
    if grep -qF "$TOKEN" "$ETC/security.toml"; then
        echo "security.toml holds the token itself"
        return 1
    fi
}
check "security material in the volume: root:opendcre 0640, the token only as a hash" check_material

check "GET /metrics: Prometheus text, opendcre_build_info version $DEB_VERSION" check_metrics

# The service seen from the host: PID 1 of the container, the image's user.
check_user() {
    local pid status cmd gpio
    pid=$(podman inspect --format '{{.State.Pid}}' "$CTR")
    [ "$pid" -gt 0 ] || { echo "no host pid"; return 1; }
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    case "$cmd" in /usr/bin/opendcre\ serve\ *) ;; *) echo "PID 1 is '$cmd'"; return 1 ;; esac
    status=$(cat "/proc/$pid/status")
    echo "$status" | grep -qP '^Uid:\t999\t999\t999\t999$' || { echo "$status" | grep '^Uid'; return 1; }
    echo "$status" | grep -qP '^Gid:\t999\t999\t999\t999$' || { echo "$status" | grep '^Gid'; return 1; }
    echo "$status" | grep -qP '^CapEff:\t0+$' || { echo "$status" | grep '^CapEff'; return 1; }
    # dialout (20, the serial device) and gpio from the image's /etc/group.
    gpio=$(podman exec "$CTR" getent group gpio | cut -d: -f3)
    echo "$status" | grep -qP "^Groups:\t(.* )?20 (.* )?$gpio( |\$)" ||
        { echo "supplementary groups: $(echo "$status" | grep '^Groups'), expected dialout (20) and gpio ($gpio)"; return 1; }
    [ "$(podman exec "$CTR" id -un)" = opendcre ] || { echo "exec user is not opendcre"; return 1; }
}
check "the service is the container's PID 1, uid/gid 999 (opendcre) in dialout and gpio, no effective capabilities" check_user

check "HEALTHCHECK passes (podman healthcheck run)" podman healthcheck run "$CTR"

# Clean stop: podman stop sends SIGTERM and kills after --time seconds.
check_stop() {
    local t0 took code
    t0=$(now)
    podman stop --time 20 "$CTR" >/dev/null
    took=$(secs "$t0" "$(now)")
    code=$(podman inspect --format '{{.State.ExitCode}}' "$CTR")
    report "stop (SIGTERM) to exit:   $took s, exit code $code"
    [ "$code" = 0 ] || { echo "exit code $code"; return 1; }
    podman logs "$CTR" >"$OUT/service.log" 2>&1
    grep -q 'SIGTERM received' "$OUT/service.log" || { echo "no 'SIGTERM received' in the log"; return 1; }
    awk -v t="$took" 'BEGIN { exit !(t < 15) }' || { echo "took ${took}s"; return 1; }
}
check "podman stop: SIGTERM ends the service, exit code 0" check_stop
grep '^stop' "$REPORT" || true

report "container test:           $failed failed check group(s); logs in $OUT"
[ "$failed" = 0 ] || die "container test failed"
log "container test passed"
