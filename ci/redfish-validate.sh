#!/usr/bin/env bash
# The Redfish conformance check (`make redfish-check`): the DMTF Redfish
# Service Validator, pinned, from its private venv
# (ci/install-redfish-validator.sh), offline against the DMTF schemas in
# ../shared/redfish/csdl (`--skipschema`: nothing is downloaded), and a
# real node: `opendcre serve` on the emulator rack
# (firmware-api/emulator-configs/rack.json) and one real BMC (ipmi_sim,
# ci/peers/ipmi_sim) with the TLS listener and the
# token that `opendcre auth init` makes, a local account and LDAP, since the
# validator authenticates with Basic or a Redfish session only. Two runs:
# first as the local reader `validator` through a Redfish session
# (`--authtype Session`: POST …/Sessions, X-Auth-Token, DELETE at the end;
# the server log must show the session made), then as LDAP user bob, a
# reader, with HTTP Basic (the directory is the auth tests' throw-away
# slapd, ci/peers/slapd/start.sh). Both only read. 0 failures in each, or
# the step fails and prints the validator's failures and the server log.
# Then sushy (ci/redfish-sushy.py, ci/install-sushy.sh) logs in as the local
# operator `sushy` with a session and switches power device 00000001/16ff
# (stateful in the copy of the rack this script serves) and the ipmi_sim
# BMC's server off, on and through a cycle, each state confirmed through
# the v1.1 API, and sets the BMC server's boot override to PXE (once),
# confirmed with ipmitool on the BMC. Then DMTF's rf_accounts.py
# (redfish-utilities, ci/install-redfish-utilities.sh) manages an account
# through the account service as the local admin `rfpv`, each step checked
# by what the account can do, and its rf_update.py installs a bundle and
# must show a failed install as failed; then, as `rfpv` too, its
# rf_power_reset.py, rf_boot_override.py, rf_logs.py, rf_sel.py,
# rf_sensor_list.py, rf_event_service.py and rf_certificates.py, each
# checked by what the node, the BMC (ipmitool) or the tool shows. Last, the DMTF Redfish
# Protocol Validator (ci/install-protocol-validator.sh) as the local
# administrator `rfpv` (it makes, changes and deletes accounts) over TLS, trusting the node's certificate (it makes some
# of its requests without its --ca-bundle, so REQUESTS_CA_BUNDLE too):
# 0 failures. Then the DMTF Redfish Interop Validator
# (ci/install-interop-validator.sh) with the OCP OpenRMC profile
# (../shared/redfish/profiles, the copy its profile check accepts; it
# downloads nothing) as the reader `validator` with a session:
# ci/interop-report.py prints the mandatory requirements that fail and the
# recommended ones not met, and the step fails unless they are exactly the
# table of docs/redfish.md "OpenRMC profile conformance".
#
#   ci/redfish-validate.sh           (builds target/debug/opendcre, up to date)
#   OPENDCRE_BIN=path ci/redfish-validate.sh
#   REDFISH_CSDL=dir ci/redfish-validate.sh    (default ../shared/redfish/csdl)
#   OPENRMC_PROFILE=file ...                   (default ../shared/redfish/profiles/OCPRackManagerController.v1_1_0.schema-fixed.json)
#   REDFISH_REPORT_DIR=dir ...                 (reports; default target/redfish-validator)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"
BIN=${OPENDCRE_BIN:-$ROOT/target/debug/opendcre}
CSDL=${REDFISH_CSDL:-$ROOT/../shared/redfish/csdl}
[ -f "$CSDL/ServiceRoot_v1.xml" ] ||
    { echo "no DMTF CSDL schemas in $CSDL (set REDFISH_CSDL to the directory of DSP8010's csdl/)" >&2; exit 2; }
PROFILE=${OPENRMC_PROFILE:-$ROOT/../shared/redfish/profiles/OCPRackManagerController.v1_1_0.schema-fixed.json}
[ -f "$PROFILE" ] || { echo "no OpenRMC profile at $PROFILE (set OPENRMC_PROFILE)" >&2; exit 2; }

