#!/usr/bin/env bash
# `make lint`: shellcheck (-x, severity warning and up) over every shell script
# of the repository. The scripts are found, not listed: every file git tracks
# whose name ends in .sh or .bash, whose first line is a sh/bash/dash shebang,
# or whose first lines carry a `# shellcheck shell=` directive (sourced
# libraries such as ci/lib.sh and image/image.conf). So a new script is linted
# the day it is added.
#
# Usage: ci/lint-shell.sh           lint (installs shellcheck when missing)
#        ci/lint-shell.sh --list    print the scripts it would lint
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib.sh
. ci/lib.sh

is_shell() { # FILE
    case "$1" in *.sh | *.bash) return 0 ;; esac
    local first
    IFS= read -r first <"$1" 2>/dev/null || [ -n "$first" ] || return 1
    case "$first" in
    '#!'*) [[ "$first" =~ ^\#\![[:space:]]*(/usr)?/bin/(env[[:space:]]+)?(sh|bash|dash)([[:space:]]|$) ]] && return 0 ;;
    esac
    head -n 5 "$1" | grep -q '^# shellcheck shell=' 2>/dev/null
}

scripts=()
while IFS= read -r -d '' f; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    is_shell "$f" && scripts+=("$f")
done < <(git ls-files -z)
[ "${#scripts[@]}" -gt 0 ] || die "no shell scripts found (is this a git checkout?)"

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${scripts[@]}"
    exit 0
fi

command -v shellcheck >/dev/null || ensure_pkgs shellcheck
log "shellcheck $(shellcheck --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts"
if shellcheck -x -S warning "${scripts[@]}"; then
    echo "lint: ${#scripts[@]} passed, 0 failed"
else
    # Name the failing files (shellcheck's own output above has the details).
    failed=0
    for f in "${scripts[@]}"; do
        shellcheck -x -S warning -f quiet "$f" || { echo "FAIL $f"; failed=$((failed + 1)); }
    done
    echo "lint: $((${#scripts[@]} - failed)) passed, $failed failed"
    exit 1
fi
