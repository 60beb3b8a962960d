# End-to-end tests of `partboot run`: boot the test guest in real QEMU VMs (TCG here).
# Direct mode to the marker, isolation (the guest overwrites its whole disk; nothing
# outside its partition changes), --snapshot, refusals, SIGTERM and --timeout, and
# firmware mode (bios, uefi) on a disk with two guests and a hand-installed GRUB.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
if [ ! -f "$GUEST_ENV" ]; then
	t_skip "vm tests" "the test guest is not built (make guest)"
	t_done
	exit
fi
# shellcheck disable=SC1090
. "$GUEST_ENV"
if ! command -v qemu-system-x86_64 >/dev/null; then
	t_skip "vm tests" "qemu-system-x86_64 missing (make deps)"
	t_done
	exit
fi
export XDG_CACHE_HOME=$T_DIR/cache # the boot files cache, private to this run
D=$T_DIR/disk.img

# offset and size in bytes of partition NAME, from sfdisk
part_range() {
	sfdisk -d "$D" | awk -v n="\"$2\"" -F'[=,]' '$0 ~ "name=" n { print $2 * 512, $4 * 512 }' | tr -s ' '
}
# sha256 of DISK bytes [off, off+len)
region_sum() {
	if [ "$2" -le 0 ]; then echo empty; return; fi
	dd if="$D" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none | sha256sum | cut -d' ' -f1
}
# sha256 of everything outside partition NAME (table included)
outside_sum() {
	local off size total
	read -r off size < <(part_range "$D" "$1")
	total=$(stat -c %s "$D")
	echo "$(region_sum 0 "$off") $(region_sum $((off + size)) $((total - off - size)))"
}
# install the test guest into NAME: partboot install, or by hand (mke2fs -d) until it works
install_guest() {
	local off size
	if pb install "$D" "$1" --from "$GUEST_TAR" >/dev/null 2>&1; then return 0; fi
	[ "$(id -u)" = 0 ] || return 1
	if [ ! -d "$T_DIR/tree" ]; then
		mkdir "$T_DIR/tree" && tar xf "$GUEST_TAR" -C "$T_DIR/tree" || return 1
	fi
	read -r off size < <(part_range "$D" "$1")
	mke2fs -q -t ext4 -F -E offset="$off",nodiscard -L "$1" -d "$T_DIR/tree" "$D" "$((size / 1024))k"
}
b64() { printf '%s' "$1" | base64 -w0; }

pb init "$D" --size 600M >/dev/null 2>&1 &&
	pb add "$D" esp --type esp --size 64M >/dev/null 2>&1 &&
	pb add "$D" bios --type bios-boot --size 1M >/dev/null 2>&1 &&
	pb add "$D" g1 --type root --size 200M >/dev/null 2>&1 &&
	pb add "$D" g2 --type root --size 200M >/dev/null 2>&1 &&
	pb add "$D" empty --type data --size 16M >/dev/null 2>&1
check "a disk with an ESP, a BIOS boot partition and three more partitions" sfdisk --verify "$D"
if ! install_guest g1 || ! install_guest g2; then
	t_skip "vm tests" "cannot install the guest (partboot install failed and not root for mke2fs)"
	t_done
	exit
fi
read -r E_OFF E_SIZE < <(part_range "$D" empty)
mke2fs -q -t ext4 -F -E offset="$E_OFF",nodiscard -L empty "$D" "$((E_SIZE / 1024))k"
t_ok "guest installed in g1 and g2, an empty ext4 in 'empty'"

# --- the command, as data, without starting anything
out=$(pb run "$D" g1 --print-cmdline 2>"$T_DIR/err")
read -r G1_OFF G1_SIZE < <(part_range "$D" g1)
case "$out" in
*"-kernel "*"offset=$G1_OFF,size=$G1_SIZE,"*) t_ok "--print-cmdline shows the partition alone and the kernel" ;;
*) t_fail "--print-cmdline: $out" ;;
esac
pb run "$D" g1 --libvirt-xml >"$T_DIR/dom.xml" 2>/dev/null
if grep -q "<slice type='storage' offset='$G1_OFF' size='$G1_SIZE'/>" "$T_DIR/dom.xml" &&
	python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T_DIR/dom.xml" 2>/dev/null; then
	t_ok "--libvirt-xml is well-formed XML with the partition as a storage slice"
else
	t_fail "--libvirt-xml"
fi

# --- direct mode: boot to the marker; --snapshot keeps the partition unchanged
before_g1=$(region_sum "$G1_OFF" "$G1_SIZE")
pb run "$D" g1 --snapshot --timeout 120 --console "$T_DIR/con1" \
	--append "pb.run=$(b64 'dd if=/dev/zero of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null; echo wrote')" \
	</dev/null >/dev/null 2>"$T_DIR/err1"
rc=$?
if [ $rc -eq 0 ] && grep -q "PARTBOOT-GUEST name=.* root=UUID=.* virt=" "$T_DIR/con1" &&
	grep -q "PARTBOOT-RUN-EXIT status=0" "$T_DIR/con1"; then
	t_ok "direct mode boots the guest to its marker (root=UUID=...) and exits 0 after its poweroff"
