# shellcheck shell=bash
# What the QEMU tests (boot-test.sh, ab-test.sh) do alike to a card, sourced by
# both after image/build/lib.sh.

# part_start CARD N: the first sector of partition N of the card image.
part_start() {
    sfdisk --dump "$1" | awk -F'start=' -v n="$2" 'NF > 1 && ++i == n {split($2, a, ","); gsub(/ /, "", a[1]); print a[1]}'
}

# qemu_boot_files DIR FAT: what QEMU needs in place of the Pi's GPU firmware,
# from the card's FAT partition (mtools path FAT), into DIR:
#  * u-boot.uimg: the card's u-boot.bin as a uImage. QEMU loads a raw -kernel
#    as a Linux zImage at 0x10000 and starts all four cores on an ELF; U-Boot
#    is linked at 0x8000 and parks no cores. As a uImage of type "linux" it
#    goes through QEMU's Linux boot path: loaded at 0x8000, the DTB in r2 and
#    the secondary cores held, as the Pi firmware does.
#  * test.dtb: the firmware's DTB with test-only changes (the card is not
#    touched): sdhost DMA removed (QEMU 7.2's DMA path oopses; PIO is
#    stable), the mini UART on as the console, and the mailbox off: QEMU does
#    not emulate the VideoCore's VCHIQ service behind it and the vchiq
#    driver's slot threads then oops on freed memory (about 1 boot in 4).
#  * boot-env.txt: the boot script's local overrides, for the FAT partition:
#    the DTB QEMU passes (as the firmware would) instead of the slot's, and
#    the kernel console on the mini UART. systemd's 90 s wait for a device
#    (the FAT partition by label) ran out once on a loaded host: 300 s.
#    Likewise systemd's 90 s for a unit to start: in a first boot with
#    kernel stalls (soft lockups of 20 s and more, see SLOWNESS in
#    boot-test.sh) systemd-journald missed it once, and dbus, logind and
#    avahi-daemon failed behind it (from-nothing run of e936da5): 600 s for
#    units that set no TimeoutStartSec of their own (the image is unchanged).
#    cdc_subset kept off: QEMU's usb-net has two interfaces, and when udev
#    happens to load cdc_subset before cdc_ether (seen on a warm reboot),
#    cdc_subset takes one, cdc_ether fails with EBUSY, and the guest has no
#    working network. A Pi 2's own LAN (smsc95xx) needs neither.
qemu_boot_files() {
    local dir=$1 fat=$2
    (cd "$dir" && mcopy -n -i "$fat" ::u-boot.bin ::bcm2836-rpi-2-b.dtb .)
    mkimage -A arm -O linux -T kernel -C none -a 0x8000 -e 0x8000 -n u-boot-rpi2 \
        -d "$dir/u-boot.bin" "$dir/u-boot.uimg" >/dev/null || die "mkimage of the image's u-boot.bin failed"
    cp "$dir/bcm2836-rpi-2-b.dtb" "$dir/test.dtb"
    fdtput -d "$dir/test.dtb" /soc/mmc@7e202000 dmas
    fdtput -d "$dir/test.dtb" /soc/mmc@7e202000 dma-names
    fdtput -t s "$dir/test.dtb" /soc/serial@7e215040 status okay
    fdtput -t s "$dir/test.dtb" /soc/mailbox@7e00b840 status disabled
    printf '%s\n' "openmist_fdt=firmware" \
        "extra_bootargs=console=ttyS1,115200 systemd.default_device_timeout_sec=300 systemd.default_timeout_start_sec=600 modprobe.blacklist=cdc_subset" >"$dir/boot-env.txt"
}

# scale_bus_timeouts: opendcre.toml on stdin with the bus timeouts scaled for
# the emulated CPU, on stdout. The guest is about 20 times slower than a Pi 2
# and shares the host's cores: a UART round trip through QEMU and the host
# pty can exceed the real bus's 250 ms.
scale_bus_timeouts() {
    sed -e 's/^read_timeout_ms = .*/read_timeout_ms = 2000/' \
        -e 's/^scan_silence_ms = .*/scan_silence_ms = 500/' \
        -e 's/^scan_all_silence_ms = .*/scan_all_silence_ms = 1500/' \
        -e 's/^frame_gap_ms = .*/frame_gap_ms = 160/'
}
