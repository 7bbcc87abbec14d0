#!/usr/bin/env bash
# `make ab-test`: the A/B update scenarios of OpenMistOS on QEMU's raspi2b,
# through the card's own boot path (U-Boot, boot.scr, RAUC, mark-good), one
# card for all of them, in this order:
#
#   1. first boot on slot A; the slot is marked good once the service is up
#   2. a bundle signed by another key is refused; nothing changes
#   3. a bundle of a newer build is installed (rauc install on the node), the
#      node reboots into slot B and answers with the new version, keeping its
#      identity (machine id, SSH host key, API token, TLS certificate)
#   4. a bundle whose service does not come up is installed into A: its trial
#      boot fails, mark-good marks it bad and reboots, and the node is back
#      on B by itself, still answering
#   5. power cut (QEMU killed) at three points of an install into A: early
#      in the slot write, in the middle, and right after the install
#      returned (before any reboot); after each, a cold start must boot a
#      working slot and answer the API
#
# Needs `make image` and `make bundle` (the image's slot image and its
# bundle). The test bundles (newer build, broken service, foreign key) are
# made here from the image's slot image with debugfs and image/build/bundle.sh.
# Each boot of the emulated Pi takes 4-6 minutes on 2 shared cores; the whole
# run 40-60 minutes. Numbers go to $AB_TEST_DIR/report.txt.
#
# Variables: BOOT_TEST_IMAGE, AB_TEST_DIR (build/ab-test), OPENDCRE_BIN and
# EMULATOR_CONFIG as in boot-test.sh, AB_TEST_BOOT_TIMEOUT (900 s per boot),
# AB_TEST_FROM=4 or 5: run from that scenario on the card an earlier run left
# (cold-started first; scenarios 4 and 5 work from whichever slot it boots);
# AB_TEST_CUTS: the power-cut points of scenario 5 (default "early middle
# finished"; "none" skips it); AB_TEST_SKIP_FALLBACK=1 skips scenario 4.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/../build/lib.sh"
# shellcheck source=image/boot-test/qemu-card.sh
. "$HERE/qemu-card.sh"

IMAGE=${BOOT_TEST_IMAGE:-$IMAGE_OUT/$IMAGE_NAME.img}
DIR=${AB_TEST_DIR:-build/ab-test}
BOOT_TIMEOUT=${AB_TEST_BOOT_TIMEOUT:-900}
EMULATOR_CONFIG=${EMULATOR_CONFIG:-firmware-api/emulator-configs/rack.json}
SLOT_IMAGE=$IMAGE_WORK/rootfs-slot.ext4
export MTOOLS_SKIP_CHECK=1

[ -f "$IMAGE" ] || die "no image at $IMAGE (run \`make image\`)"
[ -s "$SLOT_IMAGE" ] || die "no slot image at $SLOT_IMAGE (run \`make image\`)"
"$BUILD/install-deps.sh"
e2fs=$("$BUILD/install-deps.sh" --e2fs-dir)
if [ -z "${OPENDCRE_BIN:-}" ]; then
    cargo build --release --quiet --bin opendcre || die "cargo build --release failed"
    OPENDCRE_BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/opendcre
fi
[ -x "$OPENDCRE_BIN" ] || die "no host opendcre binary at $OPENDCRE_BIN"

# AB_TEST_FROM=N resumes at scenario N (4 or 5) on the card a previous run
# left in $AB_TEST_DIR (a failed run keeps it): its bundles, keys and token.
FROM=${AB_TEST_FROM:-1}
case "$FROM" in 1 | 4 | 5) ;; *) die "AB_TEST_FROM must be 1, 4 or 5, not '$FROM'" ;; esac
if [ "$FROM" = 1 ]; then
    rm -rf "$DIR"
elif [ ! -f "$DIR/card.img" ] || [ ! -f "$DIR/abtest-token.txt" ]; then
    die "AB_TEST_FROM=$FROM needs the card of an earlier run in $DIR"
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
report="$DIR/report.txt"
[ "$FROM" = 1 ] && : >"$report"

