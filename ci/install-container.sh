#!/usr/bin/env bash
# Installs what `make container-test` (ci/container-test.sh) uses: Debian 12's
# daemonless podman (4.3) with runc, and mmdebstrap for the base root file
# system (no container registry is reachable from CI). Idempotent.
#
# runc, not crun: Debian's crun refuses this kind of host's hybrid cgroup
# layout ("cgroups in hybrid mode not supported"). Rootful podman (CI runs as
# root) needs neither uidmap nor fuse-overlayfs: the kernel's overlayfs holds
# the layers. podman's dependencies bring the CNI plugins and iptables for
# the published port.
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
ensure_pkgs podman runc mmdebstrap curl python3
