#!/bin/bash
# End-to-end test of the bootloader: partboot's own GRUB on a disk with two test guests,
# booted by real firmware in QEMU (TCG): SeaBIOS on GPT (BIOS boot partition) and on a
# dos table (MBR gap), OVMF on GPT; `next` and `default` switch guests; grub-editenv
# reads what partboot wrote; bad input is refused with the disk unchanged.
. "$(dirname "$0")/lib.sh"

QEMU=qemu-system-x86_64
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1

missing=
for p in $QEMU grub-mkimage grub-editenv mcopy mkfs.fat sfdisk partx mke2fs; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$OVMF_CODE" ] || missing="$missing $OVMF_CODE"
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "bootloader e2e" "missing:$missing"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"

start_of() { partx -g -o START -n "$2" "$1" | tr -d ' '; }
size_of() { partx -g -o SECTORS -n "$2" "$1" | tr -d ' '; }
partuuid() { partx -g -o UUID -n "$2" "$1" | tr -d ' ' | tr '[:upper:]' '[:lower:]'; }
# The ESP's FAT, for mtools.
esp_img() { echo "$1@@$(($(start_of "$1" "$2") * 512))"; }

# Put the test guest on partition NAME with partboot install.
install_guest() {
	local disk=$1 name=$2 out
	if out=$(pb -q install "$disk" "$name" --from "$GUEST_TAR" 2>&1); then
		return 0
	fi
	t_fail "partboot install $disk $name"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 5
	return 1
}

# boot FIRMWARE DISK LOG: boot the whole disk once, serial console to LOG.
boot() {
	local fw=$1 disk=$2 log=$3 extra=()
	if [ "$fw" = ovmf ]; then
		cp "$OVMF_VARS" "$T_DIR/vars.fd"
		extra=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
			-drive "if=pflash,format=raw,unit=1,file=$T_DIR/vars.fd")
	fi
	rm -f "$log"
	timeout 120 $QEMU -accel tcg -M q35 -m 512 -nodefaults -nographic -monitor none \
		-serial "file:$log" -no-reboot "${extra[@]}" \
		-drive "file=$disk,format=raw,if=virtio" >/dev/null 2>&1
}

# TCG on a loaded machine sometimes trips the kernel's early timer check ("IO-APIC +
# timer doesn't work!"): nothing to do with GRUB. boot_to FW DISK LOG [NEXT] boots, and
# once more after that panic (setting `next` NEXT again first: GRUB consumed it).
boot_to() {
	local fw=$1 disk=$2 log=$3 next=${4:-}
	boot "$fw" "$disk" "$log"
	if grep -aq "IO-APIC + timer doesn't work" "$log"; then
		echo "# kernel timer check failed under TCG (machine busy): booting again"
		[ -n "$next" ] && pb next "$disk" "$next"
		boot "$fw" "$disk" "$log"
	fi
}

# reached DESC LOG PARTUUID: the guest on that partition printed its marker.
reached() {
	local desc=$1 log=$2 uuid=$3
	if [ -n "$uuid" ] && grep -aq "PARTBOOT-GUEST name=.* root=PARTUUID=$uuid" "$log"; then
		t_ok "$desc"
	else
		t_fail "$desc"
		grep -a "PARTBOOT-GUEST\|error\|Kernel panic" "$log" | head -n 5 | sed 's/^/#   /'
		tail -c 600 "$log" | tr -d '\033' | sed 's/^/#   /' | tail -n 6
	fi
}

# ---- refusals before anything is installed ---------------------------------------

D0=$T_DIR/noesp.img
pb -q init "$D0" --size 64M
pb -q add "$D0" a --type root --size 16M
s=$(sum "$D0")
refuses "no ESP and no BIOS boot partition: says which to add and how big" 1 \
	"no ESP and no BIOS boot partition.*--type esp --size 64M.*--type bios-boot --size 1M" \
	pb bootloader "$D0"
if [ "$(sum "$D0")" = "$s" ]; then
	t_ok "no ESP: disk unchanged"
else
	t_fail "no ESP: disk unchanged"
fi

# A BIOS boot partition of 64 sectors (sfdisk: partboot rounds to 1 MiB) and a dos gap
# of 62 sectors: too small for core.img.
D1=$T_DIR/small-bb.img
truncate -s 64M "$D1"
printf 'label: gpt\nfirst-lba: 34\nstart=34, size=64, type=21686148-6449-6E6F-744E-656564454649, name=bios\nstart=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\n' |
	sfdisk -q "$D1"
