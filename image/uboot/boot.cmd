# OpenMistOS A/B boot script. The image build compiles it to boot.scr on the
# FAT partition (mkimage); U-Boot's distro boot finds it there and runs it.
#
# Slot choice follows RAUC's U-Boot bootchooser contract, so `rauc install`,
# `rauc status mark-good` and `mark-active` drive it through fw_setenv:
#   BOOT_ORDER      slot names, first choice first ("A B")
#   BOOT_A_LEFT     boot attempts left on slot A (B likewise)
# Each attempt is counted and saved *before* the kernel loads, so a slot whose
# kernel hangs or whose service never comes up runs out of attempts and the
# next slot in BOOT_ORDER boots. Linux sets the count back to 3 once the
# service is up (openmist-mark-good.service).
#
# Slots: A = partition 2, B = partition 3 of the card. Each slot carries its
# own /boot/vmlinuz, /boot/initrd.img, /boot/openmist.dtb and, in
# /boot/openmist-boot.env, its kernel command line (openmist_bootargs=), so
# a slot update replaces all of them together.
#
# Local overrides (test harness, board bring-up): a U-Boot environment text
# file boot-env.txt on the FAT partition, imported at every boot, e.g.
#   extra_bootargs=console=ttyS1,115200    appended to the command line
#   openmist_fdt=firmware                  use the DTB the firmware (or QEMU's
#                                          -dtb) passed instead of the slot's

# U-Boot's default environment starts USB (preboot) and waits two seconds for
# a key on the PL011, which on this board is the HAT's power-line modem: one
# byte from the bus would stop the node at the prompt. Once, at the first
# start: no USB, no key check; saved, then a reset so that this boot runs
# without USB started too (Linux's USB host misbehaves after U-Boot's).
if test -n "${preboot}" -o "${bootdelay}" != "-2"; then
	echo "OpenMistOS: first start: no USB start and no autoboot key check from now on"
	setenv preboot
	setenv bootdelay -2
	saveenv
	reset
fi

if load ${devtype} ${devnum}:1 ${kernel_addr_r} boot-env.txt; then
	env import -t ${kernel_addr_r} ${filesize}
fi

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv openmist_part
for BOOT_SLOT in ${BOOT_ORDER}; do
	if test -n "${openmist_part}"; then
		true
	elif test "${BOOT_SLOT}" = "A"; then
		if test ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			echo "OpenMistOS: slot A, ${BOOT_A_LEFT} attempts left after this one"
			setenv openmist_part 2
			setenv openmist_slot A
		fi
	elif test "${BOOT_SLOT}" = "B"; then
		if test ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			echo "OpenMistOS: slot B, ${BOOT_B_LEFT} attempts left after this one"
			setenv openmist_part 3
			setenv openmist_slot B
		fi
	fi
done
if test -z "${openmist_part}"; then
	echo "OpenMistOS: no slot has attempts left; three more for each"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	saveenv
	reset
fi
saveenv

# A slot that cannot be loaded (empty, or a file missing) is not retried:
# its attempts go to 0 and the board resets into the next slot.
setenv openmist_bootargs
setenv openmist_loaded 0
if load ${devtype} ${devnum}:${openmist_part} ${kernel_addr_r} /boot/openmist-boot.env; then
	env import -t ${kernel_addr_r} ${filesize} openmist_bootargs
	if load ${devtype} ${devnum}:${openmist_part} ${kernel_addr_r} /boot/vmlinuz; then
		if load ${devtype} ${devnum}:${openmist_part} ${ramdisk_addr_r} /boot/initrd.img; then
			setenv openmist_rd_size ${filesize}
			if test "${openmist_fdt}" = "firmware" -a -n "${fdt_addr}"; then
				setenv openmist_fdt_addr ${fdt_addr}
				setenv openmist_loaded 1
			elif load ${devtype} ${devnum}:${openmist_part} ${fdt_addr_r} /boot/openmist.dtb; then
				setenv openmist_fdt_addr ${fdt_addr_r}
				setenv openmist_loaded 1
			fi
		fi
	fi
fi
if test "${openmist_loaded}" != "1" -o -z "${openmist_bootargs}"; then
	echo "OpenMistOS: slot ${openmist_slot} cannot be loaded; trying the next slot"
	setenv BOOT_${openmist_slot}_LEFT 0
	saveenv
	reset
fi

part uuid ${devtype} ${devnum}:${openmist_part} openmist_root
setenv bootargs "root=PARTUUID=${openmist_root} ${openmist_bootargs} rauc.slot=${openmist_slot} ${extra_bootargs}"
echo "OpenMistOS: booting slot ${openmist_slot} (partition ${openmist_part}): ${bootargs}"
bootz ${kernel_addr_r} ${ramdisk_addr_r}:${openmist_rd_size} ${openmist_fdt_addr}
echo "OpenMistOS: bootz returned; slot ${openmist_slot} loses its attempts"
setenv BOOT_${openmist_slot}_LEFT 0
saveenv
reset
