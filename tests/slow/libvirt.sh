#!/bin/bash
# libvirt for real (slow: five domain boots under TCG, ~5 minutes here). A real libvirtd
# (qemu:///system, domain type qemu) starts what `partboot run --libvirt DOMAIN` defines, in
# direct mode and through SeaBIOS, OVMF and OVMF with Secure Boot; each guest reaches its
# marker on a <serial type='file'>; the domain is defined again under the same name (its
# <uuid> is stable); in firmware mode nothing outside the guest's partition changes. The
# daemons are started here when none runs (virtlogd -d; libvirtd -d, no systemd needed) and
# stopped again at the end.
. "$(dirname "$0")/../e2e/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
LV_BOOT=/var/lib/libvirt/boot/partboot
missing=
for p in libvirtd virtlogd virsh virt-xml-validate qemu-system-x86_64 partx unshare; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
[ -r /usr/lib/shim/shimx64.efi.signed ] || missing="$missing shim-signed"
if [ -n "$missing" ]; then
	t_skip "libvirt" "missing:$missing (make deps; make guest)"
	t_done
	exit
fi
if [ "$(id -u)" != 0 ]; then
	t_skip "libvirt" "qemu:///system and its daemons need root"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"
export LIBVIRT_DEFAULT_URI=qemu:///system
TAG=pbt$$
DOMAINS=()
STARTED=()

lv_cleanup() {
	for d in "${DOMAINS[@]}"; do
		virsh destroy "$d" >/dev/null 2>&1
		virsh undefine --nvram "$d" >/dev/null 2>&1 || virsh undefine "$d" >/dev/null 2>&1
		rm -rf "${LV_BOOT:?}/$d"
	done
	# only the daemons this test started, by their pid
	for pid in "${STARTED[@]}"; do
		kill "$pid" 2>/dev/null
	done
	t_cleanup
}
trap lv_cleanup EXIT

