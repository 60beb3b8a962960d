# shellcheck shell=bash
# Shared by tests/e2e/hw.sh and tests/slow/hw.sh, sourced after lib.sh (not a test itself:
# tests/run.sh runs *.sh only). The test guest and its initramfs variants
# (fixtures/make-variants.sh), helpers, and hw_disk, which builds one disk holding every kind
# of guest these tests boot:
#   1 esp, 2 bios, 3 ahci (initramfs: ahci + sd_mod only), 4 pci (virtio_pci, no virtio_mmio),
#   5 piix (ata_piix + sd_mod only), 6 two (two kernels), 7 fgn (made with mke2fs -d: a
#   hand-written fstab, /etc/default/grub, no marker), 8 sroot + 9 sboot (an install made
#   without partboot whose fstab names its /boot partition by UUID).
# $SEEN is a pb.run script: the guest prints the disks it sees ("PB-DISKS vda:KiB ...") and
# which of them hold an ext2/3/4 superblock ("PB-EXT vda"), so each boot can check that the
# guest saw only its own partition(s).

GUEST_ENV=$PB_TOP/.cache/guest/env
if [ ! -f "$GUEST_ENV" ]; then
	t_skip "hw tests" "the test guest is not built (make guest)"
	t_done
	exit
fi
# shellcheck disable=SC1090
. "$GUEST_ENV"
for tool in qemu-system-x86_64 mke2fs debugfs sfdisk jq mtype lz4 xz zstd; do
	if ! command -v "$tool" >/dev/null; then
		t_skip "hw tests" "$tool missing (make deps)"
		t_done
		exit
	fi
done
if [ "$(id -u)" != 0 ]; then
	t_skip "hw tests" "mke2fs -d of an install made without partboot needs root (the tree's owners)"
	t_done
	exit
fi
if ! HW_ENV=$("$PB_TOP/fixtures/make-variants.sh" 2>"$T_DIR/variants.err" | tail -n 1) || [ ! -f "$HW_ENV" ]; then
	t_fail "fixtures/make-variants.sh builds the initramfs variants"
	sed 's/^/#   /' "$T_DIR/variants.err" | tail -n 5
	t_done
	exit 1
fi
# shellcheck disable=SC1090
. "$HW_ENV"
export XDG_CACHE_HOME=$T_DIR/cache
D=$T_DIR/disk.img
cd "$T_DIR" || exit 1