bash "$ROOT/ci/install-redfish-validator.sh"
RFSV=$(bash "$ROOT/ci/install-redfish-validator.sh" --print-bin)
bash "$ROOT/ci/install-sushy.sh"
SUSHY_PY=$(bash "$ROOT/ci/install-sushy.sh" --print-python)
bash "$ROOT/ci/install-protocol-validator.sh"
RFPV=$(bash "$ROOT/ci/install-protocol-validator.sh" --print-bin)
bash "$ROOT/ci/install-interop-validator.sh"
RFIV=$(bash "$ROOT/ci/install-interop-validator.sh" --print-bin)
bash "$ROOT/ci/install-redfish-utilities.sh"
RFU_BIN=$(bash "$ROOT/ci/install-redfish-utilities.sh" --print-bin)
# The default binary is built every time (nothing to do when it is up to
# date): a run after a change must not validate the build before it.
if [ -z "${OPENDCRE_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --locked --bin opendcre)
fi
[ -x "$BIN" ] || { echo "no opendcre binary at $BIN" >&2; exit 2; }

WORK=$(mktemp -d)
SERVER_PID=""
RECEIVER_PID=""
FILES_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [ -z "$RECEIVER_PID" ] || kill "$RECEIVER_PID" 2>/dev/null || true
    [ -z "$FILES_PID" ] || kill "$FILES_PID" 2>/dev/null || true
    bash "$ROOT/ci/peers/slapd/stop.sh" "$WORK/slapd" || true
    sh "$ROOT/ci/peers/ipmi_sim/stop.sh" "$WORK/bmc" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Free loopback ports: slapd (ldap://, ldaps://) and the ipmi_sim BMC (UDP).
read -r LDAP_PORT LDAPS_PORT BMC_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)] + [socket.socket(type=socket.SOCK_DGRAM)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
# A real BMC (OpenIPMI ipmi_sim, as the IPMI tests use): its server is a
# computer system of the Redfish tree.
sh "$ROOT/ci/peers/ipmi_sim/start.sh" "$BMC_PORT" "$WORK/bmc" > "$WORK/bmc.out" 2>&1 ||
    { echo "ipmi_sim did not start:" >&2; cat "$WORK/bmc.out" >&2; exit 1; }
# Two SEL records (Add SEL Entry; the BMC sets id and time), so the
# validators see the server's SEL entries: a threshold event (temperature
# sensor 0x30, upper critical going high) and a sensor-specific one
# (processor 0x05, thermal trip, deasserted).
for rec in "0x01 0x30 0x01 0x59 0x5a 0x50" "0x07 0x05 0xef 0x01 0xff 0xff"; do
    # shellcheck disable=SC2086 # the record's bytes are separate arguments
    ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$BMC_PORT" -U ADMIN -P ADMIN -N 1 -R 3 \
        raw 0x0a 0x44 0 0 0x02 0 0 0 0 0x20 0x00 0x04 $rec > /dev/null ||
        { echo "ipmitool could not add a SEL record" >&2; exit 1; }
done
bash "$ROOT/ci/peers/slapd/start.sh" "$WORK/slapd" "$LDAP_PORT" "$LDAPS_PORT" > "$WORK/slapd.out" 2>&1 ||
    { echo "slapd did not start:" >&2; cat "$WORK/slapd.out" >&2; exit 1; }

API_TOKEN=$("$BIN" auth init --dir "$WORK" --tls-listen 127.0.0.1:0 --hostname 127.0.0.1 |
    sed -n 's/^API token (shown only now): //p')
[ -n "$API_TOKEN" ] || { echo "auth init printed no API token" >&2; exit 1; }
# Local accounts with random passwords, hashed by the node's own CLI
# (a fixed start: one beginning with "-" would read as an option to the
# validators).
LOCAL_PW=$(python3 -c 'import secrets; print("pw" + secrets.token_urlsafe(18))')
SUSHY_PW=$(python3 -c 'import secrets; print("pw" + secrets.token_urlsafe(18))')
RFPV_PW=$(python3 -c 'import secrets; print("pw" + secrets.token_urlsafe(18))')
cat >> "$WORK/security.toml" <<TOML
[auth.users.validator]
password_hash = "$(printf '%s\n' "$LOCAL_PW" | "$BIN" auth hash-password)"
role = "reader"
[auth.users.sushy]
password_hash = "$(printf '%s\n' "$SUSHY_PW" | "$BIN" auth hash-password)"
role = "operator"
[auth.users.rfpv]
password_hash = "$(printf '%s\n' "$RFPV_PW" | "$BIN" auth hash-password)"
role = "admin"
TOML
# Accounts made through Redfish (the Protocol Validator makes, changes and
# deletes some) go to this run's directory, not the machine's /var/lib.
if grep -q '^\[auth\]$' "$WORK/security.toml"; then
    sed -i "/^\[auth\]\$/a accounts_file = \"$WORK/accounts.json\"" "$WORK/security.toml"
else
    printf '[auth]\naccounts_file = "%s"\n' "$WORK/accounts.json" >> "$WORK/security.toml"
fi
# So do the session timeout, the lockout policy an administrator sets and
# the accounts locked.
grep -q '^\[auth\.lockout\]$' "$WORK/security.toml" &&
    { echo "security.toml from auth init has [auth.lockout]: set its files here" >&2; exit 1; }
# auth init's [auth.sessions] (the sessions file): both files here.
sessions_in "$WORK/security.toml" "$WORK"
sed -i "/^\[auth\.sessions\]\$/a settings_file = \"$WORK/session-service.json\"" "$WORK/security.toml"
grep -qxF "settings_file = \"$WORK/session-service.json\"" "$WORK/security.toml" ||
    { echo "no [auth.sessions] settings_file set in $WORK/security.toml" >&2; exit 1; }
printf '[auth.lockout]\nsettings_file = "%s"\nlocks_file = "%s"\n' \
    "$WORK/account-service.json" "$WORK/account-locks.json" >> "$WORK/security.toml"
# The example rack with power device 00000001/16ff stateful (on/off switch
# what it reads), so sushy's resets can be seen through the v1.1 API.
python3 - "$ROOT/firmware-api/emulator-configs/rack.json" "$WORK/rack.json" <<'PY'
import json, sys
rack = json.load(open(sys.argv[1]))
for b in rack["boards"]:
    for d in b["devices"]:
        if b["board_id"] == "00000001" and d["device_id"] == "16ff":
            d.update(has_state=True, power="0,1215,4528,2320",
                     on="0,1215,4528,2320", off="64,0,4529,2075")
json.dump(rack, open(sys.argv[2], "w"), indent=1)
PY
cat >> "$WORK/security.toml" <<TOML
[auth.ldap]
url = "ldap://127.0.0.1:$LDAP_PORT"
timeout_ms = 2000
mode = "search"
bind_dn = "cn=svc,ou=services,dc=example,dc=org"
bind_password = "svc-pw"
user_base = "ou=people,dc=example,dc=org"
group_base = "ou=groups,dc=example,dc=org"
group_roles = { "dcre-operators" = "operator", "dcre-readers" = "reader" }
TOML
# The update service on, with the stand-in rauc the integration tests use
# (status from a fixture; installs are not pushed by the validators): the
# validators check UpdateService, its FirmwareInventory and the TaskService.
mkdir -p "$WORK/rauc" "$WORK/upload"
cp "$ROOT/firmware-api/tests/data/rauc-stand-in.sh" "$WORK/rauc/rauc"
cp "$ROOT/firmware-api/tests/data/rauc-status.json" "$WORK/rauc/status.json"
# The node's network settings writable as on the image: PATCHes would go
# to a request file here (the validators only read), and the summary of
# the applied settings is what the image's own apply-settings writes for a
# settings file of DHCP (into a scratch root, never this machine's
# network). The settings stand for every interface of this machine, as the
# image's wired network does for eth0/usb0.
mkdir -p "$WORK/netroot/etc" "$WORK/run"
printf 'network=dhcp\n' > "$WORK/openmist.txt"
OPENMIST_ROOT="$WORK/netroot" sh "$ROOT/overlays/usr/lib/openmist/apply-settings" "$WORK/openmist.txt" > /dev/null
NET_IFS=$(find /sys/class/net -mindepth 1 -maxdepth 1 ! -name lo -printf '"%f", ' | sed 's/, $//')
cat > "$WORK/opendcre.toml" <<TOML
[update]
enabled = true
rauc = "$WORK/rauc/rauc"
upload_dir = "$WORK/upload"
[server]
listen = ["127.0.0.1:0"]
[emulator]
config = "$WORK/rack.json"
[event_log]
path = "$WORK/events.jsonl"
[event_service]
subscriptions_path = "$WORK/subscriptions.json"
[manager]
certificate_store = "$WORK/certificate-store"
asset_tags = "$WORK/asset-tags.json"
aggregates = "$WORK/aggregates.json"
report_definitions = "$WORK/report-definitions.json"
network_request = "$WORK/run/network-request"
network_state = "$WORK/netroot/run/openmist/network.env"
network_interfaces = [$NET_IFS]
[rack]
manufacturer = "Vapor IO"
model = "Vapor Chamber"
part_number = "VC-48U"
serial_number = "VC2016-0042"
[[ipmi.bmc]]
device_id = 1
ip = "127.0.0.1"
port = $BMC_PORT
username = "ADMIN"
password = "ADMIN"
interface = "lanplus"
cipher_suite = 3
asset_info = "web-01, rack 4 slot 12"
TOML
# Each bus board's nameplate, as an operator records it (the bus reads none).
python3 - "$WORK/rack.json" >> "$WORK/opendcre.toml" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["boards"]:
    i = b["board_id"]
    print(f'[boards."{i}"]\nmanufacturer = "Vapor IO"\nmodel = "Vapor Edge PLC board"\n'
          f'part_number = "VE-PLC-2"\nserial_number = "VE2016-{i[-4:]}"')
PY
"$BIN" serve --config "$WORK/opendcre.toml" > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening with TLS on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "server did not start:" >&2
    cat "$WORK/serve.log" >&2
    exit 1
fi

# Its HTML/Excel reports and debug log stay after the run (target/ is not
# tracked): the place to look when a check fails.
REPORTS=${REDFISH_REPORT_DIR:-$ROOT/target/redfish-validator}
rm -rf "$REPORTS"

validate() { # validate LABEL USER PASSWORD AUTHTYPE
    local label=$1 user=$2 pw=$3 authtype=$4 rc=0 start elapsed
    echo "redfish-service-validator ($RFSV) against https://127.0.0.1:$PORT as $label ($authtype)"
    mkdir -p "$REPORTS/$user"
    start=$(date +%s)
    (cd "$WORK" && "$RFSV" --rhost "https://127.0.0.1:$PORT" -u "$user" -p "$pw" --authtype "$authtype" \
        --schema_directory "$CSDL" --skipschema --timeout 20 --logdir "$REPORTS/$user") > "$WORK/validator.out" 2>&1 || rc=$?
    elapsed=$(($(date +%s) - start))
    cat "$WORK/validator.out"
    # The summary table's counts row: | PASS | WARN | FAIL | NOT TESTED |.
    local passed warned failed
    read -r passed warned failed _ < <(grep -A2 'PASS .*WARN .*FAIL' "$WORK/validator.out" | tail -1 | tr -d '|' || true)
    echo "redfish-service-validator as $label ($authtype): exit $rc, ${passed:-?} passed, ${warned:-?} warnings, ${failed:-?} failed, after $elapsed s"
    # Its exit status says whether anything failed; a run that checked
    # nothing (the walk stopped at the service root) must not pass either.
    if [ "$rc" -ne 0 ] || [ "${failed:-x}" != 0 ] || [ "${passed:-0}" -lt 100 ]; then
        echo "server log (tail):" >&2
        tail -n 40 "$WORK/serve.log" >&2
        exit 1
    fi
}

# One install through the update service (the stand-in rauc takes any file),
# so the validators also check a Task with its messages.
head -c 65536 /dev/urandom > "$WORK/bundle.raucb"
PUSH=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/bundle.raucb" \
    -o /dev/null -w '%{http_code} %header{location}' "https://127.0.0.1:$PORT/redfish/v1/UpdateService/upload")
TASK=${PUSH#* }
if [ "${PUSH%% *}" != 202 ] || [ -z "$TASK" ]; then
    echo "the bundle push answered '$PUSH', not 202 with a Location" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
for _ in $(seq 1 50); do
    STATE=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
        "https://127.0.0.1:$PORT$TASK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["TaskState"])')
    [ "$STATE" != Running ] && break
    sleep 0.1
done
[ "$STATE" = Completed ] || { echo "the install task $TASK ended $STATE" >&2; exit 1; }
echo "update service: a pushed bundle installed by the stand-in rauc ($TASK $STATE)"

# One periodic metric report definition (every rack sensor every 10 s,
# kept and sent as events), so the validators also check an operator's
# MetricReportDefinition and its MetricReport; its first report is made at
# once.
MRD=/redfish/v1/TelemetryService/MetricReportDefinitions
MADE=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
    --data '{"Id": "RackEvery10s", "Schedule": {"RecurrenceInterval": "PT10S"}}' \
    "https://127.0.0.1:$PORT$MRD")
[ "$MADE" = 201 ] || { echo "the metric report definition answered $MADE, not 201" >&2; tail -n 40 "$WORK/serve.log" >&2; exit 1; }
for _ in $(seq 1 50); do
    REPORT=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
        -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/redfish/v1/TelemetryService/MetricReports/RackEvery10s")
    [ "$REPORT" = 200 ] && break
    sleep 0.1
done
[ "$REPORT" = 200 ] || { echo "no report of the periodic definition ($REPORT)" >&2; exit 1; }
echo "telemetry: a periodic metric report definition and its first report"

# A second one of the ipmi_sim server's own sensors (OpenRMC "Stream power
# consumption all compute systems"), read over IPMI at each report: its
# first report must carry the BMC's values.
BMC_PROPS=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    "https://127.0.0.1:$PORT/redfish/v1/Chassis/40000000-0001/Sensors" |
    python3 -c 'import json,sys; print(json.dumps([m["@odata.id"] + "#/Reading" for m in json.load(sys.stdin)["Members"]]))')