# --- the daemons ---------------------------------------------------------------------------
daemon_pid() { [ -r "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }
mkdir -p /run/libvirt
if ! daemon_pid /run/virtlogd.pid >/dev/null; then
	virtlogd -d && sleep 1 && STARTED+=("$(daemon_pid /run/virtlogd.pid)")
fi
if ! daemon_pid /run/libvirtd.pid >/dev/null; then
	# /dev/kvm here is root's alone (0600): libvirt, which runs QEMU as libvirt-qemu, then
	# finds KVM unusable while its capability probe (as root) found it, and probes QEMU again
	# on every lookup (a `virsh define` took 50-90 s). A private mount namespace shows
	# libvirtd a /dev/kvm that is /dev/null, 0600: probe and check agree (no KVM; TCG is all
	# this machine can run anyway). Nothing changes for the rest of the machine.
	if [ -c /dev/kvm ] && ! setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --clear-groups test -w /dev/kvm 2>/dev/null; then
		# shellcheck disable=SC2016 # $1 is the inner shell's argument, expanded there
		rm -f "$T_DIR/kvm" && mknod -m 600 "$T_DIR/kvm" c 1 3 &&
			unshare -m --propagation private sh -c 'mount --bind "$1" /dev/kvm && exec libvirtd -d' sh "$T_DIR/kvm"
	else
		libvirtd -d
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10; do daemon_pid /run/libvirtd.pid >/dev/null && break; sleep 1; done
	pid=$(daemon_pid /run/libvirtd.pid) && STARTED+=("$pid")
fi
if ! virsh version >/dev/null 2>&1; then
	t_fail "libvirtd answers on qemu:///system"
	t_done
	exit
fi
t_ok "libvirtd answers on qemu:///system (started here: ${#STARTED[@]} daemon(s))"

# --- the disk: two guests, GRUB for BIOS and UEFI ------------------------------------------
D=$T_DIR/lv.img
if ! pb -q init "$D" --size 300M || ! pb -q add "$D" bios --type bios-boot --size 1M ||
	! pb -q add "$D" esp --type esp --size 64M || ! pb -q add "$D" alpha --type root --size 80M ||
	! pb -q add "$D" beta --type root --size 80M || ! pb -q install "$D" alpha --from "$GUEST_TAR" ||
	! pb -q install "$D" beta --from "$GUEST_TAR" || ! pb -q bootloader "$D" || ! pb -q default "$D" alpha; then
	t_fail "set up a two-guest disk"
	t_done
	exit
fi
read -r A_START A_SIZE < <(partx -g -b -o START,SIZE -n 3 "$D")
A_START=$((A_START * 512))
# sha256 of the disk outside alpha's partition
outside() { { head -c "$A_START" "$D"; tail -c +$((A_START + A_SIZE + 1)) "$D"; } | sha256sum | cut -d' ' -f1; }
OUTSIDE=$(outside)

# boot_domain DESC DOMAIN LOG PARTBOOT-OPTIONS...: define and start it, wait until it is shut
# off (the guest powers off; on_poweroff is destroy), then look for the marker.
boot_domain() {
	local desc=$1 dom=$2 log=$3 out i state
	shift 3
	DOMAINS+=("$dom")
	rm -f "$log"
	if ! out=$(pb run "$D" alpha "$@" --libvirt "$dom" --console "$log" 2>&1); then
		t_fail "$desc: partboot run --libvirt"
		printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 5
		return 1
	fi
	for ((i = 0; i < 300; i++)); do
		state=$(virsh domstate "$dom" 2>/dev/null)
		[ "$state" = "shut off" ] && break
		sleep 1
	done
	if [ "$state" = "shut off" ] && grep -aq "PARTBOOT-GUEST name=alpha" "$log" && grep -aq PARTBOOT-POWEROFF "$log"; then
		t_ok "$desc: libvirt started it, the guest reached its marker and powered off (${i} s)"
	else
		t_fail "$desc: state '$state' after ${i} s"
		grep -a "PARTBOOT\|error\|panic" "$log" 2>/dev/null | head -n 5 | sed 's/^/#   /'
		tail -n 5 "/var/log/libvirt/qemu/$dom.log" 2>/dev/null | sed 's/^/#   /'
	fi
}

# --- the XML ---------------------------------------------------------------------------------
DOMAINS+=("$TAG-xml")
pb run "$D" alpha --firmware uefi --libvirt-xml="$TAG-xml" >"$T_DIR/uefi.xml" 2>/dev/null
check "--libvirt-xml (uefi): virt-xml-validate takes it" virt-xml-validate "$T_DIR/uefi.xml" domain
check "--libvirt-xml (uefi): libvirt copies OVMF's variables from the template into the domain's folder" \
	grep -q "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>$LV_BOOT/$TAG-xml/OVMF_VARS.fd</nvram>" "$T_DIR/uefi.xml"
check "--libvirt-xml (uefi): the split view, one file per extent, handed to libvirt-qemu" \
	bash -c "grep -q 'FLAT \"shadow-0.img\" 0' '$LV_BOOT/$TAG-xml/disk.vmdk' &&
		test \"\$(stat -c %U '$LV_BOOT/$TAG-xml/shadow-0.img')\" = libvirt-qemu"
check "--libvirt-xml (uefi): libvirt-qemu may read and write the disk (ACL)" \
	bash -c "getfacl -c '$D' 2>/dev/null | grep -q '^user:libvirt-qemu:rw'"

# --- direct mode, twice under one name -----------------------------------------------------------
boot_domain "direct mode" "$TAG-direct" "$T_DIR/direct.log"
check "direct mode: the kernel and initrd live in $LV_BOOT/$TAG-direct" \
	test -s "$LV_BOOT/$TAG-direct/kernel" -a -s "$LV_BOOT/$TAG-direct/initrd"
u1=$(virsh domuuid "$TAG-direct" 2>/dev/null)
boot_domain "direct mode, defined again under the same name" "$TAG-direct" "$T_DIR/direct2.log"
u2=$(virsh domuuid "$TAG-direct" 2>/dev/null)
check "the same <uuid> both times ($u1)" test -n "$u1" -a "$u1" = "$u2"

# --- firmware mode ----------------------------------------------------------------------------------
boot_domain "firmware mode, SeaBIOS" "$TAG-bios" "$T_DIR/bios.log" --firmware bios
boot_domain "firmware mode, OVMF" "$TAG-uefi" "$T_DIR/uefi.log" --firmware uefi
check "firmware mode: nothing outside alpha's partition changed" test "$(outside)" = "$OUTSIDE"
pb -q bootloader "$D" --secure-boot
OUTSIDE=$(outside)
boot_domain "firmware mode, OVMF with Secure Boot" "$TAG-sb" "$T_DIR/sb.log" --firmware uefi --secure-boot
check "Secure Boot domain: the guest's kernel reports Secure Boot enabled" \
	grep -aq "secureboot: Secure boot enabled" "$T_DIR/sb.log"
check "Secure Boot domain: nothing outside alpha's partition changed" test "$(outside)" = "$OUTSIDE"
t_done
