#!/usr/bin/env bash
# Brute-force and memory numbers of the authentication layer (issue 14), for
# this tree or, with a revision, for that revision under this tree's tests:
#
#   ci/auth-bruteforce-measure.sh                 # the working tree
#   ci/auth-bruteforce-measure.sh fe0656e         # an older revision
#   ci/auth-bruteforce-measure.sh /work/old-tree  # a checkout of one, kept
#
# With a revision, a temporary worktree of it gets this tree's auth test
# files (the tests use only the public API the older code has too), its own
# target directory, and the same argon2 optimisation as the dev profile
# here, then is removed. A directory is used the same way but kept, with
# its target directory, so a second run does not rebuild everything. The tests print what they measure; this prints
# those lines and each test's verdict. Debug build; argon2 and blake2 at
# opt-level 3 (see [profile.dev.package] in Cargo.toml). slapd is needed for
# the LDAP lines (ci/install-auth-peers.sh); without it they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib.sh
source ci/lib.sh

tests=(
    auth_tokens::concurrent_wrong_tokens_are_not_all_verified
    auth_ldap::concurrent_password_guesses_are_not_all_tried
    auth_tokens::a_burst_of_wrong_argon2_tokens_does_not_grow_memory
    auth_tokens::valid_tokens_pass_from_an_address_that_failed_too_often
    auth_tokens::failures_from_other_addresses_do_not_clear_a_locked_out_one
    auth_jwt::a_hanging_provider_does_not_stall_users_of_cached_keys
)
files=(auth_tokens.rs auth_ldap.rs auth_jwt.rs auth_matrix.rs common/mod.rs)

tree=$PWD
target=${CARGO_TARGET_DIR:-$PWD/target}
if [ $# -gt 0 ]; then
    if [ -d "$1" ]; then
        tree=$(cd "$1" && pwd)
    else
        tree=$(mktemp -d /tmp/auth-measure.XXXXXX)
        rmdir "$tree"
        git worktree add --detach "$tree" "$1" >&2
        trap 'git worktree remove --force "$tree"' EXIT
    fi
    for f in "${files[@]}"; do
        cp "firmware-api/tests/$f" "$tree/firmware-api/tests/$f"
    done
    target=$tree/target
fi

log "measuring $(git -C "$tree" rev-parse --short HEAD) in $tree"
out=$(mktemp)
for t in "${tests[@]}"; do
    (cd "$tree" && CARGO_TARGET_DIR=$target nice -n 5 cargo test --locked --test integration \
        --config 'profile.dev.package.argon2.opt-level=3' \
        --config 'profile.dev.package.blake2.opt-level=3' \
        "$t" -- --exact --nocapture 2>&1) >"$out" || true
    grep -E '^(200 concurrent|100 concurrent|VmHWM|after 15|after 4,100|JWT checks)' "$out" || true
    grep -E "^test $t |panicked|^(  left|  right|.*wanted)" "$out" || true
done
rm -f "$out"