else
	t_fail "direct boot (exit $rc)"
	tail -n 15 "$T_DIR/con1" "$T_DIR/err1" | sed 's/^/#   /'
fi
[ "$(region_sum "$G1_OFF" "$G1_SIZE")" = "$before_g1" ] &&
	t_ok "--snapshot: the guest's writes to its disk did not reach the partition" ||
	t_fail "--snapshot: the partition changed"

# --- isolation: g2 overwrites its whole disk with 0x55; nothing outside g2 changes
read -r G2_OFF G2_SIZE < <(part_range "$D" g2)
before=$(outside_sum g2)
script='echo "DISKSIZE=$(blockdev --getsize64 /dev/vda)"
tr "\000" "\125" </dev/zero | dd of=/dev/vda bs=64k conv=fsync 2>/dev/null
sync; echo "overwrote"
# power off at once: the ext4 inside, now garbage, must not write error records
echo o >/proc/sysrq-trigger; sleep 30'
pb run "$D" g2 --timeout 180 --console "$T_DIR/con2" --append "pb.run=$(b64 "$script")" </dev/null >/dev/null 2>&1
rc=$?
size=$(sed -n 's/.*DISKSIZE=\([0-9]*\).*/\1/p' "$T_DIR/con2" | head -n1)
[ "$size" = "$G2_SIZE" ] && t_ok "the guest sees a disk of exactly its partition's size ($size bytes)" ||
	t_fail "guest disk size '$size', partition $G2_SIZE (exit $rc)"
left=$(dd if="$D" bs=64K iflag=skip_bytes,count_bytes skip="$G2_OFF" count="$G2_SIZE" status=none | tr -d '\125' | wc -c)
[ "$left" -eq 0 ] && grep -q overwrote "$T_DIR/con2" && t_ok "the guest wrote its pattern over the whole partition" ||
	t_fail "pattern not over the whole partition ($left other bytes)"
[ "$(outside_sum g2)" = "$before" ] && t_ok "every byte outside the partition, the table included, is unchanged" ||
	t_fail "bytes outside the guest's partition changed"
install_guest g2 || t_fail "reinstall g2"

# --- refusals: a message, nothing started, the disk unchanged
sum0=$(sum "$D")
refuses "refuses a partition without a kernel in /boot" 1 "no kernel in /boot" pb run "$D" empty --print-cmdline
refuses "refuses an unknown guest" 1 "nosuch" pb run "$D" nosuch --print-cmdline
refuses "names the package when qemu is missing" 1 "install qemu-system-x86" \
	pb run "$D" g1 --qemu /nonexistent/qemu-system-x86_64
refuses "rejects a bad --firmware" 2 "bios or uefi" pb run "$D" g1 --firmware coreboot
if command -v debugfs >/dev/null; then
	: >"$T_DIR/empty-file"
	debugfs -w -R "write $T_DIR/empty-file .partboot-incomplete" "$D?offset=$G2_OFF" >/dev/null 2>&1
	sum_inc=$(sum "$D")
	refuses "refuses an incomplete guest" 1 "incomplete" pb run "$D" g2 --print-cmdline
	[ "$(sum "$D")" = "$sum_inc" ] && t_ok "refusals left the disk byte-identical" || t_fail "refusal changed the disk"
	debugfs -w -R "rm .partboot-incomplete" "$D?offset=$G2_OFF" >/dev/null 2>&1
	sum0=$(sum "$D")
fi
loop=$(losetup --find --show -o "$G1_OFF" --sizelimit "$G1_SIZE" "$D" 2>/dev/null)
if [ -b "$loop" ]; then
	# the guest's partition in use on the host (here: backing a loop device, as a mount would)
	refuses "refuses a partition in use on the host" 1 "in use|loop" pb run "$D" g1 --print-cmdline
	losetup -d "$loop"
else
	t_skip "refuses a partition in use on the host" "no loop devices here"
fi
[ "$(sum "$D")" = "$sum0" ] || t_fail "disk changed by refusals"

# --- a running VM locks its partition (not the disk); SIGTERM powers it down, then stops it
"$PARTBOOT" run "$D" g1 --timeout 120 --console "$T_DIR/con3" --append "pb.run=$(b64 'sleep 300')" </dev/null \
	>/dev/null 2>"$T_DIR/err3" &
vm_pid=$!
for _ in $(seq 120); do grep -q PARTBOOT-GUEST "$T_DIR/con3" 2>/dev/null && break; sleep 0.5; done
refuses "refuses a guest already running in another VM" 1 "in use" pb run "$D" g1 --print-cmdline
check "another guest of the same disk stays usable meanwhile" pb run "$D" g2 --print-cmdline
kill -TERM "$vm_pid"
wait "$vm_pid"
rc=$?
[ $rc -eq 130 ] && t_ok "SIGTERM: power button, then a hard stop after the grace period (exit 130)" ||
	t_fail "SIGTERM: exit $rc, want 130"