# offset and size in bytes of partition NAME
part_range() { sfdisk -J "$D" | jq -r --arg n "$1" '.partitiontable.partitions[] | select(.name == $n) | "\(.start * 512) \(.size * 512)"'; }
part_sum() {
	local off size
	read -r off size < <(part_range "$1")
	dd if="$D" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none | sha256sum | cut -d' ' -f1
}
b64() { printf '%s' "$1" | base64 -w0; }
kib() { echo $(($1 / 1024)); }
state_of() { pb list --json "$D" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | .state'; }
kernels_of() { pb list --json "$D" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | .kernels'; }
grub_cfg() { mtype -i "$D@@$(part_range esp | cut -d' ' -f1)" ::/grub/grub.cfg 2>/dev/null; }
# shellcheck disable=SC2016 # a script for the guest's shell: expanded there, not here
SEEN=$(b64 'echo "PB-DISKS $(awk '\''NR > 2 { printf "%s:%s ", $4, $3 }'\'' /proc/partitions)"
for d in /sys/class/block/*; do d=${d##*/}
  [ "$(od -An -tx1 -j1080 -N2 /dev/$d 2>/dev/null | tr -d " ")" = 53ef ] && printf "PB-EXT %s\n" $d; done; true')
# disks LOG: what the PB-DISKS line of a boot's console says; ext LOG: the PB-EXT disks
disks() { tr -d '\r' <"$1" | sed -n 's/^PB-DISKS \(.*\)$/\1/p' | sed 's/ *$//'; }
ext() { tr -d '\r' <"$1" | sed -n 's/^PB-EXT \([a-z0-9]*\)$/\1/p' | tr '\n' ' ' | sed 's/ $//'; }
# boot NAME LOG ARGS...: partboot run; 0 when the guest reached its marker, ran its script and powered off
boot() {
	local name=$1 log=$2 t0=$SECONDS
	shift 2
	pb run "$D" "$name" --timeout 200 --console "$log" "$@" </dev/null >"$log.out" 2>&1 &&
		grep -q "PARTBOOT-GUEST name=" "$log" && grep -q "PARTBOOT-RUN-EXIT status=0" "$log"
	local rc=$?
	echo "# boot $name ${1:-}: $((SECONDS - t0)) s"
	return $rc
}
show() { tail -n 12 "$1" "$1.out" 2>/dev/null | sed 's/^/#   /'; }

# overlay NAME FILE SOURCE...: install a tar of /boot/FILE (from SOURCE) over guest NAME, and
# give it the run script on its own command line (so GRUB passes it in firmware mode too)
overlay() {
	local name=$1
	shift
	rm -rf ov && mkdir -p ov/boot
	while [ $# -gt 1 ]; do cp "$2" "ov/boot/$1"; shift 2; done
	tar -C ov -cf ov.tar ./boot && pb -q install "$D" "$name" --from ov.tar --cmdline "$GUEST_CMDLINE pb.run=$SEEN"
}

F_UUID=8d0d7c2a-36a4-4b58-9d6e-3c2f2a7e0f01
R_UUID=0e0e0e0e-1111-4222-8333-444455556666
S_UUID=1b0075e5-5e9a-4d1b-9c11-0a2b3c4d5e6f
hw_disk() {
	local off size
	pb -q init "$D" --size 1300M && pb -q add "$D" esp --type esp --size 64M &&
		pb -q add "$D" bios --type bios-boot --size 1M &&
		pb -q add "$D" ahci --type root --size 120M && pb -q add "$D" pci --type root --size 120M &&
		pb -q add "$D" piix --type root --size 120M && pb -q add "$D" two --type root --size 140M &&
		pb -q add "$D" fgn --type root --size 120M && pb -q add "$D" sroot --type root --size 120M &&
		pb -q add "$D" sboot --type data --size 40M || return 1
	# partboot's guests: the test guest, with another initramfs (or a second kernel) over it
	pb -q install "$D" ahci --from "$GUEST_TAR" && overlay ahci "initrd.img-$GUEST_KVER" "$HW_INITRD_AHCI" &&
		pb -q install "$D" pci --from "$GUEST_TAR" && overlay pci "initrd.img-$GUEST_KVER" "$HW_INITRD_PCI" &&
		pb -q install "$D" piix --from "$GUEST_TAR" && overlay piix "initrd.img-$GUEST_KVER" "$HW_INITRD_PIIX" &&
		pb -q install "$D" two --from "$GUEST_TAR" &&
		overlay two "vmlinuz-$HW_KVER2" "$HW_KERNEL2" "initrd.img-$HW_KVER2" "$HW_INITRD2" \
			"config-$HW_KVER2" "$HW_CONFIG2" || return 1

	# installs partboot did not make: trees owned as in the archive, mke2fs -d, fstab by hand.
	# fgn's command line is in /etc/default/grub, as grub-mkconfig would read it.
	rm -rf tree sr sb && mkdir tree && tar -C tree -xf "$GUEST_TAR" && rm -f tree/etc/kernel/cmdline || return 1
	printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$F_UUID" >tree/etc/fstab
	mkdir -p tree/etc/default
	printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0 pb.run=%s"\n' \
		"$SEEN" >tree/etc/default/grub
	echo fgn >tree/etc/hostname
	read -r off size < <(part_range fgn)
	mke2fs -q -t ext4 -F -U "$F_UUID" -E offset="$off",nodiscard -d tree "$D" "$(kib "$size")k" || return 1
	# sroot: its kernel, initramfs and config on sboot, which its fstab mounts on /boot
	mkdir sr sb && tar -C sr -xf "$GUEST_TAR" && mv sr/boot/* sb/ && rm -f sr/etc/kernel/cmdline sr/vmlinuz sr/initrd.img
	printf 'UUID=%s / ext4 errors=remount-ro 0 1\nUUID=%s /boot ext4 defaults 0 2\n' "$R_UUID" "$S_UUID" >sr/etc/fstab
	mkdir -p sr/etc/default
	printf 'GRUB_CMDLINE_LINUX="console=ttyS0 pb.run=%s"\n' "$SEEN" >sr/etc/default/grub
	echo sroot >sr/etc/hostname
	read -r off size < <(part_range sroot)
	mke2fs -q -t ext4 -F -U "$R_UUID" -E offset="$off",nodiscard -d sr "$D" "$(kib "$size")k" || return 1
	read -r off size < <(part_range sboot)
	mke2fs -q -t ext4 -F -U "$S_UUID" -E offset="$off",nodiscard -d sb "$D" "$(kib "$size")k" || return 1
	rm -rf tree sr sb ov ov.tar
}