MADE=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
    --data "{\"Id\": \"ServerEvery10s\", \"Schedule\": {\"RecurrenceInterval\": \"PT10S\"}, \"MetricProperties\": $BMC_PROPS}" \
    "https://127.0.0.1:$PORT$MRD")
[ "$MADE" = 201 ] || { echo "the BMC's metric report definition answered $MADE, not 201" >&2; exit 1; }
BMC_VALUES=0
for _ in $(seq 1 50); do
    BMC_VALUES=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
        "https://127.0.0.1:$PORT/redfish/v1/TelemetryService/MetricReports/ServerEvery10s" |
        python3 -c 'import json,sys; print(sum(v["MetricId"].startswith("40000000-0001-") for v in json.load(sys.stdin)["MetricValues"]))' 2>/dev/null || echo 0)
    [ "$BMC_VALUES" -gt 0 ] && break
    sleep 0.2
done
[ "$BMC_VALUES" -gt 0 ] || { echo "no report of the BMC's sensors" >&2; exit 1; }
echo "telemetry: a periodic report of the BMC's sensors ($BMC_VALUES values)"

# One kept group of systems (a bus power device and the BMC's server), so
# the validators also check an Aggregate.
AGG=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code} %header{location}' \
    --data '{"Name": "ci group", "Elements": [{"@odata.id": "/redfish/v1/Systems/00000002-06ff"}, {"@odata.id": "/redfish/v1/Systems/40000000-0001"}]}' \
    "https://127.0.0.1:$PORT/redfish/v1/AggregationService/Aggregates")
