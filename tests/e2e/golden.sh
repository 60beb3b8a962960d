#!/bin/bash
# Golden outputs: what partboot prints for a seeded disk built from a fixed layout and a
# fixed guest tree (made here, byte for byte the same on every machine) is compared with
# the expected files in tests/golden/: list, list --json, apply --dry-run (new disk and
# re-run), apply --dry-run --json, run --print-cmdline (direct and firmware mode). The
# seeded images' sha256 are pinned too, for the tool versions written in
# tests/golden/versions (mke2fs, mkfs.fat, mtools and GRUB put their own bytes into the
# image: with other versions the hashes cannot match, and that check says so).
# Any change of output or of seeding shows here. After a deliberate change:
#   PB_GOLDEN_UPDATE=1 bash tests/e2e/golden.sh   (then review and commit tests/golden/)
. "$(dirname "$0")/lib.sh"

GOLDEN=$PB_TOP/tests/golden
export MTOOLS_SKIP_CHECK=1
unset SOURCE_DATE_EPOCH
export XDG_CACHE_HOME=$T_DIR/cache TMPDIR=$T_DIR/tmp
mkdir -p "$TMPDIR"
cd "$T_DIR" || exit 1

missing=
for p in tar mke2fs mkfs.fat mcopy grub-mkimage qemu-system-x86_64 dpkg-query; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_skip "golden outputs" "missing:$missing"
	t_done
	exit
fi

# The guest: a fixed tree (no real kernel: nothing boots here), fixed owners and times.
mkdir -p root/etc/kernel root/boot
printf 'NAME="Golden"\nPRETTY_NAME="Golden Linux 1 (\\"test\\")"\nID=golden\n' >root/etc/os-release
echo "ro console=ttyS0 quiet" >root/etc/kernel/cmdline
echo fake-kernel-99 >root/boot/vmlinuz-6.1.0-99-amd64
echo fake-initrd-99 >root/boot/initrd.img-6.1.0-99-amd64
echo fake-kernel-9 >root/boot/vmlinuz-6.1.0-9-amd64
ln -s boot/vmlinuz-6.1.0-99-amd64 root/vmlinuz
ln -s boot/initrd.img-6.1.0-99-amd64 root/initrd.img
tar --sort=name --mtime=@946684800 --owner=0 --group=0 --numeric-owner --format=gnu -C root -cf guest.tar .
cp "$GOLDEN/golden.conf" golden.conf

# Paths that depend on where the test runs become @DIR@; temporary folder names @TMP@.
normalize() { sed -e "s#$T_DIR#@DIR@#g" -e 's#partboot-vm\.[A-Za-z0-9]*#partboot-vm.@TMP@#g'; }
# golden NAME CMD...: CMD's standard output (normalized) against tests/golden/NAME.
golden() {
	local name=$1 rc
	shift
	"$@" >"out.$name" 2>"err.$name"
	rc=$?
	normalize <"out.$name" >"got.$name"
	if [ "$rc" -ne 0 ]; then
		t_fail "$name: $* exited $rc"
		sed 's/^/#   /' "err.$name" | head -n 5
		return
	fi
	if [ -n "${PB_GOLDEN_UPDATE:-}" ]; then
		cp "got.$name" "$GOLDEN/$name"
		t_ok "$name: written to tests/golden/$name"
		return
	fi
	if diff -u "$GOLDEN/$name" "got.$name" >"diff.$name"; then
		t_ok "$name matches tests/golden/$name"
	else
		t_fail "$name differs from tests/golden/$name"
		sed 's/^/#   /' "diff.$name" | head -n 30
	fi
}

golden apply-dry-run.txt pb apply "$T_DIR/disk.img" golden.conf --dry-run
check "a dry run creates no disk" test ! -e disk.img
golden apply-dry-run.json pb apply "$T_DIR/disk.img" golden.conf --dry-run --json
check "apply builds the seeded disk" pb -q apply "$T_DIR/disk.img" golden.conf
golden list.txt pb list "$T_DIR/disk.img"
golden list.json pb list --json "$T_DIR/disk.img"
golden apply-rerun-dry-run.txt pb apply "$T_DIR/disk.img" golden.conf --dry-run
golden run-direct.txt pb run "$T_DIR/disk.img" alpha --accel tcg --print-cmdline
golden run-bios.txt pb run "$T_DIR/disk.img" beta --accel tcg --firmware bios --print-cmdline

# A second disk the verbs one by one make with the same seed: the same table and filesystems.
pb -q init "$T_DIR/table.img" --size 64M --seed golden &&
	pb -q add "$T_DIR/table.img" esp --type esp --size 34M --seed golden &&
	pb -q add "$T_DIR/table.img" one --type root --size 16M --seed golden &&
	pb -q mkfs "$T_DIR/table.img" esp --seed golden &&
	pb -q mkfs "$T_DIR/table.img" one --seed golden
check "init, add and mkfs build the seeded table disk" test $? -eq 0

# The pinned hashes, for the tool versions they were made with.
versions() {
	dpkg-query -W -f '${Package}=${Version}\n' e2fsprogs dosfstools mtools grub-pc-bin grub-efi-amd64-bin \
		libfdisk1 2>/dev/null
}
sums() {
	echo "disk.img $(sum disk.img)"
	echo "table.img $(sum table.img)"
}
if [ -n "${PB_GOLDEN_UPDATE:-}" ]; then
	versions >"$GOLDEN/versions"
	sums >"$GOLDEN/sha256"
	t_ok "image hashes written to tests/golden/sha256 for $(tr '\n' ' ' <"$GOLDEN/versions")"
elif ! versions | diff -q "$GOLDEN/versions" - >/dev/null; then
	t_skip "seeded images' sha256" "pinned for $(tr '\n' ' ' <"$GOLDEN/versions")but this machine has $(versions | tr '\n' ' ')"
else
	while read -r img want; do
		check "$img: sha256 is the pinned one" test "$(sum "$img")" = "$want"
	done <"$GOLDEN/sha256"
fi
t_done
