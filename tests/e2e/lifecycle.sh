#!/bin/bash
# End-to-end tests of the guest lifecycle verbs (docs/lifecycle.md): resize with the
# filesystem, move, clone, snapshot/snapshots/rollback, export, install --from disk:.
# Bytes are checked with sha256 (a rollback gives the partition's bytes back; refusals
# leave the disk byte-identical), filesystems with e2fsck -fn, tables with sfdisk
# --verify, identifiers with blkid; the clone and an imported export boot in the VM runner
# (direct mode, TCG, a few seconds each). The other boots (exports through SeaBIOS and OVMF
# as raw, qcow2, vmdk and in partboot run; clone and original through GRUB; the merged
# /boot) are in tests/slow/lifecycle-boot.sh.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

GUEST_ENV=$PB_TOP/.cache/guest/env
if [ ! -f "$GUEST_ENV" ]; then
	t_skip "lifecycle" "the test guest is not built (make guest)"
	t_done
	exit 0
fi
# shellcheck source=/dev/null # written by fixtures/make-guest.sh
. "$GUEST_ENV"
for p in e2fsck resize2fs tune2fs sfdisk blkid jq qemu-img zstd debugfs; do
	command -v "$p" >/dev/null || { t_skip "lifecycle" "$p missing (make deps)"; t_done; exit 0; }
done
HAVE_VM=1
command -v qemu-system-x86_64 >/dev/null || HAVE_VM=0
export XDG_CACHE_HOME=$T_DIR/cache # the VM runner's boot files, private to this run
export TMPDIR=$T_DIR # import's and export's scratch files