[ "${AGG%% *}" = 201 ] || { echo "creating an aggregate answered '$AGG', not 201" >&2; exit 1; }
echo "aggregation service: group ${AGG#* } kept"

# The node's label (the manager's ServiceIdentification, an administrator's
# PATCH behind the manager's ETag), so the validators also check it on the
# manager and in the service root.
MGR_ETAG=$(curl -sS --max-time 20 --cacert "$WORK/tls/server.crt" -u "rfpv:$RFPV_PW" -o /dev/null \
    -w '%header{etag}' "https://127.0.0.1:$PORT/redfish/v1/Managers/RackManager")
LABEL=$(curl -sS --max-time 20 --cacert "$WORK/tls/server.crt" -u "rfpv:$RFPV_PW" -X PATCH \
    -H 'Content-Type: application/json' -H "If-Match: $MGR_ETAG" -o /dev/null -w '%{http_code}' \
    --data '{"ServiceIdentification": "ci rack, node 1"}' \
    "https://127.0.0.1:$PORT/redfish/v1/Managers/RackManager")
[ "$LABEL" = 200 ] || { echo "labelling the manager answered $LABEL, not 200" >&2; exit 1; }
curl -sS --max-time 20 --cacert "$WORK/tls/server.crt" "https://127.0.0.1:$PORT/redfish/v1" \
    | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin).get("ServiceIdentification") != "ci rack, node 1")' \
    || { echo "the service root does not show the manager's label" >&2; exit 1; }