note() { echo "$*" | tee -a "$report" >&2; }
[ "$FROM" = 1 ] || note "---- resumed at scenario $FROM on the card of the earlier run ----"
QEMU_PID="" EMU_PID=""
# Power off: SIGKILL, nothing is flushed. (wait's status of a killed child is
# not an error here: set -e would end the script at the first power cut.)
stop_qemu() {
    if [ -n "$QEMU_PID" ]; then
        kill -9 "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    if [ -n "$EMU_PID" ]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
    fi
    QEMU_PID="" EMU_PID=""
}
trap stop_qemu EXIT
failures=0
expect() { # DESCRIPTION, then a condition command
    local d=$1
    shift
    if "$@"; then note "ok   $d"; else
        note "FAIL $d"
        failures=$((failures + 1))
    fi
}
fatal() {
    note "A/B TEST FAILED: $*"
    note "---- kernel console, last 40 lines ----"
    LC_ALL=C sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$DIR/console.log" 2>/dev/null | tail -n 40 | tee -a "$report" >&2
    exit 1
}
now() { date +%s.%N; }
secs() { python3 -c "print('%.1f' % ($2 - $1))"; }

# --- test bundles from the image's slot image ---------------------------------------------
# A variant of the slot image: its release file says VERSION, plus optional
# extra files (debugfs command lines).
version=$("$e2fs/debugfs" -R 'cat /etc/openmist-release' "$SLOT_IMAGE" 2>/dev/null | sed -n 's/^VERSION="\(.*\)"$/\1/p')
[ -n "$version" ] || die "the slot image has no /etc/openmist-release"
variant() { # NAME VERSION [DEBUGFS-COMMANDS-FILE]
    local img="$DIR/slot-$1.ext4"
    cp --sparse=always "$SLOT_IMAGE" "$img"
    "$e2fs/debugfs" -R 'cat /etc/openmist-release' "$img" 2>/dev/null |
        sed "s/^VERSION=.*/VERSION=\"$2\"/" >"$DIR/release-$1"
    {
        echo "rm /etc/openmist-release"
        echo "write $DIR/release-$1 /etc/openmist-release"
        [ -n "${3:-}" ] && cat "$3"
    } >"$DIR/debugfs-$1.cmds"
    "$e2fs/debugfs" -w -f "$DIR/debugfs-$1.cmds" "$img" >"$DIR/debugfs-$1.log" 2>&1 ||
        die "debugfs on the $1 slot image failed: $(tail -n 3 "$DIR/debugfs-$1.log")"
    echo "$img"
}
bundle_new="$DIR/bundles/new/$IMAGE_NAME.raucb"
new_version="$version+abtest.1"
if [ "$FROM" = 1 ]; then
log "making the test bundles"
new_version="$version+abtest.1"
slot_new=$(variant new "$new_version")
IMAGE_WORK="$DIR/work-new" "$BUILD/bundle.sh" "$slot_new" "$DIR/bundles/new" ||
    die "bundle of the newer build failed"
bundle_new="$DIR/bundles/new/$IMAGE_NAME.raucb"
# A service that exits at once: Restart=on-failure brings it back every 2 s.
printf '[Service]\nExecStart=\nExecStart=/bin/false\n' >"$DIR/broken.conf"
printf '%s\n' "mkdir /etc/systemd/system/opendcre.service.d" \
    "write $DIR/broken.conf /etc/systemd/system/opendcre.service.d/abtest-broken.conf" >"$DIR/broken.cmds"
slot_broken=$(variant broken "$version+abtest.broken" "$DIR/broken.cmds")
IMAGE_WORK="$DIR/work-broken" "$BUILD/bundle.sh" "$slot_broken" "$DIR/bundles/broken" ||
    die "bundle of the broken build failed"
bundle_broken="$DIR/bundles/broken/$IMAGE_NAME.raucb"
# Another key pair: a CA and signer the node has never seen.
fk="$DIR/foreign-key"
mkdir -p "$fk"
# Valid from 2020 (faketime), like the development keys: the bundle is signed
# at SOURCE_DATE_EPOCH, which may be earlier than now.
faketime "2020-01-01 00:00:00" openssl req -x509 -newkey rsa:3072 -nodes -keyout "$fk/ca.key" -out "$fk/ca.pem" -days 3650 \
    -subj "/CN=not the OpenMistOS update CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey rsa:3072 -nodes -keyout "$fk/signer.key" -out "$fk/signer.csr" -subj "/CN=foreign signer" 2>/dev/null
