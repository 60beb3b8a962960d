#!/bin/bash
# Secure Boot for real (slow: eight firmware boots under TCG, ~4 minutes here). A disk with two
# guests on Debian's signed kernel (alpha, beta) and one whose kernel lost its signature
# (gamma), `partboot bootloader --secure-boot`; OVMF's Secure Boot build with Microsoft's keys
# enrolled boots every signed guest through shim and Debian's signed GRUB, the guest's kernel
# reports Secure Boot enabled, `next` works (GRUB's save_env consumes it under Secure Boot),
# the unsigned kernel is refused ("bad shim signature"), `partboot run --firmware uefi
# --secure-boot` boots the default guest, the same disk boots through plain OVMF and SeaBIOS
# from the same menu and grubenv, and partboot's own unsigned BOOTX64.EFI is refused by that
# firmware.
. "$(dirname "$0")/../e2e/lib.sh"

QEMU=qemu-system-x86_64
OVMF=/usr/share/OVMF
GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1

missing=
for p in $QEMU sbattach partx mtype; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
for f in "$OVMF/OVMF_CODE_4M.secboot.fd" "$OVMF/OVMF_VARS_4M.ms.fd" "$OVMF/OVMF_CODE_4M.fd" \
	/usr/lib/shim/shimx64.efi.signed /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed "$GUEST_ENV"; do
	[ -r "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	t_skip "secure boot boots" "missing:$missing (make deps; make guest)"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"

D=$T_DIR/sb.img
esp() { echo "$D@@$(($(partx -g -o START -n 2 "$D" | tr -d ' ') * 512))"; }
partuuid() { partx -g -o UUID -n "$1" "$D" | tr -d ' ' | tr '[:upper:]' '[:lower:]'; }

# boot FW LOG [STOP]: boot the whole disk once (seabios, ovmf, or ovmf-sb: Secure Boot
# enforced), serial console to LOG, until the guest powers off, LOG shows STOP (an ERE), or
# 240 s pass. GRUB waits for a key after a failed entry, hence STOP.
boot() {
	local fw=$1 log=$2 stop=${3:-} fwargs=() pid i
	rm -f "$log" "$T_DIR/vars.fd"
	case $fw in
	ovmf)
		cp "$OVMF/OVMF_VARS_4M.fd" "$T_DIR/vars.fd"
		fwargs=(-M q35 -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF/OVMF_CODE_4M.fd"
			-drive "if=pflash,format=raw,unit=1,file=$T_DIR/vars.fd") ;;
	ovmf-sb)
		cp "$OVMF/OVMF_VARS_4M.ms.fd" "$T_DIR/vars.fd"
		fwargs=(-M "q35,smm=on" -global "driver=cfi.pflash01,property=secure,value=on"
			-global ICH9-LPC.disable_s3=1
			-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF/OVMF_CODE_4M.secboot.fd"
			-drive "if=pflash,format=raw,unit=1,file=$T_DIR/vars.fd") ;;
	*) fwargs=(-M q35) ;;
	esac
	$QEMU -accel tcg -m 512 -nodefaults -display none -monitor none -serial "file:$log" -no-reboot \
		"${fwargs[@]}" -drive "file=$D,format=raw,if=virtio" >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 240; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		if [ -n "$stop" ] && grep -aqE "$stop" "$log" 2>/dev/null; then
			sleep 1
			break
		fi
		sleep 1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# reached DESC LOG PART: the guest on partition PART printed its marker.
reached() {
	if grep -aq "PARTBOOT-GUEST name=.* root=PARTUUID=$(partuuid "$3")" "$2"; then
		t_ok "$1"
	else
		t_fail "$1"
		grep -a "PARTBOOT-GUEST\|error\|Access Denied\|Violation\|panic" "$2" | head -n 5 | sed 's/^/#   /'
		tail -c 400 "$2" | tr -d '\033' | sed 's/^/#   /' | tail -n 5
	fi
}
# enforced DESC LOG: the kernel saw Secure Boot on, and GRUB printed no error on the way.
enforced() {
	if grep -aq "secureboot: Secure boot enabled" "$2" && ! grep -aqE "prohibited by secure boot policy|error: " "$2"; then
		t_ok "$1"
	else
		t_fail "$1"
		grep -aE "ecure boot|prohibited|error: " "$2" | head -n 5 | sed 's/^/#   /'
	fi
}