echo "manager: ServiceIdentification set, shown in the service root"

# One push subscription to a receiver on loopback (Python's http.server,
# answering 204 and keeping each body), proven with a test event; it stays
# for the validators to check an EventDestination.
python3 - "$WORK/received.jsonl" > "$WORK/receiver.port" 2> "$WORK/receiver.log" <<'PY' &
import http.server, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
RECEIVER_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/receiver.port" ] && break; sleep 0.1; done
RPORT=$(cat "$WORK/receiver.port")
SUB=$(curl -sS --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code} %header{location}' \
    --data "{\"Destination\": \"http://127.0.0.1:$RPORT/events\", \"Protocol\": \"Redfish\", \"Context\": \"ci\"}" \
    "https://127.0.0.1:$PORT/redfish/v1/EventService/Subscriptions")
[ "${SUB%% *}" = 201 ] || { echo "subscribing answered '$SUB', not 201" >&2; exit 1; }
curl -sS --fail --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' --data '{"MessageId": "Base.1.22.Success", "Message": "ci test event"}' \
    "https://127.0.0.1:$PORT/redfish/v1/EventService/Actions/EventService.SubmitTestEvent"
for _ in $(seq 1 100); do grep -q 'ci test event' "$WORK/received.jsonl" 2>/dev/null && break; sleep 0.1; done
grep -q '"Context":"ci".*ci test event\|ci test event.*"Context":"ci"' "$WORK/received.jsonl" || {
    echo "the test event did not reach the subscriber:" >&2
    cat "$WORK/received.jsonl" "$WORK/receiver.log" >&2 || true
    exit 1
}
echo "event service: subscription ${SUB#* } got the test event at 127.0.0.1:$RPORT"

validate "local user validator (reader)" validator "$LOCAL_PW" Session
# The run went through a session, not Basic: the node logged its creation
# (and, checked at the end, no password or token).
if ! grep -q 'session created.*user="validator"' "$WORK/serve.log"; then
    echo "the Session run made no Redfish session:" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
validate "LDAP user bob (reader)" bob bob-pw Basic

# A web server with the bundle, for sushy's SimpleUpdate (the node fetches
# it and the stand-in rauc installs it).
mkdir "$WORK/pub" && cp "$WORK/bundle.raucb" "$WORK/pub/"
python3 - "$WORK/pub" > "$WORK/files.port" 2> "$WORK/files.log" <<'PY' &
import functools, http.server, sys
H = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
FILES_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/files.port" ] && break; sleep 0.1; done
IMAGE_URI="http://127.0.0.1:$(cat "$WORK/files.port")/bundle.raucb"

echo "sushy smoke test ($SUSHY_PY) as local user sushy (operator, Session)"
START=$(date +%s)
if ! "$SUSHY_PY" "$ROOT/ci/redfish-sushy.py" "https://127.0.0.1:$PORT" "$WORK/tls/server.crt" \
    sushy "$SUSHY_PW" "$API_TOKEN" --boot "40000000-0001:$BMC_PORT" --pull "$IMAGE_URI" \
    00000001-16ff 40000000-0001; then
    echo "server log (tail):" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
echo "sushy smoke test: $(($(date +%s) - START)) s"

# DMTF's rf_accounts.py (redfish-utilities) as the admin rfpv: adds an
# Operator account, sets its password and role, disables, enables and
# unlocks it, renames it and deletes it; each step confirmed by what the account can
# do (HTTP Basic to the node) or what the service shows of it. A refused
# login may be 401 or, once this address used up its failure burst, 429.
echo "rf_accounts.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
RFU_PW1=$(python3 -c 'import secrets; print("pw" + secrets.token_urlsafe(18))')
RFU_PW2=$(python3 -c 'import secrets; print("pw" + secrets.token_urlsafe(18))')
rfa() {
    echo "+ rf_accounts.py $1 $2" >>"$WORK/rf_accounts.out"
    (cd "$WORK" && "$RFU_BIN/python" "$RFU_BIN/rf_accounts.py" -u rfpv -p "$RFPV_PW" \
        -r "https://127.0.0.1:$PORT" "$@") >>"$WORK/rf_accounts.out" 2>&1
}
as_rfu() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$WORK/tls/server.crt" \
        -u "${2:-rfu-ops}:$1" "https://127.0.0.1:$PORT/redfish/v1/Systems" || true
}
shown_rfu() {
    curl -sS --max-time 20 --cacert "$WORK/tls/server.crt" -u "rfpv:$RFPV_PW" \
        "https://127.0.0.1:$PORT/redfish/v1/AccountService/Accounts/rfu-ops" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("RoleId"), d.get("Enabled"))' 2>/dev/null || true
}
refused() { [ "$1" = 401 ] || [ "$1" = 429 ]; }
rfu_fail() {
    echo "rf_accounts.py: $1" >&2
    cat "$WORK/rf_accounts.out" >&2
    echo "server log (tail):" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
}
rfa --add rfu-ops "$RFU_PW1" Operator || rfu_fail "--add failed"
[ "$(as_rfu "$RFU_PW1")" = 200 ] && [ "$(shown_rfu)" = "Operator True" ] ||
    rfu_fail "the added account does not log in as an Operator"