# --- --timeout: a guest that never powers off is stopped, exit 124
pb run "$D" g1 --timeout 6 --console "$T_DIR/con4" --append "pb.run=$(b64 'sleep 300')" </dev/null >/dev/null 2>&1
rc=$?
[ $rc -eq 124 ] && t_ok "--timeout stops the VM and exits 124" || t_fail "--timeout: exit $rc, want 124"

# --- firmware mode: GRUB installed by hand, bios and uefi
# GRUB for both firmwares with one embedded config that boots g2 (PLATFORM.md, GRUB 2.06):
# x86_64-efi → EFI/BOOT/BOOTX64.EFI on the FAT ESP; i386-pc core.img → the BIOS boot
# partition, boot.img → the MBR, with the LBA fields grub-bios-setup would write.
grub_by_hand() {
	local esp_off esp_size bb_off bb_size uuid partuuid g=$T_DIR/grub run
	read -r esp_off esp_size < <(part_range "$D" esp)
	read -r bb_off bb_size < <(part_range "$D" bios)
	uuid=$(blkid -p -o value -s UUID -O "$G2_OFF" "$D") || return 1
	partuuid=$(sfdisk -d "$D" | awk -F'uuid=' '/name="g2"/ { split($2, a, ","); print tolower(a[1]) }')
	# in the VM: overwrite the table, the ESP, the BIOS boot partition and g1, all of which
	# the view shows from a private shadow; then power off
	run=$(b64 'for p in /dev/vda1 /dev/vda2 /dev/vda3; do dd if=/dev/zero of=$p bs=64k count=16 conv=fsync 2>/dev/null; done
dd if=/dev/zero of=/dev/vda bs=512 count=34 conv=fsync 2>/dev/null; echo "scribbled"')
	mkdir -p "$g"
	cat >"$g/early.cfg" <<-EOF
		set timeout=0
		search --no-floppy --fs-uuid --set=root $uuid
		linux /boot/vmlinuz-$GUEST_KVER root=PARTUUID=$partuuid ro console=ttyS0 pb.run=$run
		initrd /boot/initrd.img-$GUEST_KVER
		boot
	EOF
	local mods="part_gpt part_msdos fat ext2 search search_fs_uuid linux normal boot echo test"
	grub-mkimage -O x86_64-efi -o "$g/bootx64.efi" -c "$g/early.cfg" -p /EFI/BOOT $mods || return 1
	grub-mkimage -O i386-pc -o "$g/core.img" -c "$g/early.cfg" -p '(hd0,gpt1)/' biosdisk $mods || return 1
	mkfs.fat -F 32 -s 1 --offset $((esp_off / 512)) "$D" $((esp_size / 1024)) >/dev/null 2>&1 || return 1
	mmd -i "$D@@$esp_off" ::/EFI ::/EFI/BOOT && mcopy -i "$D@@$esp_off" "$g/bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI || return 1
	[ "$(stat -c %s "$g/core.img")" -le "$bb_size" ] || return 1
	# diskboot's blocklist (0x1f4, LE64): core.img's second sector
	python3 - "$g/core.img" "$D" "$bb_off" "/usr/lib/grub/i386-pc/boot.img" <<-'PY' || return 1
		import struct, sys
		core, disk, bb_off, bootimg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
		c = bytearray(open(core, 'rb').read())
		c[0x1f4:0x1fc] = struct.pack('<Q', bb_off // 512 + 1)
		b = bytearray(open(bootimg, 'rb').read())
		b[0x5c:0x64] = struct.pack('<Q', bb_off // 512)  # kernel_sector: core.img's first sector
		b[0x66:0x68] = bytes([0x90, 0x90])                       # drive check: hard disk
		with open(disk, 'r+b') as f:
		    f.seek(bb_off); f.write(c)
		    f.seek(0); f.write(b[:440])                  # leave signature and table alone
	PY
}
if grub_by_hand; then
	t_ok "GRUB installed by hand for BIOS and UEFI"
	for fw in bios uefi; do
		before=$(outside_sum g2)
		pb run "$D" g2 --firmware "$fw" --timeout 150 --console "$T_DIR/con-$fw" \
			</dev/null >/dev/null 2>"$T_DIR/err-$fw"
		rc=$?
		if [ $rc -eq 0 ] && grep -q "PARTBOOT-GUEST .*root=PARTUUID=" "$T_DIR/con-$fw" &&
			grep -q "^scribbled" "$T_DIR/con-$fw" && grep -q "PARTBOOT-RUN-EXIT status=0" "$T_DIR/con-$fw"; then
			t_ok "firmware mode ($fw): GRUB boots g2 on the whole-disk view"
		else
			t_fail "firmware mode ($fw) (exit $rc)"
			tail -n 15 "$T_DIR/con-$fw" "$T_DIR/err-$fw" | sed 's/^/#   /'
		fi
		[ "$(outside_sum g2)" = "$before" ] &&
			t_ok "firmware mode ($fw): nothing outside g2 changed (the guest wrote to the ESP, table and g1)" ||
			t_fail "firmware mode ($fw): bytes outside g2 changed"
	done
else
	t_skip "firmware mode" "could not install GRUB by hand"
fi

t_done