faketime "2020-01-01 00:00:00" openssl x509 -req -in "$fk/signer.csr" -CA "$fk/ca.pem" -CAkey "$fk/ca.key" -set_serial 7 -days 3650 \
    -out "$fk/signer.pem" 2>/dev/null
RAUC_CERT="$fk/signer.pem" RAUC_KEY="$fk/signer.key" IMAGE_RAUC_KEYRING="$fk/ca.pem" IMAGE_WORK="$DIR/work-foreign" \
    "$BUILD/bundle.sh" "$slot_new" "$DIR/bundles/foreign" || die "bundle with the foreign key failed"
bundle_foreign="$DIR/bundles/foreign/$IMAGE_NAME.raucb"
rm -f "$DIR"/slot-*.ext4
note "bundles: newer build $(du -mL --apparent-size "$bundle_new" | cut -f1) MiB ($(basename "$bundle_new")), broken service, foreign key"

fi

# --- the card --------------------------------------------------------------------------------------
img_size=$(stat -c %s "$IMAGE")
card="$DIR/card.img"
if [ "$FROM" = 1 ]; then
cp --sparse=always "$IMAGE" "$card"
truncate -s $((img_size * 2)) "$card"
fat="$card@@4M"
qemu_boot_files "$DIR" "$fat"
mcopy -n -i "$fat" ::openmist.txt "$DIR/openmist.txt"
ssh-keygen -q -t ed25519 -N '' -C ab-test -f "$DIR/id_ab_test"
API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
echo "$API_TOKEN" >"$DIR/abtest-token.txt"
slot_a_start=$(part_start "$card" 2)
"$e2fs/debugfs" -R 'cat /etc/opendcre/opendcre.toml' "$card?offset=$((slot_a_start * 512))" 2>/dev/null |
    scale_bus_timeouts >"$DIR/opendcre-abtest.toml"
{
    echo "ssh_authorized_key=$(cat "$DIR/id_ab_test.pub")"
    echo "opendcre_config=opendcre-abtest.toml"
    echo "api_token_file=abtest-token.txt"
} >>"$DIR/openmist.txt"
for f in openmist.txt opendcre-abtest.toml abtest-token.txt boot-env.txt; do
    mcopy -o -i "$fat" "$DIR/$f" "::$f"
done
# The bundles go onto the card's data partition before the first boot: QEMU's
# emulated USB network moves less than 0.3 MB/s (a 100 MiB bundle over SSH
# did not arrive in 300 s), the SD card is much faster. The partition is
# grown offline to 1 GiB for them; the first boot grows it to the card's end.
data_start=$(part_start "$card" 4)
echo "size=$((1024 * 2048))" | sfdisk --quiet --no-reread --no-tell-kernel -N 4 "$card" >/dev/null ||
    die "growing the card's data partition failed"
data_img="$DIR/data-part.img"
dd if="$card" of="$data_img" bs=1M skip=$((data_start / 2048)) count="$IMAGE_DATA_MIB" status=none
truncate -s 1024M "$data_img"
"$e2fs/e2fsck" -fy "$data_img" >/dev/null 2>&1 || true
"$e2fs/resize2fs" "$data_img" >"$DIR/resize2fs.log" 2>&1 || die "resize2fs of the data partition failed: $(tail -n 3 "$DIR/resize2fs.log")"
printf '%s\n' "mkdir /bundles" \
    "write $(readlink -f "$bundle_new") /bundles/new.raucb" \
    "write $(readlink -f "$bundle_broken") /bundles/broken.raucb" \
    "write $(readlink -f "$bundle_foreign") /bundles/foreign.raucb" >"$DIR/debugfs-bundles.cmds"
"$e2fs/debugfs" -w -f "$DIR/debugfs-bundles.cmds" "$data_img" >"$DIR/debugfs-bundles.log" 2>&1 ||
    die "writing the bundles to the data partition failed: $(tail -n 3 "$DIR/debugfs-bundles.log")"
"$e2fs/debugfs" -R 'ls -l /bundles' "$data_img" 2>/dev/null | grep -q 'foreign.raucb' || die "the bundles are not on the data partition"
dd if="$data_img" of="$card" bs=1M seek=$((data_start / 2048)) conv=notrunc,sparse status=none
rm -f "$data_img"