D=$T_DIR/disk.img
range() { pb_range "$1" "${2:-$D}"; }
# sha256 of partition NAME's bytes
psum() {
	local off size
	read -r off size <<<"$(range "$1" "${2:-$D}")"
	dd if="${2:-$D}" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none | sha256sum | cut -d' ' -f1
}
dev() { local off; read -r off _ <<<"$(range "$1" "${2:-$D}")"; echo "${2:-$D}?offset=$off"; }
fsuuid() { local off size; read -r off size <<<"$(range "$1" "${2:-$D}")"; blkid -p -O "$off" -S "$size" -s UUID -o value "${2:-$D}"; }
partuuid() { pb list --json "${2:-$D}" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | .partuuid'; }
fsck_clean() { e2fsck -fn "$(dev "$@")" >/dev/null 2>&1; }
blocks() { dumpe2fs -h "$(dev "$@")" 2>/dev/null | awk -F: '/^Block count/ { gsub(/ /, "", $2); print $2 }'; }
# resized DISK NAME SIZE BLOCKS: resize NAME to SIZE, its filesystem then has BLOCKS blocks
resized() { pb -q resize "$1" "$2" "$3" && test "$(blocks "$2" "$1")" = "$4"; }
features() { dumpe2fs -h "$(dev "$@")" 2>/dev/null | grep '^Filesystem features'; }
b64() { printf '%s' "$1" | base64 -w0; }
# boots DESC DISK NAME PATTERN: the VM runner boots the guest (direct mode) to a marker matching PATTERN
boots() {
	local desc=$1 disk=$2 name=$3 pat=$4 con=$T_DIR/con-$RANDOM
	if [ $HAVE_VM = 0 ]; then
		t_skip "$desc" "qemu-system-x86_64 missing"
		return
	fi
	pb run "$disk" "$name" --timeout 120 --console "$con" </dev/null >/dev/null 2>"$con.err"
	if grep -aq "PARTBOOT-GUEST $pat" "$con" && grep -aq PARTBOOT-POWEROFF "$con"; then
		t_ok "$desc"
	else
		t_fail "$desc"
		grep -a "PARTBOOT-GUEST\|ERROR\|panic" "$con" | head -n 3 | sed 's/^/#   /'
		tail -n 3 "$con.err" | sed 's/^/#   /'
	fi
}

make_disk() {
	pb -q init "$D" --size 900M && pb -q add "$D" esp --type esp --size 40M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" g --type root --size 120M &&
		pb -q add "$D" keep --type root --size 60M && pb -q add "$D" data --type data --size 30M &&
		pb -q install "$D" g --from "$GUEST_TAR" && pb -q install "$D" keep --from "$GUEST_TAR" &&
		pb -q bootloader "$D" --uefi 2>/dev/null
}
if ! check "a disk: ESP with GRUB, bios-boot, guests g and keep, data (init, add, install, bootloader)" make_disk; then
	t_done
	exit 1
fi
read -r DATA_OFF DATA_SIZE <<<"$(range data)"
head -c "$DATA_SIZE" /dev/urandom | dd of="$D" bs=1M seek=$((DATA_OFF / 1048576)) conv=notrunc status=none
KERNEL_SUM=$(sha256sum <"$GUEST_KERNEL" | cut -d' ' -f1)
kernel_intact() { [ "$(pb cat "${2:-$D}" "$1" "/boot/vmlinuz-$GUEST_KVER" | sha256sum | cut -d' ' -f1)" = "$KERNEL_SUM" ]; }
# imported DISK NAME: the guest is e2fsck clean, complete in list, the kernel's sha256 intact
imported() {
	fsck_clean "$2" "$1" &&
		pb list --json "$1" | jq -e --arg n "$2" '.partitions[] | select(.name == $n) | .state == "complete"' &&
		kernel_intact "$2" "$1"
}
menu() { local off; read -r off _ <<<"$(range esp "${1:-$D}")"; mtype -i "${1:-$D}@@$off" ::/grub/grub.cfg; }
export MTOOLS_SKIP_CHECK=1
SIZE0=$(stat -c %s "$D")

# --- a guest running in a VM: every writing verb refuses, the disk stays as it is ----------
echo "# t=$SECONDS: a guest running in a VM: every writing verb refuses, the disk stays as it is"
VM_PID=
if [ $HAVE_VM = 1 ]; then
	pb -q snapshot "$D" keep --to "$T_DIR/keep-pre.img" # a rollback to refuse while it runs
	"$PARTBOOT" run "$D" keep --timeout 120 --console "$T_DIR/con-vm" --append "pb.run=$(b64 'sleep 25')" \
		</dev/null >/dev/null 2>&1 &
	VM_PID=$!
	for _ in $(seq 200); do grep -aq PARTBOOT-GUEST "$T_DIR/con-vm" 2>/dev/null && break; sleep 0.2; done
	if grep -aq PARTBOOT-GUEST "$T_DIR/con-vm"; then
		s=$(fp "$D")
		refuses "resize: refused while the guest runs in a VM" 1 "in use" pb resize "$D" keep 80M
		refuses "move: refused while the guest runs in a VM" 1 "in use" pb move "$D" keep --start 800M
		refuses "clone: refused while the source runs in a VM" 1 "in use" pb clone "$D" keep k2
		refuses "snapshot: refused while the guest runs in a VM" 1 "in use" pb snapshot "$D" keep --to "$T_DIR/vm.img"
		refuses "export: refused while the guest runs in a VM" 1 "in use" pb export "$D" keep "$T_DIR/vm-out.img"
		refuses "rollback: refused while the guest runs in a VM" 1 "in use" pb rollback "$D" keep "$T_DIR/keep-pre.img"
		check "refusals while the guest runs: disk byte-identical, no file written" \
			test "$(fp "$D")" = "$s" -a ! -e "$T_DIR/vm.img" -a ! -e "$T_DIR/vm-out.img"
	else
		t_fail "the guest never came up in the VM"
	fi
else
	t_skip "refusals while a guest runs in a VM" "qemu-system-x86_64 missing"
fi

# --- resize: the filesystem follows, never below its minimum ---------------------------------
echo "# t=$SECONDS: resize: the filesystem follows, never below its minimum"
s=$(fp "$D")
refuses "resize: shrinking below the filesystem's minimum is refused with the minimum" 1 \
	"4 MiB is below the smallest size its filesystem can take \([0-9.]+ MiB, [0-9]+ bytes\)" pb resize "$D" g 4M
refuses "resize: growing over the next partition is refused" 1 "would overlap partition" pb resize "$D" g 200M
check "resize refusals: disk byte-identical" test "$(fp "$D")" = "$s"
BEFORE=$(fp_outside "$D" g esp)
check "resize: shrink g to 40 MiB" pb -q resize "$D" g 40M
check "resize: shrunk filesystem is e2fsck clean" fsck_clean g
check "resize: the filesystem is 40 MiB (10240 blocks)" test "$(blocks g)" = 10240
check "resize: the files are intact (the kernel's sha256)" kernel_intact g
check "resize: grow g back to 120 MiB" pb -q resize "$D" g 120M
check "resize: grown filesystem is e2fsck clean" fsck_clean g
check "resize: the filesystem is 120 MiB (30720 blocks)" test "$(blocks g)" = 30720
check "resize: the files are intact after shrink and grow" kernel_intact g
check "resize: the image keeps its size (resize2fs cannot truncate it)" test "$(stat -c %s "$D")" = "$SIZE0"
check "resize: nothing fp_outside g (and the menu on the ESP) changed" test "$(fp_outside "$D" g esp)" = "$BEFORE"
check "resize: the guest is complete and in the menu again" bash -c "'$PARTBOOT' list --json '$D' |
	jq -e '.partitions[] | select(.name == \"g\") | .state == \"complete\"' && \
	mtype -i '$D@@$(range esp | cut -d' ' -f1)' ::/grub/grub.cfg | grep -q \"id 'g'\""
check "resize: sfdisk --verify" sfdisk --verify "$D"

# --- clone: a copy with identities of its own ---------------------------------------------
echo "# t=$SECONDS: clone: a copy with identities of its own"
U_G=$(fsuuid g)
P_G=$(partuuid g)
pb -q install "$D" g --from "$GUEST_TAR" --cmdline "ro console=ttyS0 no_timer_check pb.test=$U_G,$P_G"
G_SUM=$(psum g)
FEAT_G=$(features g)
ALLOC0=$(du -k "$D" | cut -f1)
s=$(fp "$D")
refuses "clone: a size below the filesystem's is refused" 1 "smaller than the guest's filesystem" \
	pb clone "$D" g small --size 50M
refuses "clone: a name that exists is refused" 1 "already exists" pb clone "$D" g keep
refuses "clone: a partition that is not a guest is refused" 1 "no guest there" pb clone "$D" data d2
check "clone refusals: disk byte-identical" test "$(fp "$D")" = "$s"
cp --sparse=always "$D" "$T_DIR/before.img"
check "clone g to g2" pb -q clone "$D" g g2
check "clone: the source is byte-identical" test "$(psum g)" = "$G_SUM"
U_2=$(fsuuid g2)
P_2=$(partuuid g2)
check "clone: a new filesystem UUID" test -n "$U_2" -a "$U_2" != "$U_G"
check "clone: a new PARTUUID" test -n "$P_2" -a "$P_2" != "$P_G"
check "clone: e2fsck clean" fsck_clean g2
check "clone: the source's filesystem features (no metadata_csum_seed left behind)" test "$(features g2)" = "$FEAT_G"
check "clone: fstab names the new root" bash -c "'$PARTBOOT' cat '$D' g2 /etc/fstab | grep -qP '^UUID=$U_2\t/\t'"
lacks "clone: fstab no longer names the source" "$U_G" pb cat "$D" g2 /etc/fstab
check "clone: hostname from the new name" test "$(pb cat "$D" g2 /etc/hostname)" = g2
check "clone: kernel/cmdline has the new identifiers" \
	test "$(pb cat "$D" g2 /etc/kernel/cmdline)" = "ro console=ttyS0 no_timer_check pb.test=$U_2,$P_2"
check "clone: the files are intact" kernel_intact g2
menu "$D" >"$T_DIR/grub.cfg"
check "clone: the boot menu has g2's entry with its PARTUUID" \
	bash -c "grep -q \"id 'g2'\" '$T_DIR/grub.cfg' && grep -q 'root=PARTUUID=$P_2' '$T_DIR/grub.cfg'"
ALLOC1=$(du -k "$D" | cut -f1)
USED_KB=$(($(dumpe2fs -h "$(dev g)" 2>/dev/null | awk -F: '/^Block count/ {b=$2} /^Free blocks/ {f=$2} END {print (b - f) * 4}')))
check "clone: only the blocks in use take room ($((ALLOC1 - ALLOC0)) KiB allocated for $USED_KB KiB in use of 120 MiB)" \
	test $((ALLOC1 - ALLOC0)) -le $((USED_KB + 1024))
check "clone: nothing else changed (the table, the menu on the ESP and g2 aside)" \
	fp_unchanged_except "$T_DIR/before.img" "$D" table esp g2
check "clone: sfdisk --verify" sfdisk --verify "$D"
boots "clone: g2 boots, with its new UUID and hostname" "$D" g2 "name=g2 root=UUID=$U_2"
D2=$T_DIR/other.img
pb -q init "$D2" --size 300M
check "clone --to another disk, larger" pb -q clone "$D" g copy --to "$D2" --size 200M
check "clone --to: e2fsck clean, grown to 200 MiB" bash -c "e2fsck -fn '$(dev copy "$D2")' >/dev/null && \
	test \"\$(dumpe2fs -h '$(dev copy "$D2")' 2>/dev/null | awk -F: '/^Block count/ {print \$2+0}')\" = 51200"
check "clone --to: the source disk is unchanged" test "$(psum g)" = "$G_SUM"

# --- snapshot, snapshots, rollback --------------------------------------------------------
echo "# t=$SECONDS: snapshot, snapshots, rollback"
check "snapshot g (raw, default folder)" pb -q snapshot "$D" g
check "snapshot g --zstd --to FILE" pb -q snapshot "$D" g --to "$T_DIR/g.img.zst"
pb snapshots "$D" g --json >"$T_DIR/snaps.json"
check "snapshots --json lists the one in the default folder" jq -e '.snapshots | length == 1 and
	.[0].format == "raw" and .[0].partition == "g"' "$T_DIR/snaps.json"
RAW=$(jq -r '.snapshots[0].file' "$T_DIR/snaps.json")
check "the raw snapshot is sparse (allocated far below 120 MiB)" test "$(du -k "$RAW" | cut -f1)" -lt 40000
check "the raw snapshot is an ext4 image e2fsck reads as it is" e2fsck -fn "$RAW"
check "zstd -d of the zstd snapshot gives the partition's bytes" \
	test "$(zstd -dc -q "$T_DIR/g.img.zst" | sha256sum | cut -d' ' -f1)" = "$G_SUM"
# change the guest: new files, one removed, the hostname rewritten
debugfs -w -R "write $GUEST_INITRD /root/extra" "$(dev g)" >/dev/null 2>&1
debugfs -w -R "rm /etc/os-release" "$(dev g)" >/dev/null 2>&1
pb -q install "$D" g --from "$GUEST_TAR" --hostname changed
check "the guest changed" test "$(psum g)" != "$G_SUM"
BEFORE=$(fp_outside "$D" g esp)
check "rollback g from the raw snapshot" pb -q rollback "$D" g "$RAW"
check "rollback: the partition's sha256 is the snapshot's moment's" test "$(psum g)" = "$G_SUM"
check "rollback: nothing fp_outside g (and the menu) changed" test "$(fp_outside "$D" g esp)" = "$BEFORE"
pb -q install "$D" g --from "$GUEST_TAR" --hostname again
check "rollback g from the zstd snapshot" pb -q rollback "$D" g "$T_DIR/g.img.zst"
check "rollback (zstd): the same sha256" test "$(psum g)" = "$G_SUM"
check "rollback: the guest is complete and in the menu" bash -c "'$PARTBOOT' list --json '$D' |
	jq -e '.partitions[] | select(.name == \"g\") | .state == \"complete\"'"
if [ -n "$VM_PID" ]; then wait "$VM_PID"; fi # the guest in keep powers off by itself
VM_PID=
check "snapshot keep (another partition, another size)" pb -q snapshot "$D" keep --to "$T_DIR/keep.img"
printf 'not a snapshot\n' >"$T_DIR/junk.img"
s=$(fp "$D")
refuses "rollback: a snapshot of another size is refused" 1 "snapshot of a partition of" pb rollback "$D" g "$T_DIR/keep.img"
pb -q snapshot "$D" g2 --to "$T_DIR/g2.img"
refuses "rollback: a snapshot of another partition is refused without --force" 1 "not of this one" \
	pb rollback "$D" g "$T_DIR/g2.img"
refuses "rollback: a file that is no snapshot is refused" 1 "not a partboot snapshot" pb rollback "$D" g "$T_DIR/junk.img"
refuses "snapshot: an existing file is never written over" 1 "exists" pb snapshot "$D" g --to "$T_DIR/junk.img"
refuses "snapshot: refused while another partboot holds the disk (flock)" 1 "in use by another partboot" \
	env PARTBOOT_LOCK_TIMEOUT=0 flock "$D" "$PARTBOOT" snapshot "$D" g --to "$T_DIR/locked.img"
check "snapshot refused on a locked disk: no file written" test ! -e "$T_DIR/locked.img"
refuses "rollback: refused while another partboot holds the disk (flock)" 1 "in use by another partboot" \
	env PARTBOOT_LOCK_TIMEOUT=0 flock "$D" "$PARTBOOT" rollback "$D" g "$RAW"
check "rollback refusals: disk byte-identical" test "$(fp "$D")" = "$s"

# --- move -----------------------------------------------------------------------------------
echo "# t=$SECONDS: move"
U_K=$(fsuuid keep)
P_K=$(partuuid keep)
if [ -n "$VM_PID" ]; then wait "$VM_PID"; fi # the guest in keep powered off by itself
OLD_KEEP=$(range keep | tr ' ' :)
cp --sparse=always "$D" "$T_DIR/before.img"
check "move keep into free space (--start 700M)" pb -q move "$D" keep --start 700M
check "move: keep starts at 700 MiB" test "$(range keep | cut -d' ' -f1)" = $((700 * 1048576))
check "move: same PARTUUID and filesystem UUID" test "$(partuuid keep):$(fsuuid keep)" = "$P_K:$U_K"
check "move: e2fsck clean, files intact" bash -c "e2fsck -fn '$(dev keep)' >/dev/null"
check "move: the files are intact" kernel_intact keep
check "move: nothing outside the old and the new place changed (the table and the menu aside)" \
	fp_unchanged_except "$T_DIR/before.img" "$D" table esp keep "$OLD_KEEP"
OLD_KEEP=$(range keep | tr ' ' :)
cp --sparse=always "$D" "$T_DIR/before.img"
check "move overlapping the old place (--start 680M)" pb -q move "$D" keep --start 680M
check "move (overlapping): nothing outside the old and the new place changed" \
	fp_unchanged_except "$T_DIR/before.img" "$D" table esp keep "$OLD_KEEP"
check "move (overlapping): e2fsck clean" fsck_clean keep
check "move (overlapping): the files are intact" kernel_intact keep
check "move (overlapping): the snapshot it went through is gone" bash -c "! compgen -G '$D.snapshots/*-move-*' >/dev/null"
read -r G2_OFF G2_SIZE <<<"$(range g2)"
check "move --after g2" pb -q move "$D" keep --after g2
check "move --after: right behind g2" test "$(range keep | cut -d' ' -f1)" = $((G2_OFF + G2_SIZE))
check "move: sfdisk --verify" sfdisk --verify "$D"
s=$(fp "$D")
refuses "move: a bios-boot partition is refused" 1 "bios-boot partition is not moved" pb move "$D" bios --start 600M
refuses "move: onto another partition is refused" 1 "overlaps partition" pb move "$D" keep --after esp
refuses "move: an unaligned start is refused" 1 "not 1 MiB aligned" pb move "$D" keep --start 700000K
refuses "move: --start and --after together is a usage error" 2 "one of" pb move "$D" keep --start 1G --after g
check "move refusals: disk byte-identical" test "$(fp "$D")" = "$s"

# --- export, and the export imported into another disk ---------------------------------------
echo "# t=$SECONDS: export, and the export imported into another disk"
s=$(fp "$D")
check "export g to a raw disk" pb -q export "$D" g "$T_DIR/g-export.img"
check "export: the source disk is byte-identical" test "$(fp "$D")" = "$s"
check "export: sfdisk --verify" sfdisk --verify "$T_DIR/g-export.img"
check "export: bios-boot, esp and g" test "$(pb list --json "$T_DIR/g-export.img" | jq -r '[.partitions[].name] | join(" ")')" = "bios-boot esp g"
check "export: the guest is e2fsck clean with the source's filesystem UUID" bash -c \
	"e2fsck -fn '$(dev g "$T_DIR/g-export.img")' >/dev/null && test \"\$(blkid -p -O $(range g "$T_DIR/g-export.img" | cut -d' ' -f1) -s UUID -o value '$T_DIR/g-export.img')\" = '$U_G'"
check "export: GRUB's menu on its ESP lists g" bash -c "menu() { local off; read -r off _ <<<\"\$('$PARTBOOT' list --json '$T_DIR/g-export.img' | jq -r '.partitions[] | select(.name==\"esp\") | \"\\(.start)\"')\"; mtype -i \"$T_DIR/g-export.img@@\$off\" ::/grub/grub.cfg; }; menu | grep -q \"id 'g'\""
check "export --size 200M to qcow2" pb -q export "$D" g "$T_DIR/g-export.qcow2" --size 200M
check "export: qemu-img check passes" qemu-img check -q "$T_DIR/g-export.qcow2"
qemu-img convert -q -O raw "$T_DIR/g-export.qcow2" "$T_DIR/g-export-200.img"
check "export --size: the guest's partition is 200 MiB in the export (it is 120 MiB in the source)" \
	test "$(range g "$T_DIR/g-export-200.img" | cut -d' ' -f2):$(range g | cut -d' ' -f2)" = $((200 << 20)):$((120 << 20))
check "export --size: its filesystem grew to 200 MiB (51200 blocks; the plain export's has 30720)" \
	test "$(blocks g "$T_DIR/g-export-200.img"):$(blocks g "$T_DIR/g-export.img")" = 51200:30720
check "export --size: the grown guest is e2fsck clean, complete in list, the files intact" \
	imported "$T_DIR/g-export-200.img" g
refuses "export: an existing OUT is refused" 1 "exists" pb export "$D" g "$T_DIR/g-export.img"
refuses "export: an unknown extension is a usage error" 2 "must end in" pb export "$D" g "$T_DIR/x.vdi"
I=$T_DIR/import.img
pb -q init "$I" --size 600M && pb -q add "$I" esp --type esp --size 40M && pb -q add "$I" slot --type root --size 300M &&
	pb -q add "$I" tiny --type root --size 20M && pb -q bootloader "$I" --uefi 2>/dev/null
check "install --from disk:EXPORT.qcow2 (the export imported into another disk)" \
	pb -q install "$I" slot --from "disk:$T_DIR/g-export.qcow2"
check "import: e2fsck clean" fsck_clean slot "$I"
check "import: grown to the slot (300 MiB, 76800 blocks)" test "$(blocks slot "$I")" = 76800
U_I=$(fsuuid slot "$I")
check "import: a new filesystem UUID" test -n "$U_I" -a "$U_I" != "$U_G"
check "import: fstab names it, hostname from the slot" bash -c "'$PARTBOOT' cat '$I' slot /etc/fstab | grep -q '^UUID=$U_I' &&
	test \"\$('$PARTBOOT' cat '$I' slot /etc/hostname)\" = slot"
check "import: the files are intact" kernel_intact slot "$I"
boots "import: the imported export boots" "$I" slot "name=slot root=UUID=$U_I"
s=$(fp "$I")
refuses "import: a slot holding a guest needs --wipe" 1 "add --wipe" pb install "$I" slot --from "disk:$T_DIR/g-export.img"
refuses "import: a slot smaller than the root is refused" 1 "the partition" pb install "$I" tiny --from "disk:$T_DIR/g-export.img"
{ head -c 64 /dev/zero; printf '\x7f\x10\xda\xbe'; head -c 1M /dev/zero; } >"$T_DIR/fake.vdi"
refuses "import: an unknown image format is refused" 1 "unknown image format 'vdi'" pb install "$I" tiny --from "disk:$T_DIR/fake.vdi"
head -c 4M /dev/urandom >"$T_DIR/noise.img"
refuses "import: a file without a partition table is refused" 1 "no partition table" pb install "$I" tiny --from "disk:$T_DIR/noise.img"
qemu-img create -q -f qcow2 -b "$T_DIR/g-export.img" -F raw "$T_DIR/backed.qcow2"
refuses "import: a qcow2 with a backing file is refused" 1 "reads another file" pb install "$I" tiny --from "disk:$T_DIR/backed.qcow2"
check "import refusals: disk byte-identical" test "$(fp "$I")" = "$s"

# --- import: the partition named, vmdk, a root found by /etc/os-release ----------------------
echo "# t=$SECONDS: import: the partition named, vmdk, a root found by /etc/os-release"
# 130 MiB slots: the export's 120 MiB root (4 KiB blocks) grows to 128 MiB (32768 blocks),
# resize2fs dropping the last block group, too small for its own metadata
J=$T_DIR/import2.img
pb -q init "$J" --size 900M && pb -q add "$J" esp --type esp --size 40M && pb -q bootloader "$J" --uefi 2>/dev/null
for slot in a b c d e f; do pb -q add "$J" "$slot" --type root --size 130M; done
LINUX_DATA=0FC63DAF-8483-4772-8E79-3D69D8477DE4
s=$(fp "$J")
refuses "import: disk:IMAGE:PARTITION naming a partition without ext2/3/4 is refused" 1 \
	"partition 2 holds vfat, not ext2/3/4" pb install "$J" f --from "disk:$T_DIR/g-export.img:esp"
refuses "import: disk:IMAGE:PARTITION naming no partition is refused" 1 "no partition number 9" \
	pb install "$J" f --from "disk:$T_DIR/g-export.img:9"
check "import: disk:IMAGE:PARTITION refusals: disk byte-identical" test "$(fp "$J")" = "$s"
check "install --from disk:EXPORT.img:3 (the partition by number)" pb -q install "$J" f --from "disk:$T_DIR/g-export.img:3"
check "import (disk:IMAGE:3): e2fsck clean, complete in list, the files intact" imported "$J" f
check "import (disk:IMAGE:3): grown to the slot (32768 blocks)" test "$(blocks f "$J")" = 32768
qemu-img convert -q -O vmdk "$T_DIR/g-export.img" "$T_DIR/g-export.vmdk"
qemu-img convert -q -O vmdk -o subformat=streamOptimized "$T_DIR/g-export.img" "$T_DIR/g-export-stream.vmdk"
check "install --from disk:EXPORT.vmdk (qemu-img convert -O vmdk of the export)" \
	pb -q install "$J" b --from "disk:$T_DIR/g-export.vmdk"
check "import (vmdk): e2fsck clean, complete in list, the files intact" imported "$J" b
check "install --from disk:EXPORT.vmdk (streamOptimized)" pb -q install "$J" c --from "disk:$T_DIR/g-export-stream.vmdk"
check "import (vmdk, streamOptimized): e2fsck clean, complete in list, the files intact" imported "$J" c
# the export with its root's type changed to linux data: no DPS root, found by /etc/os-release
cp --sparse=always "$T_DIR/g-export.img" "$T_DIR/nodps.img"
sfdisk -q --part-type "$T_DIR/nodps.img" 3 "$LINUX_DATA"
check "the copy of the export has no partition of the DPS root type" \
	test "$(pb list --json "$T_DIR/nodps.img" | jq '[.partitions[] | select(.type == "root")] | length')" = 0
check "install --from disk:IMAGE without a DPS root (found by /etc/os-release)" \
	pb -q install "$J" d --from "disk:$T_DIR/nodps.img"
check "import (os-release): e2fsck clean, complete in list, the files intact" imported "$J" d
# built by hand: linux-data partitions, an empty ext4 first, the root (mke2fs -d) second
mkdir -p "$T_DIR/hand/root" "$T_DIR/hand/data/etc"
tar -C "$T_DIR/hand/root" -xf "$GUEST_TAR" 2>/dev/null
H=$T_DIR/hand.img
truncate -s 200M "$H"
printf 'label: gpt\nstart=2048, size=65536, type=%s, name=data\nstart=67584, size=262144, type=%s, name=root\n' \
	"$LINUX_DATA" "$LINUX_DATA" | sfdisk -q "$H"
mke2fs -q -t ext4 -F -E offset=$((2048 * 512)) "$H" 32M &&
	mke2fs -q -t ext4 -F -E offset=$((67584 * 512)) -d "$T_DIR/hand/root" "$H" 128M
check "install --from disk:IMAGE built with sfdisk and mke2fs -d (the root by /etc/os-release)" \
	pb -q install "$J" e --from "disk:$H"
check "import (hand-built): e2fsck clean, complete in list, the files intact" imported "$J" e
cp "$T_DIR/hand/root/etc/os-release" "$T_DIR/hand/data/etc/"
mke2fs -q -t ext4 -F -E offset=$((2048 * 512)) -d "$T_DIR/hand/data" "$H" 32M # data gets an /etc/os-release too
debugfs -w -R "rm /etc/os-release" "$T_DIR/nodps.img?offset=$(range g "$T_DIR/nodps.img" | cut -d' ' -f1)" >/dev/null 2>&1
s=$(fp "$J")
refuses "import: two partitions with /etc/os-release are refused, naming both" 1 \
	"several partitions hold a Linux root \(1, 2\): name one" pb install "$J" a --from "disk:$H"
refuses "import: no DPS root and no /etc/os-release is refused" 1 "no Linux root found" \
	pb install "$J" a --from "disk:$T_DIR/nodps.img"
check "import: root-finding refusals: disk byte-identical" test "$(fp "$J")" = "$s"
check "install --from disk:IMAGE:root (the partition by name, among two candidates)" pb -q install "$J" a --from "disk:$H:root"
check "import (disk:IMAGE:root): e2fsck clean, complete in list, the files intact" imported "$J" a
# f (the last partition, the export's root): shrunk, then grown to where resize2fs drops a group
check "resize: f shrunk to 120 MiB (30720 blocks)" resized "$J" f 120M 30720
check "resize: f grown to 130 MiB: 32768 blocks, resize2fs dropping the last group, too small" \
	resized "$J" f 130M 32768
check "resize (120 to 130 MiB): e2fsck clean, complete in list, the files intact" imported "$J" f
check "import: sfdisk --verify" sfdisk --verify "$J"

# --- import with a separate /boot -------------------------------------------------------------
echo "# t=$SECONDS: import with a separate /boot"
mkdir -p "$T_DIR/split/root" "$T_DIR/split/boot"
tar -C "$T_DIR/split/root" -xf "$GUEST_TAR" 2>/dev/null
mv "$T_DIR/split/root/boot/"* "$T_DIR/split/boot/"
S=$T_DIR/split.img
truncate -s 200M "$S"
printf 'label: gpt\nstart=2048, size=65536, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, name=boot\nstart=67584, size=262144, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n' | sfdisk -q "$S"
BOOT_UUID=$(cat /proc/sys/kernel/random/uuid)
printf 'UUID=%s /boot ext4 defaults 0 2\n' "$BOOT_UUID" >>"$T_DIR/split/root/etc/fstab"
mke2fs -q -t ext4 -F -U "$BOOT_UUID" -E offset=$((2048 * 512)) -d "$T_DIR/split/boot" "$S" 32M &&
	mke2fs -q -t ext4 -F -E offset=$((67584 * 512)) -d "$T_DIR/split/root" "$S" 128M
pb -q add "$I" split --type root --size 150M
check "import: a separate ext4 /boot is merged into the root" pb -q install "$I" split --from "disk:$S"
check "import (/boot merged): the kernel is in the root's /boot" kernel_intact split "$I"
lacks "import (/boot merged): fstab has no /boot line left" "[[:space:]]/boot[[:space:]]" pb cat "$I" split /etc/fstab
check "import (/boot merged): e2fsck clean" fsck_clean split "$I"
mkfs.fat -F 16 --offset 2048 -i 12345678 "$S" 32768 >/dev/null 2>&1
printf 'UUID=1234-5678 /boot vfat defaults 0 2\n' >fstab.vfat
sed -i "s|^UUID=$BOOT_UUID /boot.*||" "$T_DIR/split/root/etc/fstab"
cat fstab.vfat >>"$T_DIR/split/root/etc/fstab"
mke2fs -q -t ext4 -F -E offset=$((67584 * 512)) -d "$T_DIR/split/root" "$S" 128M
s=$(fp "$I")
refuses "import: a separate /boot that is not ext2/3/4 is refused, naming it" 1 "/boot is partition 1, holding vfat" \
	pb install "$I" split --wipe --from "disk:$S"
check "import /boot refusal: disk byte-identical" test "$(fp "$I")" = "$s"

t_done
