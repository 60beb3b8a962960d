#!/bin/bash
# SLOW (15 boots of the test guest under TCG: 14 minutes measured here on a machine busy with
# other VMs, load 10 on 2 cores): the lifecycle verbs' results booted every way they are meant
# to boot.
#   - clone: the clone through the disk's GRUB (SeaBIOS, `partboot next`), with its own
#     PARTUUID on the kernel command line and its own hostname, and the original after it
#     (GRUB's default), and both in the VM runner;
#   - export: the raw export through SeaBIOS and OVMF (the whole file as the VM's disk) and
#     in `partboot run` (direct and --firmware bios); the qcow2 export through SeaBIOS and
#     OVMF, the vmdk through SeaBIOS and OVMF (QEMU reading those formats itself);
#   - import: the qcow2 export imported into another disk, booted through that disk's GRUB
#     (`partboot run --firmware bios`) and directly; a root with a separate /boot, merged.
# Each boot is checked by the test guest's marker line on the serial console.
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1

QEMU=qemu-system-x86_64
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
GUEST_ENV=$PB_TOP/.cache/guest/env
missing=
for p in $QEMU qemu-img jq mke2fs sfdisk; do command -v "$p" >/dev/null || missing="$missing $p"; done
[ -r "$OVMF_CODE" ] || missing="$missing $OVMF_CODE"
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "lifecycle boots" "missing:$missing"
	t_done
	exit
fi
# shellcheck source=/dev/null # written by fixtures/make-guest.sh
. "$GUEST_ENV"
export XDG_CACHE_HOME=$T_DIR/cache
start=$SECONDS

partuuid() { pb list --json "$2" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | .partuuid'; }
fsuuid() { local off size; read -r off size <<<"$(pb_range "$1" "$2")"; blkid -p -O "$off" -S "$size" -s UUID -o value "$2"; }

# fw FIRMWARE FORMAT DISK LOG: boot the whole disk once in QEMU, serial console to LOG (GRUB
# writes grubenv: `next` is used up on the disk, as on a real machine)
fw() {
	local fw=$1 fmt=$2 disk=$3 log=$4 extra=()
	if [ "$fw" = ovmf ]; then
		cp "$OVMF_VARS" "$T_DIR/vars.fd"
		extra=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
			-drive "if=pflash,format=raw,unit=1,file=$T_DIR/vars.fd")
	fi
	rm -f "$log"
	timeout 300 $QEMU -accel tcg -M q35 -m 512 -nodefaults -nographic -monitor none \
		-serial "file:$log" -no-reboot "${extra[@]}" \
		-drive "file=$disk,format=$fmt,if=virtio" >/dev/null 2>&1
	# TCG on a busy machine sometimes trips the kernel's early timer check: once more then
	if grep -aq "IO-APIC + timer doesn't work" "$log"; then
		echo "# kernel timer check failed under TCG (machine busy): booting again"
		timeout 300 $QEMU -accel tcg -M q35 -m 512 -nodefaults -nographic -monitor none \
			-serial "file:$log" -no-reboot "${extra[@]}" \
			-drive "file=$disk,format=$fmt,if=virtio" >/dev/null 2>&1
	fi
}
# reached DESC LOG PATTERN
reached() {
	if grep -aq "PARTBOOT-GUEST $3" "$2"; then
		t_ok "$1"
	else
		t_fail "$1"
		grep -a "PARTBOOT-GUEST\|error\|panic" "$2" | head -n 3 | sed 's/^/#   /'
		tail -c 400 "$2" | tr -d '\033' | sed 's/^/#   /' | tail -n 4
	fi
}
# run DESC DISK NAME PATTERN [run options]: partboot run to the marker
run() {
	local desc=$1 disk=$2 name=$3 pat=$4 log=$T_DIR/run-$RANDOM.log
	shift 4
	pb run "$disk" "$name" --timeout 300 --console "$log" "$@" </dev/null >/dev/null 2>&1
	reached "$desc" "$log" "$pat"
}

D=$T_DIR/disk.img
make_disk() {
	pb -q init "$D" --size 600M && pb -q add "$D" esp --type esp --size 40M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" g --type root --size 120M &&
		pb -q install "$D" g --from "$GUEST_TAR" && pb -q bootloader "$D"
}
if ! check "a disk: ESP and BIOS boot partition with GRUB, guest g" make_disk; then
	t_done
	exit 1
fi

