#!/usr/bin/env bash
# Host-side test of overlays/usr/lib/openmist/apply-settings: runs it against
# a scratch root (OPENMIST_ROOT) with good and bad settings files and checks
# what it wrote. Runs in seconds; the boot test covers the real boot path.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"
SCRIPT="$ROOT/overlays/usr/lib/openmist/apply-settings"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
check() { # DESCRIPTION COMMAND...
    local d=$1; shift
    if "$@"; then echo "ok   $d"; else echo "FAIL $d"; fails=$((fails + 1)); fi
}
setup() {
    rm -rf "$t/root" "$t/fat"
    mkdir -p "$t/root/etc" "$t/fat"
    echo old >"$t/root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\told\n' >"$t/root/etc/hosts"
}
run() { OPENMIST_ROOT="$t/root" sh "$SCRIPT" "$t/fat/openmist.txt" >"$t/out" 2>&1; }

# 1. a complete, valid file with CRLF line ends and a secret to import
setup
printf '%s\r\n' '# comment' 'hostname = node-7.rack3' \
    'ssh_authorized_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0123456789abcdefABCDEF op@x' \
    'network=static' 'address=192.0.2.20/24' 'gateway=192.0.2.1' 'dns=192.0.2.1, 192.0.2.2' \
    'ntp=192.0.2.1' 'api_token_file=token.txt' 'tls_cert=tls/cert.pem' >"$t/fat/openmist.txt"
echo s3cret >"$t/fat/token.txt"
mkdir -p "$t/fat/tls" && echo CERT >"$t/fat/tls/cert.pem"
check "valid file applies (exit 0)" run
check "hostname written" grep -qx 'node-7.rack3' "$t/root/etc/hostname"
check "hosts updated" grep -q $'^127.0.1.1\tnode-7.rack3 node-7$' "$t/root/etc/hosts"
check "ssh key added" grep -q 'AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly' "$t/root/root/.ssh/authorized_keys"
check "authorized_keys is 0600" test "$(stat -c %a "$t/root/root/.ssh/authorized_keys")" = 600
check "static network file" grep -qx 'Address=192.0.2.20/24' "$t/root/run/systemd/network/10-openmist-settings.network"
check "gateway" grep -qx 'Gateway=192.0.2.1' "$t/root/run/systemd/network/10-openmist-settings.network"
check "two DNS servers" test "$(grep -c '^DNS=' "$t/root/run/systemd/network/10-openmist-settings.network")" = 2
check "ntp drop-in" grep -q '^NTP=192.0.2.1' "$t/root/run/systemd/timesyncd.conf.d/openmist-settings.conf"
# The card's security material waits in a root-only staging directory until
# opendcre-security has auth init check it; nothing lands in the live tls/.
inc=$t/root/etc/opendcre/incoming
check "staging dir root-only" test "$(stat -c '%u %a' "$inc")" = "0 700"
check "token staged" grep -qx s3cret "$inc/api-token"
check "token 0600 (only root; the service uses its hash)" test "$(stat -c %a "$inc/api-token")" = 600
check "token removed from FAT" test ! -e "$t/fat/token.txt"
check "token line commented out" grep -q '^#api_token_file=token.txt' "$t/fat/openmist.txt"
check "cert staged, kept on FAT" test -f "$inc/server.crt" -a -f "$t/fat/tls/cert.pem"
check "nothing in the live tls/" test ! -e "$t/root/etc/opendcre/tls"

# 2. idempotent second run: no duplicate key, no error for the imported token
# (and a staging dir loosened meanwhile is made root-only again)
chmod 0755 "$inc"
check "second run succeeds" run
check "staging dir root-only again" test "$(stat -c '%u %a' "$inc")" = "0 700"
check "key not duplicated" test "$(grep -c AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly "$t/root/root/.ssh/authorized_keys")" = 1

# 3. bad values are rejected one by one, the rest still applies
setup
printf '%s\n' 'hostname=bad_name!' 'ssh_authorized_key=not a key' 'network=static' 'address=300.1' \
    'colour=blue' 'tls_key=../etc/shadow' 'dns=192.0.2.53' >"$t/fat/openmist.txt"
check "bad file exits 1" bash -c '! OPENMIST_ROOT="$0/root" sh "$1" "$0/fat/openmist.txt" >"$0/out" 2>&1' "$t" "$SCRIPT"
check "bad hostname reported, old kept" bash -c 'grep -q "not a valid host name" "$0/out" && grep -qx old "$0/root/etc/hostname"' "$t"
check "bad key reported" grep -q 'is not an OpenSSH public key' "$t/out"
check "bad address falls back to DHCP" bash -c 'grep -q "keeping DHCP" "$0/out" && test ! -e "$0/root/run/systemd/network/10-openmist-settings.network"' "$t"
check "unknown key reported" grep -q "unknown key 'colour'" "$t/out"
check "path escape refused" bash -c 'grep -q "tls_key: no file" "$0/out" && test ! -e "$0/root/etc/opendcre/incoming/server.key"' "$t"

check "the summary: DHCP, the good name server" bash -c 'test "$(cat "$0/root/run/openmist/network.env")" = "$(printf "network=dhcp\ndns=192.0.2.53")"' "$t"
check "a name server with DHCP replaces DHCP's" grep -qx 'DNS=192.0.2.53' "$t/root/run/systemd/network/20-openmist-wired.network.d/openmist-dns.conf"
check "... and DHCP's are not used" grep -qx 'UseDNS=no' "$t/root/run/systemd/network/20-openmist-wired.network.d/openmist-dns.conf"

# 4. static: the summary has it, no DHCP DNS drop-in; back to DHCP without dns
setup
printf '%s\n' 'network=static' 'address=192.0.2.20/24' 'gateway=192.0.2.1' 'dns=192.0.2.1 2001:db8::53' >"$t/fat/openmist.txt"
check "static applies" run
check "static summary" bash -c 'test "$(cat "$0/root/run/openmist/network.env")" = "$(printf "network=static\naddress=192.0.2.20/24\ngateway=192.0.2.1\ndns=192.0.2.1 2001:db8::53")"' "$t"
check "no DNS drop-in with a static address" test ! -e "$t/root/run/systemd/network/20-openmist-wired.network.d/openmist-dns.conf"
check "summary readable by the service" test "$(stat -c %a "$t/root/run/openmist/network.env")" = 644
printf '%s\n' 'network=dhcp' >"$t/fat/openmist.txt"
check "back to DHCP" run
check "DHCP summary, DHCP's name servers" bash -c 'test "$(cat "$0/root/run/openmist/network.env")" = "$(printf "network=dhcp\ndns=")"' "$t"
check "static file gone" test ! -e "$t/root/run/systemd/network/10-openmist-settings.network"

# 5. missing file: nothing to do
setup
check "missing settings file is fine" run

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; cat "$t/out"; exit 1; }
echo "apply-settings: all checks passed"
