# shellcheck shell=bash
# The one preamble of the image scripts (image/build/*.sh and
# image/boot-test/boot-test.sh). Each of them starts with
#
#   # shellcheck source=image/build/lib.sh
#   . "$(dirname "$0")/lib.sh"          (image/boot-test: .../../build/lib.sh)
#
# and then has:
#   * strict mode: set -euo pipefail
#   * HERE   the running script's directory (absolute)
#   * BUILD  image/build (absolute): the stages, install-deps.sh
#   * ROOT   the repository root (absolute), also the working directory:
#            relative paths (arguments, IMAGE_OUT, IMAGE_WORK, build/...)
#            are relative to it
#   * ci/lib.sh: log, warn, die, require_root, apt with retries, since,
#     tree_sums, ...
#   * the recipe's variables from image/image.conf (IMAGE_SUITE,
#     IMAGE_CACHE_DIR, IMAGE_OUT, ...), each overridable from the environment
set -euo pipefail
# shellcheck disable=SC2034 # used by the scripts that source this file
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BUILD/../.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"
cd "$ROOT"
# shellcheck source=image/image.conf
. image/image.conf