rfa --setpassword rfu-ops "$RFU_PW2" || rfu_fail "--setpassword failed"
refused "$(as_rfu "$RFU_PW1")" && [ "$(as_rfu "$RFU_PW2")" = 200 ] ||
    rfu_fail "the new password is not the one in force"
rfa --setrole rfu-ops ReadOnly || rfu_fail "--setrole failed"
[ "$(shown_rfu)" = "ReadOnly True" ] || rfu_fail "the role did not change ($(shown_rfu))"
rfa --disable rfu-ops || rfu_fail "--disable failed"
refused "$(as_rfu "$RFU_PW2")" || rfu_fail "a disabled account logs in"
rfa --enable rfu-ops || rfu_fail "--enable failed"
rfa --unlock rfu-ops || rfu_fail "--unlock failed"
[ "$(as_rfu "$RFU_PW2")" = 200 ] || rfu_fail "the enabled account does not log in"
rfa --setname rfu-ops rfu-renamed || rfu_fail "--setname failed"
refused "$(as_rfu "$RFU_PW2")" && [ "$(as_rfu "$RFU_PW2" rfu-renamed)" = 200 ] ||
    rfu_fail "the renamed account does not log in by its new name only"
rfa --delete rfu-renamed || rfu_fail "--delete failed"
refused "$(as_rfu "$RFU_PW2" rfu-renamed)" || rfu_fail "a deleted account logs in"
echo "rf_accounts.py: add, set password, set role, disable, enable, unlock, rename, delete: ok, $(($(date +%s) - START)) s"

# DMTF's rf_update.py pushes the bundle (MultipartHttpPushUri) and reads
# the task monitor's last answer as the install's: a success says nothing
# of a failure, and an install the stand-in rauc fails (install-mode) must
# come back as that failure, not as a success (the tool exits 0 either
# way; what it prints tells).
echo "rf_update.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
rfupdate() {
    (cd "$WORK" && "$RFU_BIN/python" "$RFU_BIN/rf_update.py" -u rfpv -p "$RFPV_PW" \
        -r "https://127.0.0.1:$PORT" -i "$WORK/bundle.raucb") >"$WORK/rf_update.out" 2>&1
}
rfupdate_fail() {
    echo "rf_update.py: $1" >&2
    cat "$WORK/rf_update.out" >&2
    tail -n 20 "$WORK/serve.log" >&2
    exit 1
}
rfupdate || rfupdate_fail "the install failed"
if grep -qiE 'fail|error' "$WORK/rf_update.out"; then rfupdate_fail "a good install reads as a failure"; fi
echo fail >"$WORK/rauc/install-mode"
rfupdate || true
rm -f "$WORK/rauc/install-mode"
grep -q 'UpdateFailed' "$WORK/rf_update.out" && grep -qi 'general error' "$WORK/rf_update.out" ||
    rfupdate_fail "a failed install does not read as a failure"
echo "rf_update.py: an install, and a failed one shown as failed: ok, $(($(date +%s) - START)) s"

# More of DMTF's redfish-utilities as the admin rfpv, each tool's exit
# status and its effect checked: what the node (v1.1 API), the BMC
# (ipmitool) or the tool itself shows afterwards.
rft() { # rft TOOL ARG...: rf_TOOL.py, its output in rft.out (all calls in rft.log)
    local tool=$1 rc=0
    shift
    (cd "$WORK" && "$RFU_BIN/python" "$RFU_BIN/rf_$tool.py" -u rfpv -p "$RFPV_PW" \
        -r "https://127.0.0.1:$PORT" "$@") >"$WORK/rft.out" 2>&1 || rc=$?
    { echo "+ rf_$tool.py $*"; cat "$WORK/rft.out"; } >>"$WORK/rft.log"
    return "$rc"
}
rft_fail() {
    echo "$1" >&2
    cat "$WORK/rft.log" >&2
    echo "server log (tail):" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
}
bmc() { ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$BMC_PORT" -U ADMIN -P ADMIN -N 1 -R 3 "$@" 2>&1 || true; }
v11_power() { # the v1.1 API's power_status of power device 00000001/16ff
    curl -sS --max-time 20 --cacert "$WORK/tls/server.crt" -H "Authorization: Bearer $API_TOKEN" \
        "https://127.0.0.1:$PORT/opendcre/1.1/power/status/00000001/16ff" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["power_status"])' 2>/dev/null || true
}