fi
API_TOKEN=$(cat "$DIR/abtest-token.txt")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
SSH_PORT=$(free_port)
[ "$API_PORT" != "$SSH_PORT" ] || SSH_PORT=$(free_port)
SSH=(ssh -i "$DIR/id_ab_test" -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=10 root@127.0.0.1)
guest() { timeout 300 "${SSH[@]}" "$@"; }
# An install writes a whole 768 MiB slot through QEMU's emulated SD host:
# 5-10 minutes on 2 shared cores.
guest_long() { timeout 1800 "${SSH[@]}" "$@"; }

# --- QEMU ---------------------------------------------------------------------------------------------
boots=0
start_qemu() {
    boots=$((boots + 1))
    [ -f "$DIR/console.log" ] && cat "$DIR/console.log" >>"$DIR/console-all.log"
    : >"$DIR/console.log"
    "$OPENDCRE_BIN" emulate --config "$EMULATOR_CONFIG" --pty >"$DIR/emulator.out" 2>>"$DIR/emulator.log" &
    EMU_PID=$!
    local pty="" _
    for _ in $(seq 1 100); do
        pty=$(sed -n 's/^pty: //p' "$DIR/emulator.out" 2>/dev/null | head -n1)
        [ -n "$pty" ] && break
        sleep 0.1
    done
    [ -n "$pty" ] || fatal "the bus emulator printed no pty path"
    qemu-system-arm -M raspi2b -m 1G -kernel "$DIR/u-boot.uimg" -dtb "$DIR/test.dtb" \
        -drive "file=$card,if=sd,format=raw" \
        -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$API_PORT-:5000,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
        -device usb-net,netdev=net0 \
        -chardev "serial,id=hat,path=$pty" -serial chardev:hat \
        -chardev "file,id=con,path=$DIR/console.log" -serial chardev:con \
        -display none -monitor none >>"$DIR/qemu.log" 2>&1 &
    QEMU_PID=$!
    log "qemu started (boot $boots), API 127.0.0.1:$API_PORT, SSH 127.0.0.1:$SSH_PORT"
}
api_up() {
    curl -fsS -k --max-time 5 -H "Authorization: Bearer $API_TOKEN" \
        "https://127.0.0.1:$API_PORT/opendcre/1.1/test" >/dev/null 2>&1
}
# Waits for the API and SSH; prints the seconds from START (epoch) to the
# API's first answer.
wait_up() { # START WHAT
    local deadline=$(($(date +%s) + BOOT_TIMEOUT)) next=0 t
    while ! api_up; do
        kill -0 "$QEMU_PID" 2>/dev/null || fatal "QEMU exited while waiting for $2"
        [ "$(date +%s)" -lt "$deadline" ] || fatal "no API answer within ${BOOT_TIMEOUT}s ($2)"
        if [ "$(date +%s)" -ge "$next" ]; then
            log "waiting for the node ($2): $(secs "$1" "$(now)")s"
            next=$(($(date +%s) + 30))
        fi
        sleep 2
    done
    t=$(secs "$1" "$(now)")
    until guest true 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || fatal "SSH did not answer ($2)"
        sleep 3
    done
    echo "$t"
}
booted_slot() { guest cat /proc/cmdline | sed -n 's/.*rauc\.slot=\([^ ]*\).*/\1/p'; }
release_version() { guest cat /etc/openmist-release | sed -n 's/^VERSION="\(.*\)"$/\1/p'; }
# Waits until openmist-mark-good.service finished on the node; prints its result.
mark_good_result() {
    local r="" _
    for _ in $(seq 1 200); do
        r=$(guest systemctl show openmist-mark-good.service -p ActiveState -p Result 2>/dev/null | paste -sd' ' -)
        [[ "$r" == *ActiveState=active* || "$r" == *ActiveState=failed* ]] && break
        sleep 3
    done
    echo "$r"
}
env_of() { guest fw_printenv "$@" 2>/dev/null | paste -sd' ' -; }

