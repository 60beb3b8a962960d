#!/bin/bash
# Defects 1 and 2 of issue 15 with real GRUB (slow: one SeaBIOS boot under TCG, 20-45 s):
# a guest whose /etc/kernel/cmdline tries to end its menu entry and make another guest the
# default, on a disk partboot's bootloader menu lists. SeaBIOS boots the whole disk; GRUB
# must boot the default guest (alpha), and alpha's kernel must get its words literally.
# The fast checks of the same grub.cfg are in tests/e2e/hostile-guest.sh.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
missing=
for p in qemu-system-x86_64 grub-mkimage partx; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "hostile guest under real GRUB" "missing:$missing"
	t_done
	exit
fi
# shellcheck disable=SC1090
. "$GUEST_ENV"
D=$T_DIR/disk.img
b64() { printf '%s' "$1" | base64 -w0; }
partuuid() { partx -g -o UUID -n "$2" "$1" | tr -d ' ' | tr '[:upper:]' '[:lower:]'; }

# shellcheck disable=SC2016 # GRUB script and the guest's shell: nothing expands here
evil='x; }; set default=beta; menuentry evil { $root'
# shellcheck disable=SC2016 # runs in the guest
run=$(b64 'echo "CMDLINE:$(cat /proc/cmdline)"')
make_disk() {
	pb -q init "$D" --size 200M && pb -q add "$D" esp --type esp --size 40M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" alpha --type root --size 64M &&
		pb -q add "$D" beta --type root --size 64M &&
		pb -q install "$D" alpha --from "$GUEST_TAR" --cmdline "$GUEST_CMDLINE pb.run=$run $evil" &&
		pb -q install "$D" beta --from "$GUEST_TAR" && pb -q bootloader "$D" && pb -q default "$D" alpha
}
if ! check "alpha (hostile command line) and beta installed, GRUB for BIOS, default alpha" make_disk; then
	t_done
	exit 1
fi

# boot_once: SeaBIOS boots the disk, serial console to $T_DIR/con. TCG on a busy machine
# sometimes trips the kernel's early timer check: boot once more then (boot.sh does too).
boot_once() {
	rm -f "$T_DIR/con"
	timeout 180 qemu-system-x86_64 -accel tcg -M q35 -m 512 -nodefaults -nographic -monitor none \
		-serial "file:$T_DIR/con" -no-reboot -drive "file=$D,format=raw,if=virtio" >/dev/null 2>&1
}
boot_once
grep -aq "IO-APIC + timer doesn't work" "$T_DIR/con" && boot_once
if grep -aq "PARTBOOT-GUEST name=alpha root=PARTUUID=$(partuuid "$D" 3)" "$T_DIR/con" &&
	grep -aqF "pb.run=$run $evil" "$T_DIR/con"; then
	t_ok "defect 1: real GRUB boots alpha, and alpha's kernel gets its command line word for word"
else
	t_fail "defect 1: GRUB did not boot alpha with its literal command line"
	grep -a "PARTBOOT\|CMDLINE\|error" "$T_DIR/con" | head -n 5 | sed 's/^/#   /'
fi

t_done