# rf_power_reset.py: ForceOff and On of the bus power device (its state
# through the v1.1 API) and of the BMC's server (ipmitool's chassis power).
echo "rf_power_reset.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
for t in ForceOff:off On:on; do
    rft power_reset -s 00000001-16ff -t "${t%:*}" || rft_fail "rf_power_reset.py: ${t%:*} of 00000001-16ff failed"
    [ "$(v11_power)" = "${t#*:}" ] || rft_fail "rf_power_reset.py: after ${t%:*} the v1.1 API reads '$(v11_power)'"
    rft power_reset -s 40000000-0001 -t "${t%:*}" || rft_fail "rf_power_reset.py: ${t%:*} of 40000000-0001 failed"
    [ "$(bmc chassis power status)" = "Chassis Power is ${t#*:}" ] ||
        rft_fail "rf_power_reset.py: after ${t%:*} ipmitool reads '$(bmc chassis power status)'"
done
echo "rf_power_reset.py: ForceOff and On of 00000001-16ff (v1.1 API) and 40000000-0001 (ipmitool): ok, $(($(date +%s) - START)) s"

# rf_boot_override.py: sushy left the BMC's server at PXE; no override,
# then PXE again, each read back with ipmitool (the device selector).
echo "rf_boot_override.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
for t in "None:No override" "Pxe:Force PXE"; do
    rft boot_override -s 40000000-0001 -t "${t%%:*}" || rft_fail "rf_boot_override.py: -t ${t%%:*} failed"
    got=$(bmc chassis bootparam get 5 | sed -n 's/.*Boot Device Selector : //p')
    [ "$got" = "${t#*:}" ] || rft_fail "rf_boot_override.py: after -t ${t%%:*} ipmitool reads '$got'"
done
echo "rf_boot_override.py: None, then Pxe, each read back with ipmitool: ok, $(($(date +%s) - START)) s"

# rf_logs.py -m: the manager's event log holds the power actions just made;
# rf_sel.py (3.5.2 takes no system: it lists the first SEL it finds, the
# BMC server's) the two records the script added to ipmi_sim.
echo "rf_logs.py, rf_sel.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
rft logs -m || rft_fail "rf_logs.py -m failed"
for a in "ForceOff' on system 00000001-16ff" "On' on system 00000001-16ff" \
    "ForceOff' on system 40000000-0001" "On' on system 40000000-0001"; do
    grep -qF "Power action '$a by 'rfpv' through Redfish: done." "$WORK/rft.out" ||
        rft_fail "rf_logs.py: no event log entry of Power action '$a by 'rfpv'"
done
rft sel || rft_fail "rf_sel.py failed"
grep -qE '^ *Id +\| Timestamp +\| Message' "$WORK/rft.out" &&
    grep -q '| Temperature sensor 0x30: Upper Critical - going high (asserted' "$WORK/rft.out" &&
    grep -q '| Processor sensor 0x05: Deassert (deasserted' "$WORK/rft.out" ||
    rft_fail "rf_sel.py does not list the two SEL records added to ipmi_sim"
echo "rf_logs.py: the power actions in the event log; rf_sel.py: the BMC's 2 SEL records: ok, $(($(date +%s) - START)) s"

# rf_sensor_list.py (sensors by Id): a temperature with a reading in °C for
# every thermistor, humidity and temperature device of the rack, and the
# BMC's temperature sensor.
echo "rf_sensor_list.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
rft sensor_list --id || rft_fail "rf_sensor_list.py failed"
want=$(python3 -c 'import json,sys; print(sum(d["device_type"] in ("thermistor", "humidity", "temperature")
    for b in json.load(open(sys.argv[1]))["boards"] for d in b["devices"]))' "$WORK/rack.json")
got=$(grep -cE '^  Sensor [0-9a-f]{4}-Temperature +\| [0-9.-]+ Cel ' "$WORK/rft.out" || true)
[ "$got" = "$want" ] && sed -n "/^Chassis 'Chassis 40000000-0001' Status/,/^\$/p" "$WORK/rft.out" |
    grep -qE '^  Sensor 01-Temperature +\| [0-9.-]+ Cel ' ||
    rft_fail "rf_sensor_list.py: $got of the rack's $want temperatures, or not the BMC's"
echo "rf_sensor_list.py: $got rack temperatures and the BMC's: ok, $(($(date +%s) - START)) s"

# rf_event_service.py: a second subscription to the receiver, listed by
# info, then unsubscribed and no longer listed.
echo "rf_event_service.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
rft event_service subscribe -dest "http://127.0.0.1:$RPORT/rfu" -c rfu || rft_fail "rf_event_service.py subscribe failed"
SUB_ID=$(sed -n "s|^Created subscription '/redfish/v1/EventService/Subscriptions/\([^']*\)'\$|\1|p" "$WORK/rft.out")
[ -n "$SUB_ID" ] || rft_fail "rf_event_service.py subscribe printed no subscription"
rft event_service info && grep -qE "^  $SUB_ID +\| Destination: http://127.0.0.1:$RPORT/rfu\$" "$WORK/rft.out" ||
    rft_fail "rf_event_service.py info does not list subscription $SUB_ID"