install_s=$(sed -n 's/^3\. rauc install of the newer build: \([0-9.]*\)s.*/\1/p' "$report" | tail -n1)
: "${install_s:=600}"
if [ "$FROM" = 1 ]; then
# --- 1. first boot on slot A ------------------------------------------------------------------
t0=$(now)
start_qemu
first_s=$(wait_up "$t0" "first boot")
note "1. first boot to API: ${first_s}s"
expect "1. booted slot A" test "$(booted_slot)" = A
mg=$(mark_good_result)
expect "1. slot A marked good after the service came up ($mg; $(env_of BOOT_ORDER BOOT_A_LEFT))" \
    bash -c '[[ "$0" == *Result=success* && "$1" == *"BOOT_A_LEFT=3"* ]]' "$mg" "$(env_of BOOT_A_LEFT)"
machine_id=$(guest cat /etc/machine-id)
host_key=$(guest ssh-keygen -lf /var/lib/openmist/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
cert_fp=$(guest openssl x509 -noout -fingerprint -sha256 -in /etc/opendcre/tls/server.crt 2>/dev/null || true)

# --- 2. a bundle signed by another key ----------------------------------------------------------
env_before=$(env_of BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT)
if guest_long rauc install /data/bundles/foreign.raucb >"$DIR/install-foreign.log" 2>&1; then
    expect "2. a bundle signed by another key is refused" false
else
    expect "2. a bundle signed by another key is refused ($(grep -am1 'LastError' "$DIR/install-foreign.log" | cut -c1-120))" \
        grep -aqi 'signature\|verif\|certificate' "$DIR/install-foreign.log"
fi
expect "2. boot selection unchanged ($env_before)" test "$(env_of BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT)" = "$env_before"

# --- 3. update to a newer build: slot B -----------------------------------------------------------
ti=$(now)
guest_long rauc install /data/bundles/new.raucb >"$DIR/install-new.log" 2>&1 || fatal "rauc install of the newer build failed: $(tail -n 5 "$DIR/install-new.log")"
install_s=$(secs "$ti" "$(now)")
note "3. rauc install of the newer build: ${install_s}s (the API kept answering: $(api_up && echo yes || echo no))"
expect "3. slot B is the next boot's first choice ($(env_of BOOT_ORDER))" bash -c '[[ "$0" == "BOOT_ORDER=B A"* ]]' "$(env_of BOOT_ORDER)"
tr0=$(now)
guest systemctl reboot >/dev/null 2>&1 || true
sleep 10
update_s=$(wait_up "$tr0" "reboot into slot B")
note "3. update downtime (reboot request to API answering on the new slot): ${update_s}s"
expect "3. booted slot B" test "$(booted_slot)" = B
expect "3. slot B runs the newer build ($new_version)" test "$(release_version)" = "$new_version"
mg=$(mark_good_result)
expect "3. slot B marked good ($mg; $(env_of BOOT_B_LEFT))" bash -c '[[ "$0" == *Result=success* && "$1" == "BOOT_B_LEFT=3" ]]' "$mg" "$(env_of BOOT_B_LEFT)"
expect "3. same machine id" test "$(guest cat /etc/machine-id)" = "$machine_id"
expect "3. same SSH host key" test "$(guest ssh-keygen -lf /var/lib/openmist/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')" = "$host_key"
expect "3. same TLS certificate and API token (the API answered with the first boot's token)" \
    test "$(guest openssl x509 -noout -fingerprint -sha256 -in /etc/opendcre/tls/server.crt 2>/dev/null || true)" = "$cert_fp"

fi

# --- 4. a bundle whose service does not come up: back by itself -----------------------------------
# Into the slot not booted (A after scenario 3); the node must come back to
# the slot it runs now. Resumed (AB_TEST_FROM=4): the card is cold-started
# first and the scenario runs whole on whichever slot it boots.
other_slot() { if [ "$1" = A ]; then echo B; else echo A; fi; }
if [ "$FROM" -le 4 ] && [ "${AB_TEST_SKIP_FALLBACK:-0}" != 1 ]; then
if [ "$FROM" = 4 ]; then
    tc=$(now)
    start_qemu
    note "4. (resumed) cold start to API: $(wait_up "$tc" "cold start before the broken install")s on slot $(booted_slot)"
fi
good=$(booted_slot)
bad=$(other_slot "$good")
good_version=$(release_version)
guest_long rauc install /data/bundles/broken.raucb >"$DIR/install-broken.log" 2>&1 || fatal "rauc install of the broken build failed: $(tail -n 5 "$DIR/install-broken.log")"
expect "4. slot $bad (broken build) is the next boot's first choice ($(env_of BOOT_ORDER))" bash -c '[[ "$0" == "BOOT_ORDER=$1 "* ]]' "$(env_of BOOT_ORDER)" "$bad"
tf0=$(now)
guest systemctl reboot >/dev/null 2>&1 || true
sleep 10
# Two boots: the broken slot's trial (up to mark-good's 600 s deadline, or
# three service failures) and the one back on the good slot.
fallback_s=$(BOOT_TIMEOUT=$((2 * BOOT_TIMEOUT)) wait_up "$tf0" "fallback from the broken slot $bad to $good")
note "4. fallback time (reboot into the broken slot $bad to API answering again on $good): ${fallback_s}s"
note "4. boots on the card: $(guest journalctl --list-boots --no-pager 2>/dev/null | tail -n 3 | awk '{print $1}' | paste -sd' ' -)"
for b in -1 0; do
    note "4. boot $b: slot $(guest journalctl -b "$b" -k --no-pager -o cat 2>/dev/null | sed -n 's/.*Kernel command line:.*rauc\.slot=\([AB]\).*/\1/p' | head -n1)"
done
expect "4. back on slot $good" test "$(booted_slot)" = "$good"
expect "4. slot $good still runs its build ($good_version)" test "$(release_version)" = "$good_version"
expect "4. slot $bad marked bad ($(env_of BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT))" \
    bash -c '[[ "$0" == "BOOT_${1}_LEFT=0" ]]' "$(env_of "BOOT_${bad}_LEFT")" "$bad"
guest journalctl --no-pager -o cat -u openmist-mark-good -b -1 2>/dev/null | tail -n 3 | sed 's/^/    previous boot: /' | tee -a "$report" >&2 || true
fi

# --- 5. power cut at three points of an install into the other slot -------------------------------
if [ "$FROM" = 5 ]; then
    tc=$(now)
    start_qemu
    note "5. (resumed) cold start to API: $(wait_up "$tc" "cold start before the power cuts")s on slot $(booted_slot)"
fi
cuts=${AB_TEST_CUTS:-early middle finished}
[ "$cuts" = none ] && cuts=""
running=$(booted_slot)
target=$(other_slot "$running")
for point in $cuts; do
    case "$point" in
    early) delay=$(python3 -c "print(max(1.0, $install_s * 0.1))") ;;
    middle) delay=$(python3 -c "print($install_s * 0.5)") ;;
    finished) delay="" ;;
    *) die "AB_TEST_CUTS: unknown cut point '$point' (early, middle, finished, or none)" ;;
    esac
    if [ -n "$delay" ]; then
        ( guest_long rauc install /data/bundles/new.raucb >"$DIR/install-cut-$point.log" 2>&1 ) &
        sleep "$delay"
        stop_qemu
        wait 2>/dev/null || true
        note "5. power cut ($point): QEMU killed ${delay}s into the install into slot $target"
    else
        guest_long rauc install /data/bundles/new.raucb >"$DIR/install-cut-$point.log" 2>&1 || fatal "rauc install before the last power cut failed"
        guest sync
        stop_qemu
        note "5. power cut ($point): QEMU killed right after the install into slot $target returned, before a reboot"
    fi
    tc=$(now)
    start_qemu
    cut_s=$(wait_up "$tc" "cold start after the power cut ($point)")
    slot=$(booted_slot)
    note "5. after the cut ($point): slot $slot answers after ${cut_s}s ($(release_version))"
    expect "5. a working slot answers after the power cut ($point): slot $slot" test -n "$slot"
    if [ "$point" = finished ]; then
        expect "5. the completed install is booted after the cut (slot $target, $new_version)" \
            test "$slot:$(release_version)" = "$target:$new_version"
    else
        # An install cut short never activates its slot: the node stays.
        expect "5. an interrupted install leaves the node on slot $running" test "$slot" = "$running"
    fi
done

note "boots: $boots QEMU starts (plus the reboots inside them)"
stop_qemu
if [ "$failures" != 0 ]; then
    note "A/B TEST FAILED: $failures check(s)"
    exit 1
fi
note "A/B TEST PASSED (report: $report)"
rm -f "$card"
