#!/bin/bash
# Installing through the usual media (docs/installers.md): the fixtures of
# fixtures/make-media.sh, `partboot install DISK NAME --from iso:LIVE.iso` into one partition
# of a two-partition disk (e2fsck, the guest's files, live-boot's hook disabled, a boot to the
# guest's marker), bad ISOs refused with the disk byte-identical, a squashfs that breaks
# half-way leaving the guest incomplete, and the fixture installer booted over PXE (plain
# QEMU, scratch disk) doing what it is meant to. Everything outside the target partition is
# checksummed around every step. Two TCG boots.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

for tool in sqfs2tar tar2sqfs xorriso bsdtar e2fsck blkid python3 grub-mkrescue; do
	command -v $tool >/dev/null ||
		{ t_skip "media e2e" "$tool missing (packages: squashfs-tools-ng xorriso libarchive-tools e2fsprogs grub-common)"; t_done; exit; }
done

# --- the fixtures ------------------------------------------------------------------------
if ! out=$("$PB_TOP/fixtures/make-media.sh" 2>&1); then
	t_fail "make-media.sh builds the media"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	t_done
	exit 1
fi
t_ok "make-media.sh builds the media"
# shellcheck source=/dev/null
. "$(printf '%s\n' "$out" | tail -n 1)"
# shellcheck source=/dev/null
. "$PB_TOP/.cache/guest/env"
bsdtar -tf "$MEDIA_LIVE_ISO" | sed 's|^\./||' | sort >live.list
check "live.iso: Debian live layout (live/filesystem.squashfs, vmlinuz, initrd.img)" \
	sh -c "grep -qx live/filesystem.squashfs live.list && grep -qx live/vmlinuz live.list && grep -qx live/initrd.img live.list"
lacks "live-noroot.iso has no root image" squashfs bsdtar -tf "$MEDIA_LIVE_NOROOT_ISO"
bsdtar -xf "$MEDIA_LIVE_ISO" live/filesystem.squashfs
sqfs2tar live/filesystem.squashfs 2>/dev/null | tar -tvf - --numeric-owner >sqfs.list
check "the squashfs holds the guest (owners 0/0, busybox, kernel) and live-boot's hook" \
	sh -c "grep -q ' boot/vmlinuz-$GUEST_KVER\$' sqfs.list && grep -qE '^-rwxr-xr-x 0/0 .* bin/busybox\$' sqfs.list &&
	       grep -qE '^-rwxr-xr-x .* usr/share/initramfs-tools/hooks/live\$' sqfs.list"
rm -rf live
if "$PB_TOP/fixtures/make-media.sh" --out "$T_DIR/rebuild" >/dev/null 2>rebuild.err; then
	check "rebuild: same live.iso sha256" test "$(sum "$MEDIA_LIVE_ISO")" = "$(sum rebuild/live.iso)"
else
	t_fail "make-media.sh --out a second folder"
	sed 's/^/#   /' rebuild.err | tail -n 5
fi
rm -rf rebuild
check "pxe/: iPXE script loading the installer's kernel and initramfs" \
	sh -c "head -n 1 '$MEDIA_PXE_DIR/$MEDIA_PXE_BOOTFILE' | grep -qx '#!ipxe' && test -s '$MEDIA_PXE_DIR/vmlinuz' -a -s '$MEDIA_PXE_DIR/initrd.img'"

# --- the disk: a data partition full of random bytes, then the target -------------------
IMG=$T_DIR/disk.img
make_disk() {
	pb -q init "$IMG" --size 200M && pb -q add "$IMG" other --type data --size 40M &&
		pb -q add "$IMG" live --type root --size 120M
}
if ! check "partboot init/add make the disk" make_disk; then
	t_done
	exit 1
fi
read -r OFF SIZE OTHER_OFF OTHER_SIZE <<<"$(pb list --json "$IMG" | python3 -c "import json,sys
p = {x['name']: x for x in json.load(sys.stdin)['partitions']}
print(p['live']['start'], p['live']['size'], p['other']['start'], p['other']['size'])")"
head -c "$OTHER_SIZE" /dev/urandom | dd of="$IMG" bs=1M seek=$((OTHER_OFF / 1048576)) conv=notrunc status=none
outside() {
	{
		head -c "$OFF" "$IMG"
		tail -c +$((OFF + SIZE + 1)) "$IMG"
	} | sha256sum | cut -d' ' -f1
}
BEFORE=$(outside)