rft event_service unsubscribe --id "$SUB_ID" || rft_fail "rf_event_service.py unsubscribe failed"
rft event_service info && ! grep -q "Destination: http://127.0.0.1:$RPORT/rfu\$" "$WORK/rft.out" ||
    rft_fail "rf_event_service.py info still lists subscription $SUB_ID"
echo "rf_event_service.py: subscribe, info, unsubscribe (subscription $SUB_ID): ok, $(($(date +%s) - START)) s"

# rf_certificates.py info: the HTTPS certificate, the one the node serves
# (its validity as openssl reads it from auth init's file).
echo "rf_certificates.py (redfish-utilities) as local user rfpv (admin)"
START=$(date +%s)
cert_date() { date -u -d "$(openssl x509 -in "$WORK/tls/server.crt" -noout "-$1" | cut -d= -f2)" +%Y-%m-%dT%H:%M:%S+00:00; }
rft certificates info || rft_fail "rf_certificates.py info failed"
grep -q '^Certificate: /redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates/' "$WORK/rft.out" &&
    grep -qF "Valid Not Before: $(cert_date startdate), Valid Not After: $(cert_date enddate)" "$WORK/rft.out" ||
    rft_fail "rf_certificates.py info does not show the node's HTTPS certificate"
echo "rf_certificates.py: info shows the HTTPS certificate: ok, $(($(date +%s) - START)) s"


echo "redfish-protocol-validator ($RFPV) against https://127.0.0.1:$PORT as local user rfpv (admin)"
START=$(date +%s)
rc=0
(cd "$WORK" && REQUESTS_CA_BUNDLE="$WORK/tls/server.crt" "$RFPV" -r "https://127.0.0.1:$PORT" \
    -u rfpv -p "$RFPV_PW" --ca-bundle "$WORK/tls/server.crt" \
    --report-dir "$REPORTS/protocol" --report-type both) > "$WORK/rfpv.out" 2>&1 || rc=$?
SUMMARY=$(grep '^Summary - ' "$WORK/rfpv.out" || true)
echo "redfish-protocol-validator: exit $rc, ${SUMMARY:-no summary}, after $(($(date +%s) - START)) s"
PV_FAILED=$(sed -n 's/.*FAIL: \([0-9]*\).*/\1/p' <<< "$SUMMARY")
PV_PASSED=$(sed -n 's/.*PASS: \([0-9]*\).*/\1/p' <<< "$SUMMARY")
if [ "$rc" -ne 0 ] || [ "${PV_FAILED:-x}" != 0 ] || [ "${PV_PASSED:-0}" -lt 100 ]; then
    cat "$WORK/rfpv.out" >&2
    # Its TSV report names each failed assertion.
    grep -h -P '\tFAIL\t' "$REPORTS"/protocol/*.tsv >&2 || true
    echo "server log (tail):" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
# It made accounts (a ReadOnly one, and one it tried to change as that
# one), changed their passwords and deleted them: the accounts file is left
# with none.
if ! grep -q 'account created' "$WORK/serve.log" || ! grep -q 'account deleted' "$WORK/serve.log" ||
    ! python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["accounts"] != [])' "$WORK/accounts.json"; then
    echo "the Protocol Validator's accounts were not made and deleted through the account service" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
echo "redfish-interop-validator ($RFIV) with $(basename "$PROFILE") as local user validator (reader, Session)"
START=$(date +%s)
rc=0
(cd "$WORK" && "$RFIV" -r "https://127.0.0.1:$PORT" -u validator -p "$LOCAL_PW" --authtype Session \
    --timeout 20 --logdir "$REPORTS/interop" "$PROFILE") > "$WORK/rfiv.out" 2>&1 || rc=$?
# Its own summary counts every resource's every property (and exits 1
# on any failure); interop-report.py counts per requirement and checks the
# failures against the documented gaps.
echo "redfish-interop-validator: exit $rc, $(grep -A2 'PASS .*WARN .*FAIL' "$WORK/rfiv.out" | tail -1 | tr -s ' |' ' ') (pass warn fail not-tested), after $(($(date +%s) - START)) s"
XLSX=$(ls "$REPORTS"/interop/*/*.xlsx 2>/dev/null | head -1 || true)
if [ -z "$XLSX" ] || ! "$(dirname "$RFIV")/python" "$ROOT/ci/interop-report.py" "$XLSX" "$PROFILE" "$ROOT/docs/redfish.md"; then
    cat "$WORK/rfiv.out" >&2
    echo "server log (tail):" >&2
    tail -n 40 "$WORK/serve.log" >&2
    exit 1
fi
for secret in "$LOCAL_PW" "$SUSHY_PW" "$RFPV_PW" "$API_TOKEN" "$RFU_PW1" "$RFU_PW2"; do
    if grep -qF "$secret" "$WORK/serve.log"; then
        echo "a password or token is in the server log" >&2
        exit 1
    fi
done
