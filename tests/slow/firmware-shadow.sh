#!/bin/bash
# Issue 15, defect 10: in firmware mode (`partboot run --firmware bios`) what a guest writes
# outside its partition lands in a sparse shadow file in the temporary folder, and a guest
# could fill the host's /tmp that way. The guest here writes 200 MiB over another partition:
# the runner stops the VM once the shadow holds more than its copies (tables, ESP, BIOS boot
# partition) and 32 MiB, says so, and removes the shadow; the real disk is unchanged outside
# the guest's partition. Slow: a SeaBIOS + GRUB boot under TCG and the write, 40-90 s.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
missing=
for p in qemu-system-x86_64 grub-mkimage sfdisk; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "firmware mode's shadow bound" "missing:$missing"
	t_done
	exit
fi
# shellcheck disable=SC1090
. "$GUEST_ENV"
D=$T_DIR/disk.img
b64() { printf '%s' "$1" | base64 -w0; }
# sha256 of everything outside partition 3 (the guest)
outside_sum() {
	local off size total
	read -r off size < <(sfdisk -d "$D" | awk -F'[=,]' '/name="g"/ { print $2 * 512, $4 * 512 }')
	total=$(stat -c %s "$D")
	{
		dd if="$D" bs=64K iflag=count_bytes count="$off" status=none
		dd if="$D" bs=64K iflag=skip_bytes skip=$((off + size)) status=none
	} | sha256sum | cut -d' ' -f1
	: "$total"
}
run=$(b64 'dd if=/dev/zero of=/dev/vda4 bs=1M count=200 conv=fsync 2>/dev/null; echo wrote-other')
make_disk() {
	pb -q init "$D" --size 400M && pb -q add "$D" esp --type esp --size 40M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" g --type root --size 64M &&
		pb -q add "$D" other --type data --size 200M &&
		pb -q install "$D" g --from "$GUEST_TAR" --cmdline "$GUEST_CMDLINE pb.run=$run" && pb -q bootloader "$D"
}
if ! check "a disk with GRUB and a guest that writes 200 MiB over partition 4" make_disk; then
	t_done
	exit 1
fi
before=$(outside_sum)
mkdir -p "$T_DIR/tmp"
TMPDIR=$T_DIR/tmp XDG_CACHE_HOME=$T_DIR/cache "$PARTBOOT" run "$D" g --firmware bios --timeout 300 \
	--console "$T_DIR/con" </dev/null >/dev/null 2>"$T_DIR/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "partition 'g': the guest wrote .* outside its partition, more than firmware mode keeps" "$T_DIR/err"; then
	t_ok "defect 10: the VM is stopped once the shadow holds more than it may, and the message says why"
else
	t_fail "defect 10: exit $rc (want 1): $(cat "$T_DIR/err")"
	tail -n 5 "$T_DIR/con" 2>/dev/null | sed 's/^/#   /'
fi
check "defect 10: the guest had booted and was writing (not a boot failure)" grep -q "PARTBOOT-GUEST" "$T_DIR/con"
check "defect 10: it did not get to finish its 200 MiB" bash -c "! grep -q wrote-other '$T_DIR/con'"
check "defect 10: the shadow and its folder are gone" test -z "$(ls -A "$T_DIR/tmp")"
check "defect 10: nothing outside the guest's partition changed on the disk" test "$(outside_sum)" = "$before"

t_done
