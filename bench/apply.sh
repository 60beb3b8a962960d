#!/bin/bash
# bench/apply.sh — how fast `partboot apply` builds the two-guest demo disk
# (fixtures/demo.conf: BIOS boot partition, ESP, two copies of the test guest with their
# own hostnames, GRUB for BIOS and UEFI, a default), side by side with the same disk built
# by hand with the usual tools:
#   sfdisk (GPT, 4 partitions) → tar -x of the guest twice (+ hostname, fstab, kernel
#   cmdline written into each tree) → mke2fs -d at each partition's offset → mkfs.fat +
#   mtools (grub.cfg, grubenv from grub-editenv, BOOTX64.EFI) → grub-mkimage for i386-pc
#   and x86_64-efi → core.img dd'ed into the BIOS boot partition with its blocklist
#   patched, boot.img into the MBR with core.img's LBA (what grub-bios-setup would do).
# Inputs are cached (make guest) and warm in the page cache; each run starts from no image.
# Prints the median of RUNS runs (default 5) of each, and the ratio.
# Usage: bench/apply.sh [RUNS]     (PARTBOOT=path/to/partboot to pick a build; BENCH_KEEP=DIR)
# The hand path extracts with the archive's owners, which needs root (mke2fs -d copies
# owners from the tree); as another user it extracts with the user's own (same work).
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PARTBOOT=${PARTBOOT:-$PWD/build/partboot}
GUEST_TAR=$PWD/.cache/guest/guest.tar
LAYOUT=$PWD/fixtures/demo.conf
export MTOOLS_SKIP_CHECK=1
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

for p in sfdisk partx mke2fs mkfs.fat mmd mcopy grub-mkimage grub-editenv; do
	command -v "$p" >/dev/null || { echo "bench/apply.sh: $p is missing" >&2; exit 1; }