# --- the disk ----------------------------------------------------------------------------
k=./boot/vmlinuz-$GUEST_KVER
mkdir -p "$T_DIR/u/boot"
if ! cp "$GUEST_KERNEL" "$T_DIR/u/$k" || ! sbattach --remove "$T_DIR/u/$k" || ! cp "$GUEST_TAR" "$T_DIR/u.tar" ||
	! tar --delete -f "$T_DIR/u.tar" "$k" || ! tar -rf "$T_DIR/u.tar" -C "$T_DIR/u" --owner=0 --group=0 "$k" ||
	! pb -q init "$D" --size 300M || ! pb -q add "$D" bios --type bios-boot --size 1M ||
	! pb -q add "$D" esp --type esp --size 64M || ! pb -q add "$D" alpha --type root --size 60M ||
	! pb -q add "$D" beta --type root --size 60M || ! pb -q add "$D" gamma --type root --size 60M ||
	! pb -q install "$D" alpha --from "$GUEST_TAR" || ! pb -q install "$D" beta --from "$GUEST_TAR" ||
	! pb -q install "$D" gamma --from "$T_DIR/u.tar" || ! pb -q bootloader "$D" --secure-boot 2>/dev/null ||
	! pb -q default "$D" alpha; then
	t_fail "set up the disk (two signed guests, one unsigned, bootloader --secure-boot)"
	t_done
	exit
fi
t_ok "disk: alpha and beta on Debian's signed kernel, gamma unsigned, bootloader --secure-boot"

# --- Secure Boot enforced ----------------------------------------------------------------
boot ovmf-sb "$T_DIR/sb-alpha.log"
reached "Secure Boot: the default guest alpha boots through shim and the signed GRUB" "$T_DIR/sb-alpha.log" 3
enforced "Secure Boot: alpha's kernel reports Secure Boot enabled; GRUB printed no error" "$T_DIR/sb-alpha.log"

pb -q next "$D" beta
boot ovmf-sb "$T_DIR/sb-beta.log"
reached "Secure Boot: next beta boots beta" "$T_DIR/sb-beta.log" 4
enforced "Secure Boot: beta's kernel reports Secure Boot enabled" "$T_DIR/sb-beta.log"
check "Secure Boot: GRUB's save_env consumed next (grubenv's next_entry is empty)" \
	bash -c "mtype -i '$(esp)' ::/grub/grubenv | grep -qx 'next_entry='"
boot ovmf-sb "$T_DIR/sb-again.log"
reached "Secure Boot: the boot after that is the default again (alpha)" "$T_DIR/sb-again.log" 3

pb -q next "$D" gamma
boot ovmf-sb "$T_DIR/sb-gamma.log" "bad shim signature"
if grep -aq "bad shim signature" "$T_DIR/sb-gamma.log" && ! grep -aq "PARTBOOT-GUEST" "$T_DIR/sb-gamma.log"; then
	t_ok "Secure Boot: gamma's unsigned kernel is refused (\"bad shim signature\"), nothing boots"
else
	t_fail "Secure Boot: gamma's unsigned kernel is refused"
	grep -a "PARTBOOT-GUEST\|error" "$T_DIR/sb-gamma.log" | head -n 5 | sed 's/^/#   /'
fi

# --- partboot's own runner -----------------------------------------------------------------
pb run "$D" alpha --firmware uefi --secure-boot --console "$T_DIR/run.log" --timeout 240 2>"$T_DIR/run.err"
rc=$?
if [ "$rc" -eq 0 ]; then
	reached "partboot run --firmware uefi --secure-boot: alpha boots (exit 0)" "$T_DIR/run.log" 3
else
	t_fail "partboot run --firmware uefi --secure-boot (exit $rc)"
	sed 's/^/#   /' "$T_DIR/run.err"
fi
enforced "partboot run --secure-boot: Secure Boot enabled in the guest" "$T_DIR/run.log"

# --- the same disk, the same menu, without Secure Boot --------------------------------------------
pb -q next "$D" beta # gamma's next was consumed before GRUB refused it
boot ovmf "$T_DIR/plain.log"
reached "plain OVMF: shim runs the signed GRUB without Secure Boot; next beta boots beta" "$T_DIR/plain.log" 4
check "plain OVMF: the kernel reports Secure Boot disabled" grep -aq "secureboot: Secure boot disabled" "$T_DIR/plain.log"
boot seabios "$T_DIR/bios.log"
reached "SeaBIOS: BIOS GRUB reads the same menu and grubenv (default alpha)" "$T_DIR/bios.log" 3

# --- what Secure Boot is there for: partboot's own unsigned UEFI GRUB is refused ----------------
pb -q bootloader "$D" --uefi
boot ovmf-sb "$T_DIR/unsigned-loader.log" "Access Denied|Security Violation"
if grep -aqE "Access Denied|Security Violation" "$T_DIR/unsigned-loader.log" && ! grep -aq "GNU GRUB" "$T_DIR/unsigned-loader.log"; then
	t_ok "Secure Boot firmware refuses partboot's own unsigned BOOTX64.EFI (Access Denied)"
else
	t_fail "Secure Boot firmware refuses partboot's own unsigned BOOTX64.EFI"
	tail -c 400 "$T_DIR/unsigned-loader.log" | tr -d '\033' | sed 's/^/#   /' | tail -n 5
fi
t_done