# --- clone, through GRUB -----------------------------------------------------------------------
check "clone g to g2" pb -q clone "$D" g g2
P_G=$(partuuid g "$D")
P_2=$(partuuid g2 "$D")
pb -q next "$D" g2
fw seabios raw "$D" "$T_DIR/clone.log"
reached "clone: the clone boots through GRUB (SeaBIOS, next), with its PARTUUID and hostname" "$T_DIR/clone.log" \
	"name=g2 root=PARTUUID=$P_2"
fw ovmf raw "$D" "$T_DIR/orig.log"
reached "clone: the original boots after it, through GRUB (OVMF, the default)" "$T_DIR/orig.log" "name=g root=PARTUUID=$P_G"
run "clone: the original boots in the VM runner" "$D" g "name=g root=UUID=$(fsuuid g "$D")"

# --- export: raw, qcow2, vmdk ----------------------------------------------------------------------
check "export g to raw" pb -q export "$D" g "$T_DIR/x.img"
P_X=$(partuuid g "$T_DIR/x.img")
fw seabios raw "$T_DIR/x.img" "$T_DIR/x-bios.log"
reached "export (raw): boots through SeaBIOS" "$T_DIR/x-bios.log" "name=g root=PARTUUID=$P_X"
fw ovmf raw "$T_DIR/x.img" "$T_DIR/x-uefi.log"
reached "export (raw): boots through OVMF" "$T_DIR/x-uefi.log" "name=g root=PARTUUID=$P_X"
run "export (raw): boots in partboot run (direct)" "$T_DIR/x.img" g "name=g "
run "export (raw): boots in partboot run --firmware bios" "$T_DIR/x.img" g "name=g root=PARTUUID=$P_X" --firmware bios
check "export g to qcow2 (--size 200M)" pb -q export "$D" g "$T_DIR/x.qcow2" --size 200M
fw seabios qcow2 "$T_DIR/x.qcow2" "$T_DIR/q-bios.log"
reached "export (qcow2): boots through SeaBIOS" "$T_DIR/q-bios.log" "name=g root=PARTUUID="
fw ovmf qcow2 "$T_DIR/x.qcow2" "$T_DIR/q-uefi.log"
reached "export (qcow2): boots through OVMF" "$T_DIR/q-uefi.log" "name=g root=PARTUUID="
check "export g to vmdk" pb -q export "$D" g "$T_DIR/x.vmdk"
fw seabios vmdk "$T_DIR/x.vmdk" "$T_DIR/v-bios.log"
reached "export (vmdk): boots through SeaBIOS" "$T_DIR/v-bios.log" "name=g root=PARTUUID="
fw ovmf vmdk "$T_DIR/x.vmdk" "$T_DIR/v-uefi.log"
reached "export (vmdk): boots through OVMF" "$T_DIR/v-uefi.log" "name=g root=PARTUUID="

# --- import ---------------------------------------------------------------------------------------
I=$T_DIR/import.img
pb -q init "$I" --size 600M && pb -q add "$I" esp --type esp --size 40M && pb -q add "$I" bios --type bios-boot --size 1M &&
	pb -q add "$I" slot --type root --size 250M && pb -q add "$I" split --type root --size 150M && pb -q bootloader "$I"
check "import the qcow2 export into another disk" pb -q install "$I" slot --from "disk:$T_DIR/x.qcow2"
run "import: the imported export boots through its new disk's GRUB (partboot run --firmware bios)" "$I" slot \
	"name=slot root=PARTUUID=$(partuuid slot "$I")" --firmware bios
run "import: and directly" "$I" slot "name=slot root=UUID=$(fsuuid slot "$I")"
mkdir -p split/root split/boot
tar -C split/root -xf "$GUEST_TAR" 2>/dev/null
mv split/root/boot/* split/boot/
S=$T_DIR/split.img
truncate -s 200M "$S"
printf 'label: gpt\nstart=2048, size=65536, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, name=boot\nstart=67584, size=262144, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n' | sfdisk -q "$S"
BOOT_UUID=$(cat /proc/sys/kernel/random/uuid)
printf 'UUID=%s /boot ext4 defaults 0 2\n' "$BOOT_UUID" >>split/root/etc/fstab
mke2fs -q -t ext4 -F -U "$BOOT_UUID" -E offset=$((2048 * 512)) -d split/boot "$S" 32M &&
	mke2fs -q -t ext4 -F -E offset=$((67584 * 512)) -d split/root "$S" 128M
check "import a root with a separate /boot" pb -q install "$I" split --from "disk:$S"
run "import (/boot merged): it boots" "$I" split "name=split "
echo "# lifecycle boots: $((SECONDS - start)) s"
t_done
