#!/bin/bash
# End-to-end tests of `partboot run`: boot the test guest in real QEMU VMs (TCG here).
# Direct mode to the marker, isolation (the guest overwrites its whole disk; nothing
# outside its partition changes), --snapshot, refusals, SIGTERM and --timeout, and
# firmware mode (bios, uefi) on a disk with two guests and partboot's own GRUB.
# Every guest is installed with `partboot install` and GRUB with `partboot bootloader`:
# when either fails, that is a failure here, never a reason to do it by other means.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
if [ ! -f "$GUEST_ENV" ]; then
	t_skip "vm tests" "the test guest is not built (make guest)"
	t_done
	exit
fi
# shellcheck source=/dev/null
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
	sfdisk -d "$D" | awk -v n="\"$1\"" -F'[=,]' '$0 ~ "name=" n { print $2 * 512, $4 * 512 }' | tr -s ' '
}
# sha256 of DISK bytes [off, off+len)
region_sum() {
	if [ "$2" -le 0 ]; then echo empty; return; fi
	dd if="$D" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none | sha256sum | cut -d' ' -f1
}
# sha256 of everything outside partition NAME (table included)
outside_sum() {
	local off size total
	read -r off size < <(part_range "$1")
	total=$(stat -c %s "$D")
	echo "$(region_sum 0 "$off") $(region_sum $((off + size)) $((total - off - size)))"
}
# install_guest NAME [OPTION...]: the test guest into NAME with partboot install; when that
# fails, a "not ok" line with partboot's message, and 1.
install_guest() {
	local name=$1 out
	shift
	if out=$(pb -q install "$D" "$name" --from "$GUEST_TAR" "$@" 2>&1); then
		return 0
	fi
	t_fail "partboot install $name --from guest.tar $*"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 10
	return 1
}
b64() { printf '%s' "$1" | base64 -w0; }

make_disk() {
	pb -q init "$D" --size 600M && pb -q add "$D" esp --type esp --size 64M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" g1 --type root --size 200M &&
		pb -q add "$D" g2 --type root --size 200M && pb -q add "$D" empty --type data --size 16M
}
if ! check "a disk with an ESP, a BIOS boot partition and three more partitions (partboot init, add)" make_disk ||
	! check "the disk's table passes sfdisk --verify" sfdisk --verify "$D"; then
	t_done
	exit 1
fi
# Nothing below means anything without the guests: stop at the first failed install.
if ! install_guest g1 || ! install_guest g2; then
	t_done
	exit 1
fi
t_ok "guest installed in g1 and g2 (partboot install)"
check "an empty ext4 in 'empty' (partboot mkfs)" pb -q mkfs "$D" empty --fs ext4

# --- the command, as data, without starting anything
out=$(pb run "$D" g1 --print-cmdline 2>"$T_DIR/err")
read -r G1_OFF G1_SIZE < <(part_range g1)
case "$out" in
*"-kernel "*"offset=$G1_OFF,size=$G1_SIZE,"*) t_ok "--print-cmdline shows the partition alone and the kernel" ;;
*) t_fail "--print-cmdline: $out" ;;
esac
check "--cpu-model max is QEMU's -cpu max" bash -c "'$PARTBOOT' run '$D' g1 --accel tcg --cpu-model max --print-cmdline | grep -q -- ' -cpu max '"
sha_before=$(sha256sum <"$D")
if pb run "$D" g1 --cpu-model 'max -snapshot' --print-cmdline >/dev/null 2>"$T_DIR/err"; then
	t_fail "--cpu-model 'max -snapshot' was taken"
else
	check "--cpu-model 'max -snapshot' is refused, naming the character, the disk unchanged" \
		bash -c "grep -q 'letters, digits' '$T_DIR/err' && grep -q 0x20 '$T_DIR/err' && [ \"\$(sha256sum <'$D')\" = '$sha_before' ]"
fi
# --libvirt-xml: as root its files go under /var/lib/libvirt/boot (libvirt's folder), else
# into the cache; tests/slow/libvirt.sh starts the domains with a real libvirtd.
if [ "$(id -u)" = 0 ] && [ ! -d /var/lib/libvirt/boot ]; then
	t_skip "--libvirt-xml" "libvirt is not installed (libvirt-daemon-system)"
