#!/bin/bash
# fuzz/seeds.sh OUT: the seed corpus of every harness in OUT/NAME/, made from the test
# fixtures with the tools the tests use (partboot itself, tar, cpio, xorriso, grub-editenv),
# so no binary blob is committed. Each harness also starts from an empty input, which lays
# nothing over its template (docs/fuzzing.md). Needs PARTBOOT (a built partboot).
set -eu
out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
: "${PARTBOOT:=$top/build/partboot}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/partboot-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out"/{layout,gpt,esp,grubenv,install,iso,guest,initramfs}
pb() { "$PARTBOOT" -q "$@"; }

# layout: the fixtures' layouts and the shapes docs/layout.md shows
cp "$top"/fixtures/*.conf "$out/layout/"
printf '[disk]\nsize = 1G\ntable = dos\nbootloader = bios\ndefault = a\n\n[partition a]\ntype = root\nsize = rest\nsource = a.tar\nhostname = a\ncmdline = ro quiet\n' \
	>"$out/layout/dos-rest.conf"
printf '[partition e]\ntype = esp\nsize = 64M\nfs = vfat\nlabel = ESP ; a comment\n# c\n[partition s]\ntype = swap\nsize = 1M\n' \
	>"$out/layout/no-disk.conf"

# gpt: the table areas fuzz-gpt.c lays the input over: LBA 0-33, partboot's record, the last 33 sectors
areas() {
	local img=$1 sectors
	sectors=$(($(stat -c %s "$img") / 512))
	{
		dd if="$img" bs=512 count=34 status=none
		dd if="$img" bs=512 skip=2047 count=1 status=none
		dd if="$img" bs=512 skip=$((sectors - 33)) count=33 status=none
	} >"$2"
}
pb init "$tmp/g.img" --size 4M --table gpt --seed seeds
pb add "$tmp/g.img" esp --type esp --size 1M --label EFI
pb add "$tmp/g.img" deb12 --type root --size 1M --label root
areas "$tmp/g.img" "$out/gpt/gpt-labels"
pb init "$tmp/g2.img" --size 4M --table gpt
pb add "$tmp/g2.img" all --type data --size rest
areas "$tmp/g2.img" "$out/gpt/gpt-rest"
pb init "$tmp/d.img" --size 4M --table dos --seed seeds
pb add "$tmp/d.img" esp --type esp --size 1M
pb add "$tmp/d.img" alpha --type root --size 1M
pb add "$tmp/d.img" swap --type swap --size 1M
areas "$tmp/d.img" "$out/gpt/dos-names"
: >"$out/gpt/template"

# esp: an 8 MiB ESP as partboot makes it (FAT16, 512-byte clusters), with its GRUB files
if command -v grub-mkimage >/dev/null && command -v mkfs.fat >/dev/null; then
	pb init "$tmp/e.img" --size 16M --seed seeds
	pb add "$tmp/e.img" esp --type esp --size 8M
	pb add "$tmp/e.img" a --type root --size 4M
	pb bootloader "$tmp/e.img" --uefi
	dd if="$tmp/e.img" bs=1K skip=1024 count=128 status=none >"$out/esp/partboot-esp"
fi
: >"$out/esp/template"

# grubenv: blocks as grub-editenv writes them, then settings to apply
if command -v grub-editenv >/dev/null; then
	grub-editenv "$tmp/env" create
	grub-editenv "$tmp/env" set saved_entry=deb12 next_entry=alpha
	{ cat "$tmp/env"; printf 'saved_entry=beta\nnext_entry=\nnew=a\\b\nsaved_entry\n'; } >"$out/grubenv/editenv"
fi
printf 'saved_entry=x\nnext_entry=y\n' >"$out/grubenv/settings-only"

# install: the test guest's tree as tar, gzip'd tar and cpio; links, devices, hard links, sparse
tree=$top/fixtures/guest/rootfs
tar --numeric-owner -C "$tree" -cf "$out/install/rootfs.tar" .
gzip -9 <"$out/install/rootfs.tar" >"$out/install/rootfs.tar.gz"
(cd "$tree" && find . | cpio -o -H newc --quiet) >"$out/install/rootfs.cpio"
python3 - "$out/install/kinds.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b'', **kw):
    i = tarfile.TarInfo(name); i.type = kind; i.size = len(data) if kind == tarfile.REGTYPE else 0
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
add('./', tarfile.DIRTYPE, mode=0o755)
add('./etc/os-release', data=b'PRETTY_NAME="Seed"\n')
add('./etc/alias', tarfile.SYMTYPE, linkname='os-release')
add('./bin/a', data=b'#!/bin/sh\n', mode=0o4755, pax_headers={'SCHILY.xattr.security.capability': '\x01\x00\x00\x02'})
add('./bin/b', tarfile.LNKTYPE, linkname='./bin/a')
add('./dev/null', tarfile.CHRTYPE, devmajor=1, devminor=3)
add('./run/fifo', tarfile.FIFOTYPE)
add('../up/and/out', data=b'x')
add('/abs/path', data=b'y')
add('./boot/vmlinuz-6.1.0-9-amd64', data=b'kernel')
t.close()
PY

# iso: live-build's layout and casper's, the root image a few bytes (the harness stops before sqfs2tar)
if command -v xorriso >/dev/null; then
	mkdir -p "$tmp/live/live" "$tmp/casper/casper"
	printf 'hsqs' >"$tmp/live/live/filesystem.squashfs"
	printf 'hsqs' >"$tmp/casper/casper/filesystem.squashfs"
	printf 'hsqs' >"$tmp/casper/casper/minimal.squashfs"
	xorriso -as mkisofs -quiet -R -J -V LIVE -o "$out/iso/live.iso" "$tmp/live" 2>/dev/null
	xorriso -as mkisofs -quiet -R -V CASPER -o "$out/iso/casper.iso" "$tmp/casper" 2>/dev/null
fi

# guest: NUL-separated fields: os-release, kernel/cmdline, /vmlinuz's target, /initrd.img's, names in /boot
printf '%s\0' 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' 'ro quiet console=ttyS0' \
	'boot/vmlinuz-6.1.0-9-amd64' 'boot/initrd.img-6.1.0-9-amd64' vmlinuz-6.1.0-9-amd64 \
	initrd.img-6.1.0-9-amd64 vmlinuz-6.1.0-10-amd64 >"$out/guest/debian"
# shellcheck disable=SC2016 # $x is the guest's text, for GRUB's quoting to hold
printf '%s\0' "PRETTY_NAME='It''s \"x\"'" 'root=/dev/sda1 foo="a b" it'"'"'s $x; }' '' '' \
	'vmlinuz-5.10.0+1' 'initrd.img-5.10.0+1' >"$out/guest/quotes"
printf '%s\0' 'NAME=x' '' 'vmlinuz' '' 'vmlinux-9' 'vmlinuz-1'$'\n''}' >"$out/guest/odd-names"

# initramfs: a version byte (fuzz-initramfs.c), then cpio segments as initramfs-tools and
# early-microcode images lay them out, each compression libarchive reads
mkdir -p "$tmp/ir/lib/modules/6.1.0-9-amd64/kernel/drivers/ata" "$tmp/ir/kernel/x86/microcode"
: >"$tmp/ir/lib/modules/6.1.0-9-amd64/kernel/drivers/ata/ahci.ko"
: >"$tmp/ir/lib/modules/6.1.0-9-amd64/kernel/drivers/ata/libahci.ko.xz"
printf 'kernel/drivers/scsi/sd_mod.ko\n' >"$tmp/ir/lib/modules/6.1.0-9-amd64/modules.builtin"
printf 'ucode' >"$tmp/ir/kernel/x86/microcode/GenuineIntel.bin"
(cd "$tmp/ir" && find kernel | cpio -o -H newc --quiet >"$tmp/early.cpio" &&
	find lib | cpio -o -H newc --quiet >"$tmp/main.cpio")
for z in cat gzip xz zstd lz4; do
	command -v "$z" >/dev/null || continue
	{
		printf '\001'
		cat "$tmp/early.cpio"
		case $z in
		cat) cat "$tmp/main.cpio" ;;
		xz) xz --check=crc32 -c "$tmp/main.cpio" ;;
		lz4) lz4 -l -c "$tmp/main.cpio" ;;
		*) "$z" -c "$tmp/main.cpio" ;;
		esac
	} >"$out/initramfs/$z"
done
