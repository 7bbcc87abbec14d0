#!/usr/bin/env bash
# Runs the documented curl commands for a secured node against the real
# binary: `opendcre auth init` material, `opendcre serve` on the emulator
# with TLS and token auth, then curl with and without the token, TLS version
# limits, the hash-token helper and a certificate swap on SIGHUP.
# Everything is on 127.0.0.1 in a temporary directory; the server is stopped
# by its pid at the end. Needs curl and openssl (ci/install-auth-peers.sh).
#
# It also checks that /metrics reports the commit the build compiled in
# (`opendcre_build_info{commit}`, set by the Makefile: ci/build-commit.sh).
#
#   ci/auth-curl-check.sh            (builds target/debug/opendcre, with the commit)
#   OPENDCRE_BIN=path ci/auth-curl-check.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"
COMMIT=$("$ROOT/ci/build-commit.sh")
BIN=${OPENDCRE_BIN:-$ROOT/target/debug/opendcre}
if [ -z "${OPENDCRE_BIN:-}" ]; then
    # As the Makefile builds it (a no-op after `make auth-curl-check`'s build).
    (cd "$ROOT" && OPENDCRE_COMMIT=$COMMIT cargo build --locked --bin opendcre)
fi
command -v curl >/dev/null && command -v openssl >/dev/null \
    || { echo "curl/openssl missing: run ci/install-auth-peers.sh" >&2; exit 2; }

WORK=$(mktemp -d)
cleanup() {
    stop_node
    rm -rf "$WORK"
}
trap cleanup EXIT

PASS=0
FAIL=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        PASS=$((PASS + 1)); echo "ok    $1"
    else
        FAIL=$((FAIL + 1)); echo "FAIL  $1: expected $2, got $3"
    fi
}

# 1. First-boot material (what the image's first-boot script runs).
INIT_OUT=$("$BIN" auth init --dir "$WORK" --tls-listen 127.0.0.1:0 \
    --hostname localhost --hostname 127.0.0.1)
TOKEN=$(sed -n 's/^API token (shown only now): //p' <<<"$INIT_OUT")
check "auth init prints a token once" 1 "$([ -n "$TOKEN" ] && echo 1 || echo 0)"
check "security.toml holds no token" 0 "$(grep -c -- "$TOKEN" "$WORK/security.toml" || true)"
check "server key is private" 600 "$(stat -c %a "$WORK/tls/server.key")"
AGAIN=$("$BIN" auth init --dir "$WORK" --tls-listen 127.0.0.1:0)
check "second auth init changes nothing" 0 "$(grep -c "API token" <<<"$AGAIN" || true)"
sessions_in "$WORK/security.toml" "$WORK"

# 2. The service, reading security.toml beside its config file.
cat > "$WORK/opendcre.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
[emulator]
config = "$ROOT/firmware-api/emulator-configs/simple.json"
[log]
access_log = true
EOF
start_node "$WORK/serve.log" "$TLS_PORT_RE" "$BIN" serve --config "$WORK/opendcre.toml"
check "no plain-HTTP listener (plain_http = off)" 0 "$(grep -c 'listening on ' "$WORK/serve.log" || true)"
BASE="https://127.0.0.1:$PORT/opendcre/1.1"
CA="$WORK/tls/server.crt"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" || true; }

# 3. The documented commands.
check "curl with token: scan" 200 "$(code --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$BASE/scan")"
check "curl --oauth2-bearer: power on" 200 "$(code --cacert "$CA" --oauth2-bearer "$TOKEN" "$BASE/power/on/00000001/0dff")"
BODY=$(curl -s --max-time 10 --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$BASE/power/status/00000001/0dff")
check "power status JSON" on "$(sed -n 's/.*"power_status": *"\([a-z]*\)".*/\1/p' <<<"$BODY" | head -1)"
check "curl without token" 401 "$(code --cacert "$CA" "$BASE/test")"
CHALLENGE=$(curl -s -D - -o /dev/null --max-time 10 --cacert "$CA" "$BASE/test" | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')
check "401 carries a Bearer challenge" 'Bearer realm="opendcre"' "$CHALLENGE"
BODY=$(curl -s --max-time 10 --cacert "$CA" "$BASE/test")
check "401 body is JSON with http_code" 401 "$(sed -n 's/.*"http_code": *\([0-9]*\).*/\1/p' <<<"$BODY" | head -1)"
check "curl with a wrong token" 401 "$(code --cacert "$CA" -H "Authorization: Bearer odcre_wrong" "$BASE/test")"
check "curl -k (no CA) with token" 200 "$(code -k -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "curl without -k and without the CA" 000 "$(code -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "curl --tlsv1.3" 200 "$(code --tlsv1.3 --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "curl --tls-max 1.2" 200 "$(code --tls-max 1.2 --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "curl --tls-max 1.1 is refused" 000 "$(code --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "plain http:// to the TLS port" 000 "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/opendcre/1.1/test")"

# The build's commit in /metrics, as Prometheus scrapes it with the token.
if [ -n "$COMMIT" ]; then
    METRICS=$(curl -sS --max-time 30 --cacert "$CA" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/metrics" || true)
    check "/metrics: opendcre_build_info has commit=\"$COMMIT\"" 1 \
        "$(grep -c "^opendcre_build_info{.*commit=\"$COMMIT\"" <<<"$METRICS" || true)"
fi

# 4. hash-token reproduces the stored hash.
HASH=$(printf '%s\n' "$TOKEN" | "$BIN" auth hash-token --algorithm sha256)
check "hash-token matches security.toml" 1 "$(grep -c -- "$HASH" "$WORK/security.toml")"

# 5. Certificate swap on SIGHUP, listener kept.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$WORK/new.key" -out "$WORK/new.crt" 2>/dev/null
cp "$WORK/new.key" "$WORK/tls/server.key.new" && mv "$WORK/tls/server.key.new" "$WORK/tls/server.key"
cp "$WORK/new.crt" "$WORK/tls/server.crt.new" && mv "$WORK/tls/server.crt.new" "$WORK/tls/server.crt"
kill -HUP "$SERVER_PID"
for _ in $(seq 1 50); do
    grep -q "TLS material reloaded" "$WORK/serve.log" && break
    sleep 0.1
done
check "SIGHUP reload logged" 1 "$(grep -c 'TLS material reloaded' "$WORK/serve.log")"
check "new certificate served after SIGHUP" 200 "$(code --cacert "$WORK/new.crt" -H "Authorization: Bearer $TOKEN" "$BASE/test")"
check "service still running" 1 "$(kill -0 "$SERVER_PID" 2>/dev/null && echo 1 || echo 0)"
check "no token in the log" 0 "$(grep -c -- "$TOKEN" "$WORK/serve.log" || true)"

echo "auth-curl-check: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