# --- bad input: refused before the disk is touched ------------------------------------------
whole=$(sum "$IMG")
refuses "missing ISO: the file named, exit 1" 1 "no-such\.iso: No such file or directory" \
	pb install "$IMG" live --from iso:"$T_DIR/no-such.iso"
refuses "not ISO9660: exit 1" 1 "not-an-iso\.iso: not an ISO9660 image" \
	pb install "$IMG" live --from iso:"$MEDIA_NOT_ISO"
refuses "live ISO without a root image: exit 1, what was looked for" 1 \
	"live-noroot\.iso: no live root image \(looked for live/filesystem\.squashfs, casper/\*\.squashfs\)" \
	pb install "$IMG" live --from iso:"$MEDIA_LIVE_NOROOT_ISO"
check "bad ISOs: the whole disk is byte-identical" test "$(sum "$IMG")" = "$whole"

# --- the live ISO -----------------------------------------------------------------------------
if pb install "$IMG" live --from iso:"$MEDIA_LIVE_ISO" >install.out 2>install.err; then
	t_ok "install --from iso:live.iso"
else
	t_fail "install --from iso:live.iso"
	sed 's/^/#   /' install.err | tail -n 10
fi
check "install: says it disabled live-boot's hook" grep -q "disabled the live system's initramfs hook /usr/share/initramfs-tools/hooks/live" install.err
check "install: nothing outside the partition changed" test "$(outside)" = "$BEFORE"
check "e2fsck -fn: clean" e2fsck -fn "$IMG?offset=$OFF"
check "guest's os-release (partboot cat)" sh -c "\"\$PARTBOOT\" cat '$IMG' live /etc/os-release | grep -qx ID=partboot-guest"
check "guest's busybox is the guest archive's" \
	test "$(pb cat "$IMG" live /bin/busybox | sha256sum)" = "$(tar -xOf "$GUEST_TAR" ./bin/busybox | sha256sum)"
lacks "guest is complete (no .partboot-incomplete)" partboot-incomplete pb ls "$IMG" live /
check "live-boot's hook lost its exec bits (-rw-r--r--)" \
	sh -c "\"\$PARTBOOT\" ls -l '$IMG' live /usr/share/initramfs-tools/hooks | grep -qE '^-rw-r--r-- .* live\$'"
check "kernel in /boot, as in the ISO's live/vmlinuz" \
	test "$(pb cat "$IMG" live "/boot/vmlinuz-$GUEST_KVER" | sha256sum)" = "$(sha256sum <"$GUEST_KERNEL")"

# Boot it (VM boot 1): partboot run in direct mode, kernel and initrd out of the partition.
UUID=$(blkid -p -O "$OFF" -s UUID -o value "$IMG")
pb run "$IMG" live --accel tcg --timeout 120 --console boot.log \
	--append "pb.run=$(echo 'cat /etc/os-release | grep ^ID=' | base64 -w0)" >run.out 2>&1
rc=$?
tr -d '\r' <boot.log >boot.txt
if [ "$rc" -eq 0 ] && grep -qxE "PARTBOOT-GUEST name=[^ ]+ root=UUID=$UUID virt=(kvm|qemu|none)" boot.txt &&
	grep -qx 'ID=partboot-guest' boot.txt && grep -qx 'PARTBOOT-POWEROFF' boot.txt; then
	t_ok "boots to its marker with root=UUID=$UUID and powers off"
else
	t_fail "boots to its marker (partboot run exit $rc)"
	{ cat run.out; grep -v '^\[' boot.txt | tail -n 15; } | sed 's/^/#   /'
fi
check "boot: nothing outside the partition changed" test "$(outside)" = "$BEFORE"

# --- a root image that breaks half-way: the guest stays incomplete -------------------------
# Random text compresses, so corrupting the middle of the image hits a compressed block that
# sqfs2tar cannot decompress after it has already written the first entries.
mkdir -p broken/etc iso/live
echo 'ID=broken' >broken/etc/os-release
head -c 1500000 /dev/urandom | base64 >broken/big.txt
echo last >broken/zz
tar -C broken -cf - . | tar2sqfs -q -f -c gzip iso/live/filesystem.squashfs >/dev/null
n=$(stat -c %s iso/live/filesystem.squashfs)
dd if=/dev/urandom of=iso/live/filesystem.squashfs bs=1 seek=$((n / 2)) count=4096 conv=notrunc status=none
xorriso -no_rc -report_about SORRY -outdev broken.iso -map iso / -commit >/dev/null 2>&1
refuses "squashfs broken half-way: exit 1, sqfs2tar's reason" 1 \
	"partition 'live': .*broken\.iso:live/filesystem\.squashfs: sqfs2tar failed" \
	pb install "$IMG" live --from iso:"$T_DIR/broken.iso"