s=$(sum "$D1")
refuses "BIOS boot partition too small: says the size needed" 1 "BIOS boot partition 'bios' is 32 KiB, GRUB's core.img needs [0-9]+ KiB" \
	pb bootloader "$D1" --bios
if [ "$(sum "$D1")" = "$s" ]; then
	t_ok "small BIOS boot partition: disk unchanged"
else
	t_fail "small BIOS boot partition: disk unchanged"
fi

D2=$T_DIR/small-gap.img
truncate -s 64M "$D2"
printf 'label: dos\nstart=63, size=81920, type=ef\n' | sfdisk -q "$D2"
s=$(sum "$D2")
refuses "MBR gap too small: says the size needed" 1 "the gap after the MBR is 31 KiB, GRUB's core.img needs [0-9]+ KiB" \
	pb bootloader "$D2"
if [ "$(sum "$D2")" = "$s" ]; then
	t_ok "small MBR gap: disk unchanged"
else
	t_fail "small MBR gap: disk unchanged"
fi

# An ESP that is full.
D3=$T_DIR/full-esp.img
pb -q init "$D3" --size 64M
pb -q add "$D3" esp --type esp --size 4M
mkfs.fat -F 16 -s 1 --offset "$(start_of "$D3" 1)" "$D3" 4096 >/dev/null 2>&1
head -c 3800K /dev/zero >"$T_DIR/big"
mcopy -i "$(esp_img "$D3" 1)" "$T_DIR/big" ::/big
s=$(sum "$D3")
refuses "ESP without room: says free and needed" 1 "free, GRUB needs" pb bootloader "$D3" --uefi
if [ "$(sum "$D3")" = "$s" ]; then
	t_ok "full ESP: disk unchanged"
else
	t_fail "full ESP: disk unchanged"
fi

# ---- GPT: BIOS boot partition + ESP, two guests, one partition without a kernel ------

D=$T_DIR/gpt.img
pb -q init "$D" --size 256M
pb -q add "$D" bios --type bios-boot --size 1M
pb -q add "$D" esp --type esp --size 40M
pb -q add "$D" a --type root --size 80M
pb -q add "$D" b --type root --size 80M
pb -q add "$D" c --type root --size 16M
pb -q add "$D" d --type root --size 16M
install_guest "$D" a && install_guest "$D" b
# c: an OS without a kernel (by hand, no partboot install needed for that)
mkdir -p "$T_DIR/nokernel/etc" "$T_DIR/nokernel/boot"
echo 'PRETTY_NAME="No Kernel OS"' >"$T_DIR/nokernel/etc/os-release"
mke2fs -q -t ext4 -E offset=$(($(start_of "$D" 5) * 512)),nodiscard -d "$T_DIR/nokernel" "$D" 16M
# d: a kernel, but an install that never finished (fs/'s marker file is still there)
mkdir -p "$T_DIR/half/boot"
cp "$GUEST_KERNEL" "$T_DIR/half/boot/vmlinuz-$GUEST_KVER"
touch "$T_DIR/half/.partboot-incomplete"
mke2fs -q -t ext4 -E offset=$(($(start_of "$D" 6) * 512)),nodiscard -d "$T_DIR/half" "$D" 16M
UA=$(partuuid "$D" 3)
UB=$(partuuid "$D" 4)
sfdisk -d "$D" >"$T_DIR/table-before"
dd if="$D" bs=1 skip=440 count=72 status=none | sha256sum >"$T_DIR/mbr-table-before"

pb bootloader "$D" >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
if [ $rc -eq 0 ]; then
	t_ok "bootloader on GPT (BIOS + UEFI)"
else
	t_fail "bootloader on GPT (exit $rc)"
	sed 's/^/#   /' "$T_DIR/err"
fi
if grep -q "partition 'c': no kernel in /boot, left out of the boot menu" "$T_DIR/err"; then
	t_ok "guest without a kernel: left out, with a warning naming it"
else
	t_fail "guest without a kernel: warning"
	sed 's/^/#   /' "$T_DIR/err"
fi
if grep -q "partition 'd': guest is incomplete.*left out of the boot menu" "$T_DIR/err"; then
	t_ok "incomplete guest: left out, with a warning naming it"
else
	t_fail "incomplete guest: warning"
	sed 's/^/#   /' "$T_DIR/err"
fi
if sfdisk -d "$D" | cmp -s - "$T_DIR/table-before"; then
	t_ok "partition table unchanged"
else
	t_fail "partition table unchanged"
fi
if dd if="$D" bs=1 skip=440 count=72 status=none | sha256sum | cmp -s - "$T_DIR/mbr-table-before"; then
	t_ok "MBR disk signature and partition entries untouched"
