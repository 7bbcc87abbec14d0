#!/usr/bin/env bash
# Builds the container image from the .deb (see Dockerfile). Needs a Docker
# host: a docker CLI that reaches a running engine.
#
# Usage: ci/docker-build.sh --check-host   exit 1 with a clear message without a Docker host
#        ci/docker-build.sh [ARCH]         build opendcre:<version> from build/deb/opendcre_<version>_<ARCH>.deb
#                                          (ARCH default: the engine's architecture)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

check_host() {
    command -v docker >/dev/null ||
        die "'make docker' needs a Docker host: no docker CLI here. Build the .deb with 'make deb', copy the repository to a machine with Docker and run 'make docker' there (packaging/README.md)."
    docker info >/dev/null 2>&1 ||
        die "'make docker' needs a Docker host: the docker CLI is here but reaches no running engine (docker info failed). Run it where a Docker engine runs (packaging/README.md)."
}

if [ "${1:-}" = "--check-host" ]; then
    check_host
    exit 0
fi
check_host

if [ -n "${1:-}" ]; then
    ARCH=$1
else
    case "$(docker info --format '{{.Architecture}}')" in
    x86_64 | amd64) ARCH=amd64 ;;
    armv7l | armhf | arm) ARCH=armhf ;;
    *) die "Docker engine architecture $(docker info --format '{{.Architecture}}') has no .deb here (amd64, armhf)" ;;
    esac
fi
VERSION=$(sed -n '1s/^opendcre (\([^)]*\)).*/\1/p' "$ROOT/packaging/debian/changelog")
DEB=build/deb/opendcre_${VERSION}_${ARCH}.deb
[ -f "$ROOT/$DEB" ] || die "$DEB not found: run 'make deb-$ARCH' first"
log "building opendcre:$VERSION from $DEB"
docker build --build-arg "DEB=$DEB" -t "opendcre:$VERSION" -t opendcre:latest "$ROOT"