else
	LV=pb-e2e-vm-$$ # a domain name of this run's own: its folder goes at the end
	LV_DIR=/var/lib/libvirt/boot/partboot/$LV
	[ "$(id -u)" = 0 ] || LV_DIR=$XDG_CACHE_HOME/partboot/libvirt/$LV
	pb run "$D" g1 --accel tcg --libvirt-xml="$LV" --console "$T_DIR/lv.log" >"$T_DIR/dom.xml" 2>/dev/null
	pb run "$D" g1 --accel tcg --libvirt-xml="$LV" >"$T_DIR/dom0.xml" 2>/dev/null
	if grep -q "<slice type='storage' offset='$G1_OFF' size='$G1_SIZE'/>" "$T_DIR/dom.xml" &&
		python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T_DIR/dom.xml" 2>/dev/null; then
		t_ok "--libvirt-xml is well-formed XML with the partition as a storage slice"
	else
		t_fail "--libvirt-xml"
	fi
	u1=$(grep -o '<uuid>[^<]*</uuid>' "$T_DIR/dom.xml")
	u2=$(grep -o '<uuid>[^<]*</uuid>' "$T_DIR/dom0.xml")
	check "--libvirt-xml: the same <uuid> every time ($u1)" test -n "$u1" -a "$u1" = "$u2"
	check "--libvirt-xml: TCG gets qemu64 with x86-64-v2's features, --console a <serial type='file'>" \
		bash -c "grep -q \"<model>qemu64</model>\" '$T_DIR/dom.xml' && grep -q \"<feature policy='require' name='sse4.2'/>\" '$T_DIR/dom.xml' &&
			grep -q \"<serial type='file'>\" '$T_DIR/dom.xml' &&
			grep -q \"<source path='$T_DIR/lv.log'/>\" '$T_DIR/dom.xml'"
	check "--libvirt-xml: the kernel is in the domain's own folder ($LV_DIR)" \
		bash -c "grep -q '<kernel>$LV_DIR/kernel</kernel>' '$T_DIR/dom.xml' && test -s '$LV_DIR/kernel'"
	if command -v virt-xml-validate >/dev/null; then
		check "virt-xml-validate takes it" virt-xml-validate "$T_DIR/dom.xml" domain
	else
		t_skip "virt-xml-validate" "libvirt-clients is not installed"
	fi
	rm -rf "$LV_DIR"
fi

# --- direct mode: boot to the marker; --snapshot keeps the partition unchanged
before_g1=$(region_sum "$G1_OFF" "$G1_SIZE")
pb run "$D" g1 --snapshot --timeout 120 --console "$T_DIR/con1" \
	--append "pb.run=$(b64 'dd if=/dev/zero of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null && echo wrote')" \
	</dev/null >/dev/null 2>"$T_DIR/err1"
rc=$?
if [ $rc -eq 0 ] && grep -q "PARTBOOT-GUEST name=.* root=UUID=.* virt=" "$T_DIR/con1" &&
	grep -q "PARTBOOT-RUN-EXIT status=0" "$T_DIR/con1"; then
	t_ok "direct mode boots the guest to its marker (root=UUID=...) and exits 0 after its poweroff"
else
	t_fail "direct boot (exit $rc)"
	tail -n 15 "$T_DIR/con1" "$T_DIR/err1" | sed 's/^/#   /'
fi
# Unchanged proves something only once the guest has written.
if ! grep -q '^wrote' "$T_DIR/con1"; then
	t_fail "--snapshot: not checked, the guest never wrote to its disk (see the boot above)"
elif [ "$(region_sum "$G1_OFF" "$G1_SIZE")" = "$before_g1" ]; then
	t_ok "--snapshot: the guest's writes to its disk did not reach the partition"
else
	t_fail "--snapshot: the partition changed"
fi

# --- isolation: g2 overwrites its whole disk with 0x55; nothing outside g2 changes
read -r G2_OFF G2_SIZE < <(part_range g2)
before=$(outside_sum g2)
# shellcheck disable=SC2016 # the script runs in the guest: its $(...) expand there
script='echo "DISKSIZE=$(blockdev --getsize64 /dev/vda)"
tr "\000" "\125" </dev/zero | dd of=/dev/vda bs=64k conv=fsync 2>/dev/null
sync; echo "overwrote"
# power off at once: the ext4 inside, now garbage, must not write error records
echo o >/proc/sysrq-trigger; sleep 30'
pb run "$D" g2 --timeout 180 --console "$T_DIR/con2" --append "pb.run=$(b64 "$script")" </dev/null >/dev/null 2>&1
rc=$?
size=$(sed -n 's/.*DISKSIZE=\([0-9]*\).*/\1/p' "$T_DIR/con2" | head -n1)
if [ "$size" = "$G2_SIZE" ]; then
	t_ok "the guest sees a disk of exactly its partition's size ($size bytes)"
