#!/bin/bash
# The test guest itself (fixtures/make-guest.sh, docs/test-guest.md): the archive is
# reproducible and complete, and its kernel + initramfs boot it under plain QEMU (no partboot)
# to the marker, run a pb.run script, find the root by UUID= on a bare filesystem and by
# PARTUUID= in a GPT and in a dos table (logical partition), and fail cleanly with
# PARTBOOT-INITRD-ERROR when the root is not there. Four TCG boots, ~5 s each here.
. "$(dirname "$0")/lib.sh"

if ! out=$("$PB_TOP/fixtures/make-guest.sh" 2>&1); then
	t_fail "make-guest.sh builds the guest"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	t_done
	exit 1
fi
t_ok "make-guest.sh builds the guest"
. "$PB_TOP/.cache/guest/env"
# (resolved: .cache may be a link to a cache another checkout wrote env into)
check "make-guest.sh prints the archive's path last" \
	test "$(readlink -f "$(printf '%s\n' "$out" | tail -n 1)")" = "$(readlink -f "$GUEST_TAR")"
check "env names existing kernel, initramfs and archive" test -s "$GUEST_TAR" -a -s "$GUEST_KERNEL" -a -s "$GUEST_INITRD"

# --- the archive ---------------------------------------------------------------------------
tar -tvf "$GUEST_TAR" --numeric-owner >"$T_DIR/list"
has() { grep -qE -- "$1" "$T_DIR/list"; }
missing=
for want in " \./boot/vmlinuz-$GUEST_KVER\$" " \./boot/initrd\.img-$GUEST_KVER\$" \
	" \./vmlinuz -> boot/vmlinuz-$GUEST_KVER\$" " \./initrd\.img -> boot/initrd\.img-$GUEST_KVER\$" \
	'^-rwxr-xr-x .* \./bin/busybox$' ' \./bin/sh -> busybox$' '^-rwxr-xr-x .* \./sbin/init$' \
	' \./etc/os-release$' ' \./etc/hostname$' ' \./etc/kernel/cmdline$' '^drwxrwxrwt .* \./tmp/$'; do
	has "$want" || missing="$missing '$want'"
done
check "archive holds kernel, initramfs, links, busybox, init, etc files${missing:+ (missing:$missing)}" test -z "$missing"
check "every archive entry is owned by 0/0" test -z "$(awk '$2 != "0/0"' "$T_DIR/list")"
mkdir "$T_DIR/tree"
tar -C "$T_DIR/tree" -xf "$GUEST_TAR"
check "os-release says ID=partboot-guest" grep -qx 'ID=partboot-guest' "$T_DIR/tree/etc/os-release"
check "kernel/cmdline has 'ro console=ttyS0'" grep -q 'ro console=ttyS0' "$T_DIR/tree/etc/kernel/cmdline"
check "archive's kernel and initramfs are the ones in env" \
	cmp -s "$T_DIR/tree/boot/initrd.img-$GUEST_KVER" "$GUEST_INITRD"
size=$(stat -c %s "$T_DIR/tree/boot/initrd.img-$GUEST_KVER")
check "initramfs is small ($size bytes < 4 MiB)" test "$size" -lt $((4 << 20))

# --- reproducible: a second build from the same .debs gives the same bytes ---------------
if "$PB_TOP/fixtures/make-guest.sh" --out "$T_DIR/rebuild" >/dev/null 2>"$T_DIR/rebuild.err"; then
	check "rebuild: same guest.tar sha256" test "$(sum "$GUEST_TAR")" = "$(sum "$T_DIR/rebuild/guest.tar")"
	check "rebuild: same initrd sha256" test "$(sum "$GUEST_INITRD")" = "$(sum "$T_DIR/rebuild/initrd.img-$GUEST_KVER")"
else
	t_fail "rebuild into a second folder"
	sed 's/^/#   /' "$T_DIR/rebuild.err" | tail -n 10
fi
rm -rf "$T_DIR/rebuild"

# --- boots -----------------------------------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null; then
	t_skip "boots" "qemu-system-x86_64 not installed (package qemu-system-x86)"
	t_done
	exit
fi

# boot NAME APPEND DISK: boot the guest's kernel + initramfs under TCG (KVM cannot run a stock
# kernel on these machines, see PLATFORM.md) with DISK as a virtio disk; the console goes to
# $T_DIR/NAME.log without carriage returns. Returns QEMU's exit status (124: timed out).
boot() {
	local rc
	timeout 120 qemu-system-x86_64 -accel tcg -M q35 -m 512 -nodefaults -nographic \
		-serial stdio -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "console=ttyS0 $2" -drive "file=$3,format=raw,if=virtio" </dev/null >"$T_DIR/$1.raw" 2>&1
	rc=$?
	tr -d '\r' <"$T_DIR/$1.raw" >"$T_DIR/$1.log"
	return $rc
}
# booted NAME DESC STATUS PATTERN...: the boot exited STATUS and every PATTERN (grep -xE) is a
# line of its console; shows the console's tail when not.
booted() {
	local name=$1 desc=$2 want=$3 rc=$4 p miss=
	shift 4
	for p in "$@"; do
		grep -qxE -- "$p" "$T_DIR/$name.log" || miss="$miss '$p'"
	done
	if [ "$rc" -eq "$want" ] && [ -z "$miss" ]; then
		t_ok "$desc"
	else
		t_fail "$desc (qemu exit $rc, want $want; missing:$miss)"
		grep -v '^\[' "$T_DIR/$name.log" | tail -n 15 | sed 's/^/#   /'
	fi
}

