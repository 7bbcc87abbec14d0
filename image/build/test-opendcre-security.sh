#!/usr/bin/env bash
# Host-side test of overlays/usr/lib/openmist/opendcre-security with the
# host build of opendcre: first boot with and without a token from the card,
# later boots without and with new material. The boot test covers the real
# boot path (and that the service accepts the result).
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"
SCRIPT="$ROOT/overlays/usr/lib/openmist/opendcre-security"
# Any host build will do; CI has dropped the debug build by the image stage
# (the release one is there for the boot test's emulator).
BIN=${OPENDCRE_BIN:-}
if [ -z "$BIN" ]; then
    for b in "$ROOT/target/debug/opendcre" "$ROOT/target/release/opendcre"; do
        [ -x "$b" ] && BIN=$b && break
    done
fi
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --locked --quiet --bin opendcre)
    BIN=$ROOT/target/debug/opendcre
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
check() { # DESCRIPTION COMMAND...
    local d=$1
    shift
    if "$@"; then echo "ok   $d"; else
        echo "FAIL $d"
        fails=$((fails + 1))
    fi
}
run() { OPENMIST_ROOT="$t/root" OPENDCRE_BIN="$BIN" OPENDCRE_OWNER="" sh "$SCRIPT" >"$t/out" 2>&1; }
sec=$t/root/etc/opendcre/security.toml
crt=$t/root/etc/opendcre/tls/server.crt
gen=$t/root/root/opendcre-api-token
sum() { sha256sum "$1" | cut -d' ' -f1; }

# 1. first boot without material from the card: everything generated
rm -rf "$t/root" && mkdir -p "$t/root/etc/opendcre"
check "first boot: runs" run
check "first boot: security.toml written" grep -q '^plain_http = "off"' "$sec"
check "first boot: token saved for root only" test "$(stat -c %a "$gen")" = 600
token=$(cat "$gen")
check "first boot: token not in the journal output" bash -c '! grep -qF "$0" "$1"' "$token" "$t/out"
check "first boot: token not in security.toml" bash -c '! grep -qF "$0" "$1"' "$token" "$sec"
check "first boot: fast hash for the random token" grep -q 'hash = "sha256:' "$sec"
check "first boot: generated certificate" test -s "$crt"
sec1=$(sum "$sec") crt1=$(sum "$crt")

# 2. second boot, nothing new: nothing changes
check "second boot: runs" run
check "second boot: says unchanged" grep -q unchanged "$t/out"
check "second boot: security.toml untouched" test "$(sum "$sec")" = "$sec1"
check "second boot: token kept" test "$(cat "$gen")" = "$token"

# 3. the card brings a client CA: mutual TLS added, token and certificate kept
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=site-ca \
    -keyout "$t/ca.key" -out "$t/root/etc/opendcre/tls/client-ca.pem" -days 2 2>/dev/null
check "new client CA: runs" run
check "new client CA: mutual TLS on" grep -q '^client_ca = ' "$sec"
check "new client CA: certificate kept" test "$(sum "$crt")" = "$crt1"
check "new client CA: token kept (argon2 hash of the same token)" grep -q 'hash = "\$argon2id\$' "$sec"
check "new client CA: token file unchanged" test "$(cat "$gen")" = "$token"

# 4. a later boot brings a token on the card: it replaces the generated one
echo "operator-chosen-token-later-0123456789" >"$t/root/etc/opendcre/api-token"
check "card token later: runs" run
check "card token later: generated token file removed" test ! -e "$gen"
check "card token later: says so" grep -q 'replaces the generated one' "$t/out"
check "card token later: certificate kept" test "$(sum "$crt")" = "$crt1"

# 5. first boot with a token from the card: nothing generated or saved
rm -rf "$t/root" && mkdir -p "$t/root/etc/opendcre"
echo "operator-chosen-token-0123456789" >"$t/root/etc/opendcre/api-token"
check "card token: runs" run
check "card token: no token file for root" test ! -e "$gen"
check "card token: argon2 hash" grep -q 'hash = "\$argon2id\$' "$sec"

# 6. a certificate without its key is a clear error, security.toml kept
cp "$sec" "$t/sec.before"
rm -f "$t/root/etc/opendcre/tls/server.key"
if run; then check "cert without key: fails" false; else check "cert without key: fails" true; fi
check "cert without key: says why" grep -q 'go together' "$t/out"
check "cert without key: security.toml kept" cmp -s "$sec" "$t/sec.before"

[ "$fails" = 0 ] || {
    echo "$fails check(s) failed; last output:" >&2
    cat "$t/out" >&2
    exit 1
}
echo "opendcre-security: all checks passed"