else
	t_fail "guest disk size '$size', partition $G2_SIZE (exit $rc)"
	tail -n 15 "$T_DIR/con2" | sed 's/^/#   /'
fi
left=$(dd if="$D" bs=64K iflag=skip_bytes,count_bytes skip="$G2_OFF" count="$G2_SIZE" status=none | tr -d '\125' | wc -c)
if [ "$left" -eq 0 ] && grep -q overwrote "$T_DIR/con2"; then
	t_ok "the guest wrote its pattern over the whole partition"
else
	t_fail "pattern not over the whole partition ($left other bytes)"
fi
if ! grep -q overwrote "$T_DIR/con2"; then
	t_fail "isolation: not checked, the guest never overwrote its disk"
elif [ "$(outside_sum g2)" = "$before" ]; then
	t_ok "every byte outside the partition, the table included, is unchanged"
else
	t_fail "bytes outside the guest's partition changed"
fi
install_guest g2 && t_ok "partboot install over the overwritten g2"

# --- refusals: a message, nothing started, the disk unchanged
sum0=$(sum "$D")
refuses "refuses a partition without a kernel in /boot" 1 "no kernel in /boot" pb run "$D" empty --print-cmdline
refuses "refuses an unknown guest" 1 "nosuch" pb run "$D" nosuch --print-cmdline
refuses "names the package when qemu is missing" 1 "install qemu-system-x86" \
	pb run "$D" g1 --qemu /nonexistent/qemu-system-x86_64
refuses "rejects a bad --firmware" 2 "bios or uefi" pb run "$D" g1 --firmware coreboot
check "refusals so far left the disk byte-identical" test "$(sum "$D")" = "$sum0"
if command -v debugfs >/dev/null; then
	# the marker an interrupted install leaves (tests/e2e/install-kill.sh makes it for real)
	: >"$T_DIR/empty-file"
	debugfs -w -R "write $T_DIR/empty-file .partboot-incomplete" "$D?offset=$G2_OFF" >/dev/null 2>&1
	sum_inc=$(sum "$D")
	refuses "refuses an incomplete guest" 1 "incomplete" pb run "$D" g2 --print-cmdline
	check "the refusal left the disk byte-identical" test "$(sum "$D")" = "$sum_inc"
	debugfs -w -R "rm .partboot-incomplete" "$D?offset=$G2_OFF" >/dev/null 2>&1
	check "g2 complete again once the marker is gone" pb run "$D" g2 --print-cmdline
else
	t_skip "refuses an incomplete guest" "debugfs missing (package e2fsprogs; make deps)"
fi
sum0=$(sum "$D")
if loop=$(losetup --find --show -o "$G1_OFF" --sizelimit "$G1_SIZE" "$D" 2>"$T_DIR/losetup.err"); then
	# the guest's partition in use on the host (here: backing a loop device, as a mount would)
	refuses "refuses a partition in use on the host" 1 "in use|loop" pb run "$D" g1 --print-cmdline
	losetup -d "$loop"
	check "the in-use refusal left the disk byte-identical" test "$(sum "$D")" = "$sum0"
else
	t_skip "refuses a partition in use on the host" "no loop device: $(head -n 1 "$T_DIR/losetup.err")"
fi

# --- a running VM locks its partition (not the disk); SIGTERM powers it down, then stops it
"$PARTBOOT" run "$D" g1 --timeout 120 --console "$T_DIR/con3" --append "pb.run=$(b64 'sleep 300')" </dev/null \
	>/dev/null 2>"$T_DIR/err3" &
vm_pid=$!
for _ in $(seq 120); do grep -q PARTBOOT-GUEST "$T_DIR/con3" 2>/dev/null && break; sleep 0.5; done
# The refusal below holds for a VM that never booted too: make sure this one did.
if grep -q PARTBOOT-GUEST "$T_DIR/con3" 2>/dev/null; then
	t_ok "a VM running g1 reached its marker"
else
	t_fail "the VM running g1 did not reach its marker in 60 s"
	tail -n 15 "$T_DIR/con3" "$T_DIR/err3" 2>&1 | sed 's/^/#   /'