# 1. A bare ext4 filesystem as the whole disk, root=UUID=, rw, and a pb.run script that writes
#    a file and prints the disk's size both ways.
uuid=5eb0c0de-0000-4000-8000-000000000001
truncate -s 64M "$T_DIR/fs.img"
mke2fs -q -t ext4 -U "$uuid" -d "$T_DIR/tree" "$T_DIR/fs.img"
# shellcheck disable=SC2016 # the $(...) run in the guest's shell, not here
run=$(printf '%s\n' 'echo written-by-guest >/root/hello' 'echo size=$(blockdev --getsize64 /dev/vda) sectors=$(cat /sys/block/vda/size)' 'exit 7' | base64 -w0)
boot uuid "root=UUID=$uuid rw pb.run=$run" "$T_DIR/fs.img"
booted uuid "root=UUID=: marker, pb.run output and exit status, poweroff" 0 $? \
	"PARTBOOT-GUEST name=testguest root=UUID=$uuid virt=(kvm|qemu|none)" \
	"size=67108864 sectors=131072" "PARTBOOT-RUN-EXIT status=7" "PARTBOOT-POWEROFF"
check "pb.run's file is on the disk afterwards" \
	sh -c "debugfs -R 'cat /root/hello' '$T_DIR/fs.img' 2>/dev/null | grep -qx written-by-guest"
check "the guest left its filesystem clean" e2fsck -fn "$T_DIR/fs.img"
rm -f "$T_DIR/fs.img"

# 2. GPT, root in partition 2 (partition 1 is ext4 too, so a wrong pick shows), whole disk given.
pu1=0a0b0c0d-1111-4222-8333-444455556666 pu2=a1b2c3d4-e5f6-4789-8a9b-0c1d2e3f4a5b
truncate -s 100M "$T_DIR/gpt.img"
printf 'label: gpt\nstart=2048, size=8192, type=L, uuid=%s\nstart=10240, size=131072, type=L, uuid=%s\n' \
	"$pu1" "${pu2^^}" | sfdisk -q "$T_DIR/gpt.img"
mke2fs -q -t ext4 -E offset=$((2048 * 512)) "$T_DIR/gpt.img" 4M
mke2fs -q -t ext4 -E offset=$((10240 * 512)) -d "$T_DIR/tree" "$T_DIR/gpt.img" 64M
boot gpt "ro root=PARTUUID=$pu2 pb.run=$(echo 'grep " / " /proc/mounts' | base64 -w0)" "$T_DIR/gpt.img"
booted gpt "GPT root=PARTUUID= in partition 2: marker, mounted vda2 read-only" 0 $? \
	"PARTBOOT-GUEST name=testguest root=PARTUUID=$pu2 virt=(kvm|qemu|none)" \
	"/dev/vda2 / ext4 ro,.*" "PARTBOOT-RUN-EXIT status=0" "PARTBOOT-POWEROFF"
rm -f "$T_DIR/gpt.img"

# 3. dos table, root in logical partition 5: PARTUUID is "SIGNATURE-05". With "quiet" the
#    marker must still be a line of its own; a pb.run that is not base64 gives status 126.
truncate -s 100M "$T_DIR/dos.img"
printf 'label: dos\nlabel-id: 0x0badf00d\nstart=2048, size=8192, type=83\nstart=10240, type=5\nstart=12288, size=131072, type=83\n' |
	sfdisk -q "$T_DIR/dos.img"
mke2fs -q -t ext4 -E offset=$((12288 * 512)) -d "$T_DIR/tree" "$T_DIR/dos.img" 64M
boot dos "quiet root=PARTUUID=0BADF00D-05 pb.run=not-base64!" "$T_DIR/dos.img"
booted dos "dos root=PARTUUID=SIG-05 (logical partition), quiet: marker; bad pb.run: 126" 0 $? \
	"PARTBOOT-GUEST name=testguest root=PARTUUID=0BADF00D-05 virt=(kvm|qemu|none)" \
	"PARTBOOT-RUN-EXIT status=126" "PARTBOOT-POWEROFF"

# 4. A root that is not there: one error line and a power-off, no hang, no panic.
boot missing "root=PARTUUID=0badf00d-07 rootdelay=1" "$T_DIR/dos.img"
booted missing "missing root: PARTBOOT-INITRD-ERROR and power-off" 0 $? \
	"PARTBOOT-INITRD-ERROR root=PARTUUID=0badf00d-07: no such device after 1 s .*"
# Only after the initramfs said so: an empty console has no panic either.
check "missing root: no kernel panic, guest init never ran" \
	sh -c "grep -q PARTBOOT-INITRD-ERROR '$T_DIR/missing.log' && ! grep -qE 'Kernel panic|PARTBOOT-GUEST' '$T_DIR/missing.log'"

t_done
