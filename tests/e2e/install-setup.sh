#!/bin/bash
# End-to-end tests of the after-install steps every `partboot install` does, whatever the
# source (tar, '-', directory): /etc/fstab naming the root by UUID (other mounts kept,
# nofail added), /etc/hostname + the 127.0.1.1 line of /etc/hosts, /etc/kernel/cmdline,
# and the boot menu refreshed. See docs/fs.md "After the install".
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

IMG=$T_DIR/disk.img
make_disk() {
	pb -q init "$IMG" --size 400M && pb -q add "$IMG" g1 --type root --size 120M &&
		pb -q add "$IMG" g2 --type root --size 80M && pb -q add "$IMG" other --type data --size 40M
}
if ! check "a disk with g1, g2 and other (partboot init, add)" make_disk; then
	t_done
	exit 1
fi
range() {
	pb list --json "$IMG" | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == '$1': print(p['start'], p['size'])"
}
read -r OFF SIZE <<<"$(range g1)"
read -r OTHER_OFF OTHER_SIZE <<<"$(range other)"
head -c "$OTHER_SIZE" /dev/urandom | dd of="$IMG" bs=1M seek=$((OTHER_OFF / 1048576)) conv=notrunc status=none
outside() { { head -c "$OFF" "$IMG"; tail -c +$((OFF + SIZE + 1)) "$IMG"; } | sha256sum | cut -d' ' -f1; }
gcat() { pb cat "$IMG" "${2:-g1}" "$1"; }

# A guest with mounts of its own, an old root line, a hosts file and no kernel/cmdline.
S=$T_DIR/src
mkdir -p "$S/etc" "$S/boot"
cat >"$S/etc/fstab" <<'EOF'
# /etc/fstab: static file system information.
UUID=0000-old	/	ext4	defaults	0	1
/dev/sdb1 /home ext4 defaults 0 2
LABEL=swap none swap sw
tmpfs /scratch tmpfs nofail,size=10M 0 0
EOF
printf '127.0.0.1\tlocalhost\n127.0.1.1\toldname oldname.example\n::1 localhost\n' >"$S/etc/hosts"
echo oldname >"$S/etc/hostname"
echo kernel >"$S/boot/vmlinuz-6.1.0-1-amd64"
tar --numeric-owner -C "$S" -cf src.tar .

BEFORE=$(outside)
check "install with --hostname and --cmdline" pb install "$IMG" g1 --from src.tar --hostname web-1 \
	--cmdline "ro console=ttyS0 loglevel=3"
UUID=$(blkid -p -O "$OFF" -S "$SIZE" -s UUID -o value "$IMG")
check "partboot cat /etc/fstab" gcat /etc/fstab
gcat /etc/fstab >fstab.1
check "fstab: the root by filesystem UUID" grep -qxP "UUID=$UUID\t/\text4\terrors=remount-ro\t0\t1" fstab.1
lacks "fstab: the old root line is gone" 0000-old gcat /etc/fstab
check "fstab: other mounts get nofail" grep -qxP '/dev/sdb1\t/home\text4\tdefaults,nofail\t0\t2' fstab.1
check "fstab: a swap line without fields gets them" grep -qxP 'LABEL=swap\tnone\tswap\tsw,nofail\t0\t0' fstab.1
check "fstab: nofail is not doubled" grep -qxP 'tmpfs\t/scratch\ttmpfs\tnofail,size=10M\t0\t0' fstab.1
check "fstab: comments kept" grep -qx '# /etc/fstab: static file system information.' fstab.1
check "hostname" test "$(gcat /etc/hostname)" = web-1
gcat /etc/hosts >hosts.1
check "hosts: one 127.0.1.1 line, the new name" test "$(grep -c '^127.0.1.1' hosts.1)" = 1
check "hosts: 127.0.1.1 names web-1" grep -qxP '127.0.1.1\tweb-1' hosts.1
check "hosts: the rest kept" grep -qx '::1 localhost' hosts.1
check "kernel/cmdline from --cmdline" test "$(gcat /etc/kernel/cmdline)" = "ro console=ttyS0 loglevel=3"
check "files are root-owned 0644" bash -c "pb() { '$PARTBOOT' \"\$@\"; }; pb ls -l '$IMG' g1 /etc | grep -E ' (fstab|hostname|hosts)\$' |
	awk '{ if (\$1 != \"-rw-r--r--\" || \$2 != 0 || \$3 != 0) exit 1 }'"