check "broken: the guest is marked incomplete" sh -c "\"\$PARTBOOT\" ls '$IMG' live / | grep -qx .partboot-incomplete"
check "broken: nothing outside the partition changed" test "$(outside)" = "$BEFORE"
check "broken: e2fsck -fn still clean" e2fsck -fn "$IMG?offset=$OFF"
check "a second install replaces the incomplete one" pb -q install "$IMG" live --from iso:"$MEDIA_LIVE_ISO"
lacks "... and leaves it complete" partboot-incomplete pb ls "$IMG" live /
check "... nothing outside the partition changed" test "$(outside)" = "$BEFORE"

# --- Ubuntu's layout: casper/ ------------------------------------------------------------------
# A layered image (23.04+): the base layer is installed, the ".live" layer never, with a warning.
# The base here is the broken tree's image made whole again, so the test sees which one won.
mkdir -p casper/casper
tar -C broken -cf - . | tar2sqfs -q -f -c gzip casper/casper/minimal.squashfs >/dev/null
bsdtar -xOf "$MEDIA_LIVE_ISO" live/filesystem.squashfs >casper/casper/minimal.standard.squashfs
cp casper/casper/minimal.standard.squashfs casper/casper/minimal.standard.live.squashfs
xorriso -no_rc -report_about SORRY -outdev casper.iso -map casper / -commit >/dev/null 2>&1
if pb install "$IMG" live --wipe --from iso:"$T_DIR/casper.iso" >casper.out 2>casper.err; then
	t_ok "casper layered ISO: installs"
else
	t_fail "casper layered ISO: installs"
	sed 's/^/#   /' casper.err | tail -n 5
fi
check "casper layered ISO: warns that only the base layer is installed" \
	grep -q "3 casper images (a layered ISO); installing only casper/minimal.squashfs" casper.err
check "casper layered ISO: the base layer is what got installed" \
	sh -c "\"\$PARTBOOT\" cat '$IMG' live /etc/os-release | grep -qx ID=broken"
check "casper layered ISO: nothing outside the partition changed" test "$(outside)" = "$BEFORE"

# --- the fixture installer over PXE (VM boot 2) -------------------------------------------
# Plain QEMU on a scratch copy of a fresh disk: partboot's --via-vm (not there yet) will give
# it a whole-disk view in which only the target is writable. This checks the fixture itself:
# iPXE loads it from the TFTP root, it reads its target from the answers disk, tries the
# whole disk (which succeeds here: nothing protects it) and installs the guest.
make_scratch() {
	pb -q init scratch.img --size 200M && pb -q add scratch.img other --type data --size 40M &&
		pb -q add scratch.img tgt --type root --size 120M
}
check "a scratch disk for the installer (partboot init, add)" make_scratch
TGT_OFF=$(pb list --json scratch.img | python3 -c "import json,sys
print([x for x in json.load(sys.stdin)['partitions'] if x['name'] == 'tgt'][0]['start'])")
printf 'pb.target=/dev/vda2\n' >answers.img
truncate -s 1M answers.img
timeout 180 qemu-system-x86_64 -accel tcg -M q35 -m 512 -nodefaults -nographic -serial stdio -no-reboot \
	-boot n -netdev "user,id=n0,tftp=$MEDIA_PXE_DIR,bootfile=$MEDIA_PXE_BOOTFILE" -device virtio-net-pci,netdev=n0 \
	-drive file=scratch.img,format=raw,if=virtio -drive file=answers.img,format=raw,if=virtio \
	</dev/null >pxe.raw 2>&1
rc=$?
tr -d '\r' <pxe.raw >pxe.txt
if [ "$rc" -eq 0 ] && grep -qx 'PARTBOOT-INSTALLER wholedisk=/dev/vda write=ok' pxe.txt &&
	grep -qx 'PARTBOOT-INSTALLER done target=/dev/vda2 status=0' pxe.txt; then
	t_ok "PXE: iPXE boots the installer, which probes the whole disk and installs into vda2"
else
	t_fail "PXE installer (qemu exit $rc)"
	grep -v '^\[' pxe.txt | tail -n 15 | sed 's/^/#   /'
fi
check "PXE: the installed guest is there (os-release at partition 2's offset)" \
	sh -c "debugfs -R 'cat /etc/os-release' 'scratch.img?offset=$TGT_OFF' 2>/dev/null | grep -qx ID=partboot-guest"
rm -f scratch.img

t_done