else
	t_fail "MBR bytes 440-511 untouched"
fi
check "sfdisk --verify" sfdisk --verify "$D"
ESP=$(esp_img "$D" 2)
mtype -i "$ESP" ::/grub/grub.cfg >"$T_DIR/grub.cfg"
if grep -q "^menuentry 'a.*' --id 'a' {" "$T_DIR/grub.cfg" && grep -q "^menuentry 'b.*' --id 'b' {" "$T_DIR/grub.cfg" &&
	! grep -q "\-\-id '[cd]'" "$T_DIR/grub.cfg"; then
	t_ok "grub.cfg: one entry per guest with a kernel"
else
	t_fail "grub.cfg entries"
fi
if grep -q "linux /boot/vmlinuz-$GUEST_KVER root=PARTUUID=$UA ro console=ttyS0" "$T_DIR/grub.cfg"; then
	t_ok "grub.cfg: the guest's kernel, root=PARTUUID and its own cmdline"
else
	t_fail "grub.cfg linux line"
fi
if mdir -i "$ESP" ::/EFI/BOOT/BOOTX64.EFI >/dev/null 2>&1; then
	t_ok "ESP holds EFI/BOOT/BOOTX64.EFI"
else
	t_fail "BOOTX64.EFI"
fi

boot_to seabios "$D" "$T_DIR/bios1.log"
reached "SeaBIOS, GPT: boots the default (first) guest" "$T_DIR/bios1.log" "$UA"
if grep -aq "GNU GRUB" "$T_DIR/bios1.log" && grep -aq "\*a (" "$T_DIR/bios1.log"; then
	t_ok "GRUB menu shown on the serial console"
else
	t_fail "GRUB menu on serial"
fi

boot_to ovmf "$D" "$T_DIR/uefi1.log"
reached "OVMF, GPT: boots the default guest" "$T_DIR/uefi1.log" "$UA"
if grep -aq "Reboot into firmware settings" "$T_DIR/uefi1.log"; then
	t_ok "UEFI menu has the firmware-setup entry"
else
	t_fail "UEFI firmware-setup entry"
fi

# ---- next: one boot of B, then the default again --------------------------------------

s=$(sum "$D")
refuses "next: unknown guest" 1 "no partition 'nosuch'" pb next "$D" nosuch
refuses "next: guest without a kernel is not in the menu" 1 "'c' is not in the boot menu" pb next "$D" c
if [ "$(sum "$D")" = "$s" ]; then
	t_ok "refused next: disk unchanged"
else
	t_fail "refused next: disk unchanged"
fi

cp --sparse=always "$D" "$T_DIR/before-next.img"
check "partboot next gpt.img b" pb next "$D" b
esp_start=$(($(start_of "$D" 2) * 512))
esp_end=$((esp_start + $(size_of "$D" 2) * 512))
cmp -l "$T_DIR/before-next.img" "$D" >"$T_DIR/diff"
read -r first last n < <(awk 'NR==1{f=$1} {l=$1} END{print f-1, l-1, NR}' "$T_DIR/diff")
if [ "$n" -gt 0 ] && [ "$first" -ge "$esp_start" ] && [ "$last" -lt "$esp_end" ] && [ $((last - first)) -lt 1024 ]; then
	t_ok "next wrote only inside grubenv's 1024 bytes ($n bytes changed)"
else
	t_fail "next wrote elsewhere (first $first last $last, $n bytes)"
fi
mcopy -n -o -i "$ESP" ::/grub/grubenv "$T_DIR/grubenv"
if [ "$(stat -c %s "$T_DIR/grubenv")" = 1024 ]; then
	t_ok "grubenv stays 1024 bytes"
else
	t_fail "grubenv size"
fi
grub-editenv "$T_DIR/grubenv" list >"$T_DIR/env"
if grep -qx "next_entry=b" "$T_DIR/env"; then
	t_ok "grub-editenv reads next_entry=b"
else
	t_fail "grub-editenv list"
	sed 's/^/#   /' "$T_DIR/env"
fi

boot_to seabios "$D" "$T_DIR/bios2.log" b
reached "after next b: the next boot reaches b" "$T_DIR/bios2.log" "$UB"
boot_to seabios "$D" "$T_DIR/bios3.log"
reached "the boot after that reaches the default again" "$T_DIR/bios3.log" "$UA"
mcopy -n -o -i "$ESP" ::/grub/grubenv "$T_DIR/grubenv"
if grub-editenv "$T_DIR/grubenv" list | grep -qx "next_entry="; then
	t_ok "GRUB's save_env cleared next_entry in place"
