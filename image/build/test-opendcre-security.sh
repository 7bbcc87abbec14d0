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
# As root (CI) the material goes to a reader group as on the node; nogroup
# stands in for opendcre.
if [ "$(id -u)" = 0 ]; then grp=nogroup; else grp=""; fi
run() { OPENMIST_ROOT="$t/root" OPENDCRE_BIN="$BIN" OPENDCRE_GROUP="$grp" sh "$SCRIPT" >"$t/out" 2>&1; }
etc=$t/root/etc/opendcre
sec=$etc/security.toml
crt=$etc/tls/server.crt
# What apply-settings does with the card's material: a root-only staging dir.
stage() { # NAME < CONTENT
    mkdir -p "$etc/incoming" && chmod 0700 "$etc/incoming"
    cat >"$etc/incoming/$1"
}
modes() { (cd "$etc" && stat -c '%U:%G %a %n' . tls security.toml tls/* | paste -sd' ' -); }
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
if [ -n "$grp" ]; then
    want="root:$grp 750 . root:$grp 750 tls root:$grp 640 security.toml root:$grp 640 tls/server.crt root:$grp 640 tls/server.key"
    check "first boot: root-owned, group-readable material ($(modes))" test "$(modes)" = "$want"
fi
sec1=$(sum "$sec") crt1=$(sum "$crt")

# 2. second boot, nothing new: nothing changes
check "second boot: runs" run
check "second boot: says unchanged" grep -q unchanged "$t/out"
check "second boot: security.toml untouched" test "$(sum "$sec")" = "$sec1"
check "second boot: token kept" test "$(cat "$gen")" = "$token"

# 2b. an upgrade from a version that gave the material to the service user:
# made again, root-owned, token and certificate kept
if [ -n "$grp" ]; then
    chown -R nobody:"$grp" "$sec" "$etc/tls"
    check "service-owned material: runs" run
    check "service-owned material: root's again ($(modes))" test "$(modes)" = "$want"
    check "service-owned material: certificate kept" test "$(sum "$crt")" = "$crt1"
    check "service-owned material: token kept" test "$(cat "$gen")" = "$token"
    check "service-owned material: then unchanged" bash -c 'OPENMIST_ROOT="$0/root" OPENDCRE_BIN="$1" OPENDCRE_GROUP="$2" sh "$3" | grep -q unchanged' "$t" "$BIN" "$grp" "$SCRIPT"
fi

# 3. the card brings a client CA: mutual TLS added, token and certificate kept
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=site-ca \
    -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 2>/dev/null
stage client-ca.pem <"$t/ca.pem"
check "new client CA: runs" run
check "new client CA: mutual TLS on, the checked copy in tls/" grep -q '^client_ca = ".*/etc/opendcre/tls/client-ca.pem"' "$sec"
check "new client CA: staged file consumed" test ! -e "$etc/incoming/client-ca.pem"
check "new client CA: certificate kept" test "$(sum "$crt")" = "$crt1"
check "new client CA: token kept (argon2 hash of the same token)" grep -q 'hash = "\$argon2id\$' "$sec"
check "new client CA: token file unchanged" test "$(cat "$gen")" = "$token"

# 4. a later boot brings a token on the card: it replaces the generated one
echo "operator-chosen-token-later-0123456789" | stage api-token
check "card token later: runs" run
check "card token later: kept root-only for later rotations" test "$(stat -c '%U %a' "$etc/api-token")" = "root 600"
check "card token later: staging empty" test -z "$(ls -A "$etc/incoming")"
check "card token later: generated token file removed" test ! -e "$gen"
check "card token later: says so" grep -q 'replaces the generated one' "$t/out"
check "card token later: certificate kept" test "$(sum "$crt")" = "$crt1"

# 5. first boot with a token from the card: nothing generated or saved
rm -rf "$t/root" && mkdir -p "$t/root/etc/opendcre"
echo "operator-chosen-token-0123456789" | stage api-token
check "card token: runs" run
check "card token: no token file for root" test ! -e "$gen"
check "card token: argon2 hash" grep -q 'hash = "\$argon2id\$' "$sec"

# 6. a certificate without its key is a clear error, security.toml kept
cp "$sec" "$t/sec.before"
stage server.crt <"$crt"
if run; then check "cert without key: fails" false; else check "cert without key: fails" true; fi
check "cert without key: says why" grep -q 'go together' "$t/out"
check "cert without key: security.toml kept" cmp -s "$sec" "$t/sec.before"
rm -f "$etc/incoming/server.crt"

# 7. a key that does not fit the certificate: refused, the live set kept,
# the staged files left for the operator
crt_before=$(sum "$crt") key_before=$(sum "$etc/tls/server.key")
stage server.crt <"$crt"
stage server.key <"$t/ca.key"
if run; then check "bad card pair: fails" false; else check "bad card pair: fails" true; fi
check "bad card pair: security.toml kept" cmp -s "$sec" "$t/sec.before"
check "bad card pair: live pair kept" test "$(sum "$crt")/$(sum "$etc/tls/server.key")" = "$crt_before/$key_before"
check "bad card pair: staged files kept" test -f "$etc/incoming/server.key"
rm -f "$etc/incoming/server.crt" "$etc/incoming/server.key"

# 8. a certificate and key from the card replace one installed through
# Redfish (the service's certificate store)
mkdir -p "$t/root/var/lib/opendcre/tls"
echo "stored pair" >"$t/root/var/lib/opendcre/tls/server.pem"
stage server.crt <"$crt"
stage server.key <"$etc/tls/server.key"
check "card pair over a replaced one: runs" run
check "card pair over a replaced one: the store's pair removed" test ! -e "$t/root/var/lib/opendcre/tls/server.pem"
cp "$sec" "$t/sec.before"

# 9. a staging directory others could write is not trusted
stage server.crt <"$crt"
stage server.key <"$etc/tls/server.key"
chmod 0777 "$etc/incoming"
if run; then check "open staging dir: refused" false; else check "open staging dir: refused" true; fi
check "open staging dir: says why" grep -q 'not a root-only' "$t/out"
check "open staging dir: security.toml kept" cmp -s "$sec" "$t/sec.before"

[ "$fails" = 0 ] || {
    echo "$fails check(s) failed; last output:" >&2
    cat "$t/out" >&2
    exit 1
}
echo "opendcre-security: all checks passed"