fi
refuses "refuses a guest already running in another VM" 1 "in use" pb run "$D" g1 --print-cmdline
check "another guest of the same disk stays usable meanwhile" pb run "$D" g2 --print-cmdline
# issue 15, defect 7: the table may not give the running guest's range away meanwhile
sum_run=$(sum "$D")
held="partition 3 'g1' is in use by partboot run \(pid $vm_pid\); stop it first"
refuses "defect 7: remove refuses the running guest, naming partboot run" 1 "$held" pb remove "$D" g1
refuses "defect 7: resize refuses it" 1 "$held" pb resize "$D" g1 100M
refuses "defect 7: init --force refuses the disk" 1 \
	"a partition of it is in use by partboot run \(pid $vm_pid\)" pb init --force "$D"
printf '[disk]\ntable = dos\n\n[partition g1]\ntype = root\nsize = 100M\n' >"$T_DIR/dos.conf"
refuses "defect 7: apply --force (a new table) refuses it" 1 "in use by partboot run" \
	pb apply --force "$D" "$T_DIR/dos.conf"
check "defect 7: the refusals left the disk byte-identical" test "$(sum "$D")" = "$sum_run"
kill -TERM "$vm_pid"
wait "$vm_pid"
rc=$?
if [ $rc -eq 130 ]; then
	t_ok "SIGTERM: power button, then a hard stop after the grace period (exit 130)"
else
	t_fail "SIGTERM: exit $rc, want 130"
	tail -n 5 "$T_DIR/err3" | sed 's/^/#   /'
fi

# --- --timeout: a guest that never powers off is stopped, exit 124
pb run "$D" g1 --timeout 6 --console "$T_DIR/con4" --append "pb.run=$(b64 'sleep 300')" </dev/null >/dev/null 2>&1
rc=$?
if [ $rc -eq 124 ]; then t_ok "--timeout stops the VM and exits 124"; else t_fail "--timeout: exit $rc, want 124"; fi

# --- firmware mode: partboot's GRUB (partboot bootloader), bios and uefi
# g2's kernel arguments (install --cmdline, which its menu entry uses) carry a pb.run script
# that overwrites the table, the ESP, the BIOS boot partition and g1 (vda1-3), all of which the
# whole-disk view shows from a private shadow, then powers off.
# shellcheck disable=SC2016 # the guest's shell expands $p
scribble=$(b64 'for p in /dev/vda1 /dev/vda2 /dev/vda3; do dd if=/dev/zero of=$p bs=64k count=16 conv=fsync 2>/dev/null; done
dd if=/dev/zero of=/dev/vda bs=512 count=34 conv=fsync 2>/dev/null; echo "scribbled"')
G2_PARTUUID=$(sfdisk -d "$D" | awk -F'uuid=' '/name="g2"/ { split($2, a, ","); print tolower(a[1]) }')
if install_guest g2 --cmdline "$GUEST_CMDLINE pb.run=$scribble" &&
	check "partboot bootloader: GRUB for BIOS and UEFI" pb -q bootloader "$D" &&
	check "partboot default g2" pb -q default "$D" g2; then
	for fw in bios uefi; do
		before=$(outside_sum g2)
		pb run "$D" g2 --firmware "$fw" --timeout 150 --console "$T_DIR/con-$fw" \
			</dev/null >/dev/null 2>"$T_DIR/err-$fw"
		rc=$?
		if [ $rc -eq 0 ] && grep -qi "PARTBOOT-GUEST name=g2 root=PARTUUID=$G2_PARTUUID " "$T_DIR/con-$fw" &&
			grep -q "^scribbled" "$T_DIR/con-$fw" && grep -q "PARTBOOT-RUN-EXIT status=0" "$T_DIR/con-$fw"; then
			t_ok "firmware mode ($fw): GRUB boots g2 on the whole-disk view"
		else
			t_fail "firmware mode ($fw) (exit $rc)"
			tail -n 15 "$T_DIR/con-$fw" "$T_DIR/err-$fw" | sed 's/^/#   /'
		fi
		if ! grep -q "^scribbled" "$T_DIR/con-$fw"; then
			t_fail "firmware mode ($fw): isolation not checked, the guest never wrote outside g2"
		elif [ "$(outside_sum g2)" = "$before" ]; then
			t_ok "firmware mode ($fw): nothing outside g2 changed (the guest wrote to the ESP, table and g1)"
		else
			t_fail "firmware mode ($fw): bytes outside g2 changed"
		fi
	done
fi

t_done
