#!/usr/bin/env bash
# The API contract test (`make api-contract`): openapi-spec-validator on the
# document, then schemathesis, pinned, from
# its private venv (ci/install-schemathesis.sh), against the real binary
# serving the emulator rack (firmware-api/emulator-configs/rack.json) on
# 127.0.0.1, with the document the node itself serves
# (GET /opendcre/openapi.json, firmware-api/crates/api/openapi.json).
#
# Checks (and why not the others):
#   status_code_conformance       every status is one the document lists
#   content_type_conformance      every Content-Type is one it lists
#   response_schema_conformance   every body matches the status's schema
#   response_headers_conformance  documented response headers are present
#                                 and match (Allow of OPTIONS, …)
#   unsupported_method            an undocumented method is a 405
#   allow_header_conformance      …whose Allow lists the documented methods
#   not_a_server_error is left out: v1.1 answers 500 for every application
#   failure by design (a bad id, an unknown device type), and the document
#   says so; negative_data_rejection / positive_data_acceptance are left out
#   because the documented patterns are a subset of what the server accepts
#   (Python's int(x, 16) takes `0x1`, ` 1`, …), and a v1.1 rejection is a
#   500, not a 4xx.
# Two runs: the open emulator node, then a secured one (TLS and a token from
# `opendcre auth init`) with ignored_auth added: every operation refused
# without credentials (see below).
# The power and write routes are GETs that change the emulator's state;
# that is fine on the emulator. Deterministic: fixed seed, bounded examples.
#
#   ci/schemathesis.sh            (builds target/debug/opendcre if needed)
#   OPENDCRE_BIN=path ci/schemathesis.sh
#   MAX_EXAMPLES=20 SEED=18 ci/schemathesis.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"
BIN=${OPENDCRE_BIN:-$ROOT/target/debug/opendcre}
MAX_EXAMPLES=${MAX_EXAMPLES:-20}
SEED=${SEED:-18}
CHECKS=status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance

bash "$ROOT/ci/install-schemathesis.sh"
ST=$(bash "$ROOT/ci/install-schemathesis.sh" --print-bin)
OSV=$(bash "$ROOT/ci/install-schemathesis.sh" --print-validator)
# The document against the OpenAPI 3.1 meta-schema first: schemathesis
# tolerates some schema errors that other tools would not.
"$OSV" "$ROOT/firmware-api/crates/api/openapi.json"
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --locked --bin opendcre)
fi

WORK=$(mktemp -d)
cleanup() {
    stop_node
    rm -rf "$WORK"
}
trap cleanup EXIT

# run_schemathesis NAME DOCUMENT [OPTION...] — one run (DOCUMENT a URL or a
# file), its own exit status and time; the server log's tail when it failed.
run_schemathesis() {
    local name=$1 doc=$2 rc=0 start
    shift 2
    echo "schemathesis ($name): $("$ST" --version), against 127.0.0.1:$PORT, seed $SEED, at most $MAX_EXAMPLES examples per operation"
    start=$(date +%s)
    (cd "$WORK" && "$ST" --no-color run "$doc" \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --request-timeout 10 \
        --workers 1 "$@") || rc=$?
    echo "schemathesis ($name): exit $rc after $(since "$start") s"
    if [ "$rc" -ne 0 ]; then
        echo "server log (tail):" >&2
        tail -n 40 "$WORK/serve.log" >&2
    fi
    return "$rc"
}

# The event stream (GET /opendcre/2/events) lasts 300 s by default, longer
# than schemathesis waits for an answer: in both runs each stream ends after
# 2 s, so it is checked like every other route (status, Content-Type,
# headers).
STREAM_SECS='event_stream_max_secs = 2'

# 1. The open emulator node (no [auth]: loopback only), every operation.
printf '[server]\n%s\n' "$STREAM_SECS" >"$WORK/opendcre.toml"
start_node "$WORK/serve.log" "$PLAIN_PORT_RE" "$BIN" serve --config "$WORK/opendcre.toml" \
    --emulator "$ROOT/firmware-api/emulator-configs/rack.json" --listen 127.0.0.1:0
rc=0
run_schemathesis open "http://127.0.0.1:$PORT/opendcre/openapi.json" --checks "$CHECKS" || rc=$?
stop_node

# 2. A secured node as `opendcre auth init` makes it (TLS only, a token):
# the same checks with the token, plus ignored_auth, which sends each
# operation without credentials and wants 401. The document lists `{}`
# (anonymous) among the alternatives for the open mode, which turns that
# check off; this run uses the document without it, since a secured node
# must refuse every operation to a client without credentials.
"$BIN" auth init --dir "$WORK/secured" --tls-listen 127.0.0.1:0 --hostname 127.0.0.1 >"$WORK/init.out"
TOKEN=$(sed -n 's/^API token (shown only now): //p' "$WORK/init.out")
[ -n "$TOKEN" ] || die "auth init printed no token"
# ignored_auth also sends wrong tokens, and the brute-force limiter holds
# each of those for up to 10 s once an address has used up its burst (as it
# should: tests/auth_tokens.rs); off here so the run stays short.
printf '\n[auth.rate_limit]\nenabled = false\n' >>"$WORK/secured/security.toml"
sessions_in "$WORK/secured/security.toml" "$WORK/secured"
cat >"$WORK/secured/opendcre.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
$STREAM_SECS
[emulator]
config = "$ROOT/firmware-api/emulator-configs/rack.json"
EOF
"$(dirname "$ST")/python" - "$ROOT/firmware-api/crates/api/openapi.json" "$WORK/secured.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
def strip(alternatives):
    return [a for a in alternatives if a]
doc["security"] = strip(doc["security"])
# An operation that is public on every node ([] or only {}, the dashboard's
# files) stays public.
for item in doc["paths"].values():
    for op in item.values():
        if isinstance(op, dict) and strip(op.get("security", [])):
            op["security"] = strip(op["security"])
json.dump(doc, open(sys.argv[2], "w"))
PY
start_node "$WORK/serve.log" "$TLS_PORT_RE" "$BIN" serve --config "$WORK/secured/opendcre.toml"
run_schemathesis secured "$WORK/secured.json" --url "https://127.0.0.1:$PORT" \
    --tls-verify "$WORK/secured/tls/server.crt" -H "Authorization: Bearer $TOKEN" \
    --checks "$CHECKS,ignored_auth" || rc=$?
exit "$rc"