done
[ -x "$PARTBOOT" ] || { echo "bench/apply.sh: $PARTBOOT missing (make)" >&2; exit 1; }
[ -r "$GUEST_TAR" ] || { echo "bench/apply.sh: $GUEST_TAR missing (make guest)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/pb-bench-apply.XXXXXX")
trap 'rm -rf "$W"' EXIT
cat "$GUEST_TAR" >/dev/null # warm

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# le N BYTES: N as BYTES little-endian bytes, for dd.
le() {
	local v=$1 n=$2 i s=
	for ((i = 0; i < n; i++)); do
		s="$s$(printf '\\x%02x' $((v & 255)))"
		v=$((v >> 8))
	done
	printf '%b' "$s"
}
put() { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

owner=--same-owner
[ "$(id -u)" = 0 ] || owner=--no-same-owner
MODS=(part_gpt part_msdos fat ext2 search search_fs_uuid configfile normal linux loadenv serial terminal test echo sleep reboot halt)

by_hand() {
	local img=$W/hand.img g start sectors off uuid kver kernels
	rm -f "$img"
	truncate -s 600M "$img"
	sfdisk -q "$img" <<-EOF
		label: gpt
		size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios
		size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
		size=200MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=alpha
		type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=beta
	EOF
	: >"$W/entries"
	for g in alpha beta; do
		read -r start sectors < <(partx -g -o START,SECTORS -n "$([ $g = alpha ] && echo 3 || echo 4)" "$img")
		off=$((start * 512))
		uuid=$(cat /proc/sys/kernel/random/uuid)
		rm -rf "$W/tree"
		mkdir "$W/tree"
		tar -C "$W/tree" --numeric-owner $owner -xpf "$GUEST_TAR"
		echo "$g" >"$W/tree/etc/hostname"
		printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$uuid" >"$W/tree/etc/fstab"
		mkdir -p "$W/tree/etc/kernel"
		echo "ro console=ttyS0" >"$W/tree/etc/kernel/cmdline"
		mke2fs -q -F -t ext4 -b 4096 -E offset=$off,nodiscard -U "$uuid" -L "$g" -d "$W/tree" \
			"$img" $((sectors / 2))K
		kernels=("$W/tree/boot/"vmlinuz-*)
		kver=${kernels[0]##*/vmlinuz-}
		cat >>"$W/entries" <<-EOF
			menuentry '$g' --id '$g' {
			  search --no-floppy --fs-uuid --set=root $uuid
			  linux /boot/vmlinuz-$kver root=UUID=$uuid ro console=ttyS0
			  initrd /boot/initrd.img-$kver
			}
		EOF
	done
	# ESP: FAT32, the GRUB images, grub.cfg and grubenv
	mkfs.fat -F 32 -s 1 -S 512 --offset 4096 -i 12345678 -n ESP "$img" $((64 * 1024)) >/dev/null 2>&1
	# GRUB's own variables ($root, ${next_entry}): quoted heredocs, nothing expands here
	cat >"$W/early.cfg" <<-'EOF'
		search --no-floppy --fs-uuid --set=root 1234-5678
		set prefix=($root)/grub
		configfile $prefix/grub.cfg
	EOF
	grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -c "$W/early.cfg" -p /grub -o "$W/core.img" biosdisk "${MODS[@]}"
	grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -c "$W/early.cfg" -p /grub -o "$W/bootx64.efi" efi_gop "${MODS[@]}"
	{
		cat <<-'EOF'
			serial --unit=0 --speed=115200
			terminal_input serial console
			terminal_output serial console
			set timeout=1
			load_env
			if [ "${next_entry}" ]; then set default="${next_entry}"; set next_entry=; save_env next_entry; elif [ "${saved_entry}" ]; then set default="${saved_entry}"; fi
		EOF
		cat "$W/entries"
	} >"$W/grub.cfg"
	rm -f "$W/grubenv"
	grub-editenv "$W/grubenv" create
	grub-editenv "$W/grubenv" set saved_entry=alpha
	mmd -i "$img@@$((4096 * 512))" ::/EFI ::/EFI/BOOT ::/grub
	mcopy -i "$img@@$((4096 * 512))" "$W/bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$img@@$((4096 * 512))" "$W/grub.cfg" "$W/grubenv" ::/grub/
	# BIOS: core.img in the BIOS boot partition (LBA 2048), its first blocklist pointing at
	# its second sector; boot.img's code in the MBR with core.img's LBA at 0x5c.
	local nsec=$((($(stat -c %s "$W/core.img") + 511) / 512))
	le $((2048 + 1)) 8 | put "$W/core.img" $((0x1f4))
	le $((nsec - 1)) 2 | put "$W/core.img" $((0x1fc))
	dd if="$W/core.img" of="$img" bs=512 seek=2048 conv=notrunc status=none
	dd if=/usr/lib/grub/i386-pc/boot.img of="$img" bs=1 count=3 conv=notrunc status=none
	dd if=/usr/lib/grub/i386-pc/boot.img of="$img" bs=1 skip=$((0x5a)) seek=$((0x5a)) count=$((0x1b8 - 0x5a)) \
		conv=notrunc status=none
	le 2048 8 | put "$img" $((0x5c))
	printf '\x90\x90' | put "$img" $((0x66))
}

with_partboot() {
	rm -f "$W/pb.img"
	"$PARTBOOT" -q apply "$W/pb.img" "$LAYOUT"
}

hand=() pb=()
for ((i = 0; i < RUNS; i++)); do
	t=$(now); by_hand; hand+=($((($(now) - t) / 1000000)))
	t=$(now); with_partboot; pb+=($((($(now) - t) / 1000000)))
done
sfdisk --verify "$W/hand.img" >/dev/null
sfdisk --verify "$W/pb.img" >/dev/null
# BENCH_KEEP=DIR keeps both images (e.g. to boot the hand-made one: partboot run DIR/hand.img alpha --firmware bios)
[ -n "${BENCH_KEEP:-}" ] && cp --sparse=always "$W/hand.img" "$W/pb.img" "$BENCH_KEEP/"
mh=$(printf '%s\n' "${hand[@]}" | median)
mp=$(printf '%s\n' "${pb[@]}" | median)
echo "# the two-guest demo disk (fixtures/demo.conf, test guest $(du -h --apparent-size "$GUEST_TAR" | cut -f1) tar), $RUNS runs each, median"
printf '%-32s %8s ms   (runs: %s)\n' "partboot apply" "$mp" "${pb[*]}"
printf '%-32s %8s ms   (runs: %s)\n' "by hand (sfdisk, tar, mke2fs -d," "$mh" "${hand[*]}"
printf '%-32s\n' " mkfs.fat+mtools, grub-mkimage+dd)"
awk -v h="$mh" -v p="$mp" 'BEGIN { printf "ratio: partboot is %.1fx faster than by hand\n", h / p }'
