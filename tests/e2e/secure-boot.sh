#!/bin/bash
# Secure Boot, without a VM (tests/slow/secure-boot.sh boots it): `bootloader --secure-boot`
# puts Debian's signed shim and GRUB on the ESP unchanged, with the stub config, beside the
# same menu and grubenv as a plain install; it warns about a guest whose kernel is not signed;
# a missing package is refused by name with the disk unchanged; a plain UEFI install takes the
# signed chain away again; `run --secure-boot` needs UEFI.
. "$(dirname "$0")/lib.sh"

SHIM=/usr/lib/shim/shimx64.efi.signed
GRUB=/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
MOKM=/usr/lib/shim/mmx64.efi.signed
GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1

missing=
for p in mcopy mtype mdir sbattach partx blkid; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
for f in "$SHIM" "$GRUB" "$GUEST_ENV"; do
	[ -r "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	t_skip "secure boot e2e" "missing:$missing (make deps; make guest)"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"

# The test guest with its kernel's signature stripped (sbattach --remove), as a tar archive.
unsigned_tar() {
	local out=$1 k=./boot/vmlinuz-$GUEST_KVER
	mkdir -p "$T_DIR/unsigned/boot" &&
		cp "$GUEST_KERNEL" "$T_DIR/unsigned/$k" && sbattach --remove "$T_DIR/unsigned/$k" &&
		cp "$GUEST_TAR" "$out" && tar --delete -f "$out" "$k" &&
		tar -rf "$out" -C "$T_DIR/unsigned" --owner=0 --group=0 --mode=0644 "$k"
}

D=$T_DIR/sb.img
esp() { echo "$D@@$(($(partx -g -o START -n 2 "$D" | tr -d ' ') * 512))"; }
get() { rm -f "$2"; mcopy -n -i "$(esp)" "::$1" "$2" 2>/dev/null; }

if ! unsigned_tar "$T_DIR/unsigned.tar" || ! pb -q init "$D" --size 128M ||
	! pb -q add "$D" bios --type bios-boot --size 1M || ! pb -q add "$D" esp --type esp --size 34M ||
	! pb -q add "$D" alpha --type root --size 40M || ! pb -q add "$D" gamma --type root --size 40M ||
	! pb -q install "$D" alpha --from "$GUEST_TAR" || ! pb -q install "$D" gamma --from "$T_DIR/unsigned.tar"; then
	t_fail "set up a disk with a signed and an unsigned guest"
	t_done
	exit
fi

# A plain install first: its menu and grubenv must survive the switch.
pb -q bootloader "$D" && pb -q default "$D" alpha
get /grub/grub.cfg "$T_DIR/plain.cfg"
get /EFI/BOOT/BOOTX64.EFI "$T_DIR/plain.efi"
s=$(sum "$D")

# Missing packages: each refused by name, before anything is written. A private mount
# namespace hides the folder from partboot only (nothing changes for the rest of the machine).
if unshare -m true 2>/dev/null; then
	mkdir -p "$T_DIR/empty"
	for dir_pkg in "/usr/lib/shim:shim-signed" "/usr/lib/grub/x86_64-efi-signed:grub-efi-amd64-signed"; do
		dir=${dir_pkg%%:*} pkg=${dir_pkg#*:}
		# shellcheck disable=SC2016 # $1.. are the inner shell's arguments, expanded there
		refuses "without $pkg: refused, naming the package" 1 "missing: Secure Boot needs Debian's signed chain \(install $pkg\)" \
			unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" bootloader "$4" --secure-boot' sh \
			"$T_DIR/empty" "$dir" "$PARTBOOT" "$D"
		check "without $pkg: disk unchanged" test "$(sum "$D")" = "$s"
	done
else
	t_skip "refusals without the signed packages" "unshare -m is not allowed here (needs root)"
fi

# A fallback loader left in EFI/BOOT: shim would run it instead of GRUB.
mcopy -i "$(esp)" /usr/lib/shim/fbx64.efi.signed ::/EFI/BOOT/fbx64.efi 2>/dev/null

pb bootloader "$D" --secure-boot >"$T_DIR/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	t_ok "bootloader --secure-boot"
else
	t_fail "bootloader --secure-boot (exit $rc)"
	sed 's/^/#   /' "$T_DIR/out"
fi
get /EFI/BOOT/BOOTX64.EFI "$T_DIR/boot.efi"
get /EFI/BOOT/grubx64.efi "$T_DIR/grub.efi"
get /EFI/BOOT/mmx64.efi "$T_DIR/mm.efi"
check "EFI/BOOT/BOOTX64.EFI is Debian's signed shim, byte for byte" cmp "$SHIM" "$T_DIR/boot.efi"
check "EFI/BOOT/grubx64.efi is Debian's signed GRUB, byte for byte" cmp "$GRUB" "$T_DIR/grub.efi"
if [ -r "$MOKM" ]; then
	check "EFI/BOOT/mmx64.efi is MokManager" cmp "$MOKM" "$T_DIR/mm.efi"
fi
check "the shim on the ESP still verifies (sbverify --list sees its signature)" \
	bash -c "sbverify --list '$T_DIR/boot.efi' | grep -q 'Microsoft Corporation UEFI CA'"
check "fbx64.efi removed from EFI/BOOT" bash -c "! mdir -i '$(esp)' ::/EFI/BOOT/fbx64.efi >/dev/null 2>&1"
volid=$(blkid -p -O "$(($(partx -g -o START -n 2 "$D" | tr -d ' ') * 512))" -s UUID -o value "$D")
printf "search --no-floppy --fs-uuid --set=root %s\nset prefix=(\$root)/grub\nconfigfile \$prefix/grub.cfg\n" \
	"$volid" >"$T_DIR/stub.want"
get /EFI/debian/grub.cfg "$T_DIR/stub"
check "EFI/debian/grub.cfg is the three-line stub finding the ESP by its volume id ($volid)" \
	cmp "$T_DIR/stub.want" "$T_DIR/stub"
get /grub/grub.cfg "$T_DIR/sb.cfg"
check "the menu is the one the plain install wrote" cmp "$T_DIR/plain.cfg" "$T_DIR/sb.cfg"
check "grubenv kept (default alpha)" bash -c "mtype -i '$(esp)' ::/grub/grubenv | grep -qx saved_entry=alpha"
check "warns about the unsigned kernel of gamma" \
	grep -q "partition 'gamma': kernel /boot/vmlinuz-$GUEST_KVER is not signed" "$T_DIR/out"
check "no warning about alpha (Debian's signed kernel)" bash -c "! grep -q \"partition 'alpha'\" '$T_DIR/out'"
check "BIOS GRUB too (the disk has a BIOS boot partition): boot.img in the MBR" \
	bash -c "dd if='$D' bs=1 skip=$((0x66)) count=2 2>/dev/null | od -An -tx1 | grep -q '90 90'"
check "sfdisk --verify" sfdisk --verify "$D"

# A menu refresh on the Secure Boot disk warns again (here: the guest gets a new name).
pb rename "$D" gamma delta >"$T_DIR/rename.out" 2>&1
check "a later menu refresh warns too" grep -q "partition 'delta': kernel .* is not signed" "$T_DIR/rename.out"

# Back to partboot's own UEFI GRUB: the signed chain goes.
pb -q bootloader "$D" --uefi
get /EFI/BOOT/BOOTX64.EFI "$T_DIR/boot2.efi"
check "plain --uefi: partboot's own BOOTX64.EFI again" cmp "$T_DIR/plain.efi" "$T_DIR/boot2.efi"
check "plain --uefi: grubx64.efi and the stub removed" bash -c "! mdir -i '$(esp)' ::/EFI/BOOT/grubx64.efi >/dev/null 2>&1 &&
	! mdir -i '$(esp)' ::/EFI/debian/grub.cfg >/dev/null 2>&1"

# A layout: secure_boot = yes, and no bootloader key (an esp and a bios-boot partition: auto,
# so BIOS and Secure Boot UEFI).
cat >"$T_DIR/sb.conf" <<EOF
[disk]
size = 128M
seed = sb-layout
secure_boot = yes

[partition bios]
type = bios-boot
size = 1M

[partition esp]
type = esp
size = 34M

[partition alpha]
type = root
size = 40M
source = $GUEST_TAR
EOF
L=$T_DIR/layout.img
pb apply "$L" "$T_DIR/sb.conf" --dry-run --json >"$T_DIR/plan.json" 2>/dev/null
check "apply --dry-run --json: bootloader bios,uefi,secure-boot (auto, Secure Boot)" \
	jq -e '[.plan[] | select(.kind == "bootloader") | .bootloader] == ["bios,uefi,secure-boot"]' "$T_DIR/plan.json"
if pb -q apply "$L" "$T_DIR/sb.conf"; then
	rm -f "$T_DIR/l.efi"
	mcopy -n -i "$L@@$((2 * 1024 * 1024))" ::/EFI/BOOT/BOOTX64.EFI "$T_DIR/l.efi" 2>/dev/null
	check "apply secure_boot = yes: BOOTX64.EFI is the signed shim" cmp "$SHIM" "$T_DIR/l.efi"
else
	t_fail "apply a layout with secure_boot = yes"
fi
sed -i 's/^secure_boot = yes$/secure_boot = yes\nbootloader = bios/' "$T_DIR/sb.conf"
refuses "secure_boot = yes with bootloader = bios: refused with FILE:LINE" 1 \
	"sb.conf:4: secure_boot = yes needs a UEFI bootloader" pb apply "$T_DIR/none.img" "$T_DIR/sb.conf"
check "refused layout: no disk created" test ! -e "$T_DIR/none.img"

refuses "run --secure-boot without --firmware uefi: usage error" 2 "--secure-boot needs --firmware uefi" \
	pb run "$D" alpha --secure-boot
refuses "run --firmware bios --secure-boot: usage error" 2 "--secure-boot needs --firmware uefi" \
	pb run "$D" alpha --firmware bios --secure-boot
t_done
