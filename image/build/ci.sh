#!/usr/bin/env bash
# `make image-ci`: the image stage of CI, from nothing. Builds the image and
# its RAUC bundle (signed, checked against the image's keyring), checks that
# a second assembly is bit-identical, boots it under QEMU with the
# REST and SSH checks, and prints one summary with the measured times. Each
# step has its own limit; make wraps the whole in IMAGE_CI_TIMEOUT.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

summary=$(mktemp)
trap 'rm -f "$summary" "$summary.times"' EXIT
t0=$(date +%s)
step() { # NAME LIMIT COMMAND...
    local name=$1 limit=$2 t rc=0
    shift 2
    t=$(date +%s)
    log "== $name (limit ${limit}s)"
    timeout --kill-after=30 "$limit" "$@" || rc=$?
    printf '%-12s %5ss  %s\n' "$name" "$(since "$t")" "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc$([ "$rc" = 124 ] && echo ', timed out'))")" >>"$summary"
    if [ "$rc" != 0 ]; then
        cat "$summary" >&2
        die "image CI step '$name' failed"
    fi
}
step image-tests 60 "$HERE/test-apply-settings.sh"
step security-tests 300 "$HERE/test-opendcre-security.sh"
step image 1500 "$HERE/build-image.sh"
cp "$IMAGE_OUT/build-times.txt" "$summary.times"
step bundle 300 "$HERE/bundle.sh"
step image-repro 900 env IMAGE_REPRO=assemble "$HERE/repro.sh"
# Two boots (first boot, and the restart after Manager.Reset), each with a
# per-boot API deadline of BOOT_TEST_API_TIMEOUT (1200 s), plus the checks
# between them: a CI run's first boot reached the API after 560 s and the
# restart after it did not come back inside the old 1,500 s; a from-nothing
# run took 1,466 s (460 s boot, 772 s restart).
step boot-test 2700 "$ROOT/image/boot-test/boot-test.sh"

echo "== image CI summary ($(since "$t0")s) =="
cat "$summary"
echo "-- image build stages (the 'image' step) --"
cat "$summary.times"
echo "-- artifacts --"
(cd "$IMAGE_OUT" && ls -lL --block-size=K ./*.img ./*.img.xz ./*.raucb && cat SHA256SUMS ./*.raucb.sha256)
echo "-- reproducibility --"
grep -E 'reproducibility check|\.img(\.xz)? \((A|B)\)|REPRODUCIBLE' build/image-repro-report.txt || true
echo "-- boot test --"
grep -E '^(boot to|opendcre start-up|guest boot|REST checks|requests:|BOOT TEST)' build/boot-test/report.txt || true