check "e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
lacks "no marker: the guest is complete" partboot-incomplete pb ls "$IMG" g1 /
if [ "$(outside)" = "$BEFORE" ]; then t_ok "table and other partitions unchanged"; else t_fail "bytes outside g1 CHANGED"; fi

# Installing again over the same guest (no --wipe) gives the same files.
check "install again, same options" pb -q install "$IMG" g1 --from src.tar --hostname web-1 \
	--cmdline "ro console=ttyS0 loglevel=3"
check "fstab is the same after a second install" cmp fstab.1 <(gcat /etc/fstab)
check "hosts is the same after a second install" cmp hosts.1 <(gcat /etc/hosts)

# Defaults: hostname = partition name, cmdline "ro quiet" when the guest has none.
check "install with defaults (--wipe)" pb -q install "$IMG" g1 --from src.tar --wipe
check "default hostname is the partition name" test "$(gcat /etc/hostname)" = g1
check "default kernel/cmdline is 'ro quiet'" test "$(gcat /etc/kernel/cmdline)" = "ro quiet"
UUID2=$(blkid -p -O "$OFF" -S "$SIZE" -s UUID -o value "$IMG")
check "fstab follows the new filesystem's UUID" bash -c "'$PARTBOOT' cat '$IMG' g1 /etc/fstab | grep -q '^UUID=$UUID2'"

# The guest's own kernel arguments are kept when --cmdline is not given.
mkdir -p "$S/etc/kernel" && echo "ro quiet splash" >"$S/etc/kernel/cmdline"
check "install from a directory" pb -q install "$IMG" g2 --from "$S"
check "directory source: fstab written" bash -c "'$PARTBOOT' cat '$IMG' g2 /etc/fstab | grep -q '^UUID='"
check "the guest's own kernel/cmdline is kept" test "$(gcat /etc/kernel/cmdline g2)" = "ro quiet splash"
check "install from standard input" bash -c "'$PARTBOOT' -q install '$IMG' g2 --from - --wipe --hostname from-stdin <src.tar"
check "stdin source: hostname written" test "$(gcat /etc/hostname g2)" = from-stdin
# A tar without /etc at all still gets the files (parents made 0755 root:root).
mkdir -p "$T_DIR/bare/srv" && echo x >"$T_DIR/bare/srv/x"
check "a tree without /etc gets one" bash -c "'$PARTBOOT' -q install '$IMG' g2 --from '$T_DIR/bare' --wipe &&
	'$PARTBOOT' cat '$IMG' g2 /etc/hostname | grep -qx g2"

# Bad options are usage errors, before anything is written.
B=$(sum "$IMG")
refuses "an invalid hostname is refused" 2 "not a valid hostname" pb install "$IMG" g1 --from src.tar --hostname 'bad_name!'
refuses "--mirror without debootstrap is refused" 2 "go with --from debootstrap" pb install "$IMG" g1 --from src.tar --mirror http://x/debian
refuses "debootstrap: without a suite is refused" 2 "debootstrap:SUITE" pb install "$IMG" g1 --from debootstrap:
check "usage errors: disk unchanged" test "$(sum "$IMG")" = "$B"

# The boot menu follows installs (when a bootloader is there).
IMG2=$T_DIR/boot.img
make_boot_disk() {
	pb -q init "$IMG2" --size 300M && pb -q add "$IMG2" efi --type esp --size 40M &&
		pb -q add "$IMG2" g1 --type root --size 100M && pb -q bootloader "$IMG2" --uefi
}
if check "a disk with an ESP and UEFI GRUB (partboot init, add, bootloader --uefi)" make_boot_disk; then
	read -r EOFF _ <<<"$(IMG=$IMG2 range efi)"
	check "install with a bootloader present" pb -q install "$IMG2" g1 --from src.tar
	if mtype -i "$IMG2@@$EOFF" ::/grub/grub.cfg >grub.cfg 2>mtype.err; then
		check "grub.cfg lists the new guest" grep -q "vmlinuz-6.1.0-1-amd64" grub.cfg
		check "grub.cfg has its kernel arguments" grep -q "ro quiet" grub.cfg
	else
		t_fail "cannot read grub.cfg from the ESP"
		sed 's/^/#   /' mtype.err
	fi
fi
t_done