else
	t_fail "next_entry cleared"
fi

# ---- default -------------------------------------------------------------------------

check "partboot default gpt.img b" pb default "$D" b
mcopy -n -o -i "$ESP" ::/grub/grubenv "$T_DIR/grubenv"
if grub-editenv "$T_DIR/grubenv" list | grep -qx "saved_entry=b"; then
	t_ok "grub-editenv reads saved_entry=b"
else
	t_fail "saved_entry=b"
fi
boot_to ovmf "$D" "$T_DIR/uefi2.log"
reached "after default b: OVMF boots b" "$T_DIR/uefi2.log" "$UB"

# A second install keeps grubenv (its values and its clusters, which GRUB writes through).
mshowfat -i "$ESP" ::/grub/grubenv >"$T_DIR/clusters-before"
check "bootloader again on the same disk" pb -q bootloader "$D"
if mshowfat -i "$ESP" ::/grub/grubenv | cmp -s - "$T_DIR/clusters-before"; then
	t_ok "reinstall: grubenv keeps its clusters"
else
	t_fail "reinstall: grubenv moved"
fi
mcopy -n -o -i "$ESP" ::/grub/grubenv "$T_DIR/grubenv"
if grub-editenv "$T_DIR/grubenv" list | grep -qx "saved_entry=b"; then
	t_ok "reinstall: saved_entry kept"
else
	t_fail "reinstall: saved_entry lost"
fi

# ---- native boot: refusals only (this machine is never rebooted) -----------------------

refuses "boot --native refuses an image file" 1 "an image file cannot be booted natively" \
	pb boot "$D" b --native --reboot
if command -v setpriv >/dev/null; then
	refuses "boot --native refuses a non-root caller" 1 "needs root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$(pb_public)" boot "$D" b --native --kexec
else
	t_skip "boot --native refuses a non-root caller" "setpriv missing (package util-linux)"
fi
refuses "boot without --native: usage error" 2 "only --native" pb boot "$D" b

# ---- dos: the gap after the MBR ----------------------------------------------------------

M=$T_DIR/dos.img
pb -q init "$M" --size 256M --table dos
pb -q add "$M" esp --type esp --size 40M
pb -q add "$M" a --type root --size 80M
pb -q add "$M" b --type root --size 80M
install_guest "$M" a && install_guest "$M" b
dd if="$M" bs=1 skip=440 count=72 status=none | sha256sum >"$T_DIR/dos-table-before"
check "bootloader on a dos table (MBR gap)" pb bootloader "$M"
if dd if="$M" bs=1 skip=440 count=72 status=none | sha256sum | cmp -s - "$T_DIR/dos-table-before"; then
	t_ok "dos: disk signature and partition table untouched"
else
	t_fail "dos: MBR table bytes"
fi
if pb -q list "$M" | grep -q " a "; then
	t_ok "dos: partboot's names survive the install"
else
	t_fail "dos: names"
fi
boot_to seabios "$M" "$T_DIR/dos1.log"
reached "SeaBIOS, dos: boots the default guest" "$T_DIR/dos1.log" "$(partuuid "$M" 2)"

# ---- the menu follows guests: rename, remove, mkfs (no boot needed) ----------------------

pb -q default "$M" b
pb -q next "$M" a
check "rename a guest" pb rename "$M" b bee
mcopy -n -i "$(esp_img "$M" 1)" ::/grub/grub.cfg "$T_DIR/dos.cfg"
if grep -q -- "--id 'bee'" "$T_DIR/dos.cfg" && ! grep -q -- "--id 'b'" "$T_DIR/dos.cfg"; then
	t_ok "rename: the menu entry's id follows"
else
	t_fail "rename: menu ids: $(grep -- --id "$T_DIR/dos.cfg")"
fi
check "rename: the default follows the guest" bash -c "'$PARTBOOT' list --json '$M' | jq -e '.partitions[] | select(.name == \"bee\") | .boot == \"default\"'"
check "mkfs over a guest" pb -q mkfs "$M" a
# lacks: an ESP mtools cannot read is a failure, not an empty menu
lacks "mkfs: the emptied guest leaves the menu" "--id 'a'" mtype -i "$(esp_img "$M" 1)" ::/grub/grub.cfg
check "remove a guest" pb -q remove "$M" bee
lacks "remove: grubenv no longer names it" "saved_entry=bee" mtype -i "$(esp_img "$M" 1)" ::/grub/grubenv
lacks "remove: the guest leaves the menu" "--id 'bee'" mtype -i "$(esp_img "$M" 1)" ::/grub/grub.cfg

t_done
