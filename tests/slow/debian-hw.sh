#!/bin/bash
# SLOW (306 s here with the machine's load average at 11; +280 s the first time, for
# mmdebstrap; 99 s and 123 s to login: of the two boots): a real Debian bookworm whose
# initramfs-tools ran with MODULES=list and a short list for SATA (ahci, sd_mod, ext4), as a
# host-only initramfs built on a PC holds: no virtio, no NVMe. The VM runner must see that and boot it
# on q35's AHCI, in direct mode and through SeaBIOS and partboot's GRUB, to the login prompt.
#
# The root comes from mmdebstrap (minbase + the kernel, initramfs-tools, systemd, udev), the
# initramfs configuration written by an essential hook, before the kernel's postinst builds
# it; the .debs are cached in .cache/debootstrap (as tests/slow/debian.sh does) and the tar in
# .cache/guest-hw/ (rebuilt when the packages, the hook or the mirror change). Prints each
# boot's time.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1
echo "# slow test: a real Debian with a SATA-only initramfs (MODULES=list), booted on AHCI"
for tool in mmdebstrap qemu-system-x86_64 jq sfdisk; do
	command -v "$tool" >/dev/null || { t_skip "debian-hw" "$tool missing (make deps)"; t_done; exit 0; }
done
[ "$(id -u)" = 0 ] || { t_skip "debian-hw" "mmdebstrap's chroot needs root here"; t_done; exit 0; }
MIRROR=${PB_DEBIAN_MIRROR:-}
if ! python3 - "${MIRROR:-http://deb.debian.org/debian}" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/dists/bookworm/InRelease", timeout=10).read(100)
PY
	t_skip "debian-hw" "no network: cannot reach the Debian mirror"
	t_done
	exit 0
fi

CACHE=$PB_TOP/.cache/debootstrap
OUT=$PB_TOP/.cache/guest-hw
mkdir -p "$CACHE" "$OUT"
# MODULES=list takes exactly the modules named (with what modprobe says they need); the list
# goes to modules.d, which mkinitramfs reads like /etc/initramfs-tools/modules (a conffile
# dpkg would ask about if it were there before the package). "$1" is mmdebstrap's: the chroot.
# shellcheck disable=SC2016 # expanded by the shell mmdebstrap runs the hook in
HOOK='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" &&
echo MODULES=list >"$1/etc/initramfs-tools/conf.d/partboot-sata" &&
printf "ahci\nsd_mod\next4\ncrc32c_generic\n" >"$1/usr/share/initramfs-tools/modules.d/partboot-sata"'
TAR=$OUT/debian-sata.tar
TMP_TAR=$OUT/debian-sata.$$.tar # mmdebstrap writes a tar when the name ends in .tar
# what the tar is made from: the packages, the hook, the mirror
PKGS=linux-image-amd64,initramfs-tools,systemd-sysv,udev
STAMP=$(printf '%s\n%s\n%s\n' "$PKGS" "$HOOK" "${MIRROR:-}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$TAR" ] || [ "$(cat "$TAR.stamp" 2>/dev/null)" != "$STAMP" ]; then
	start=$SECONDS
	# shellcheck disable=SC2016 # "$1" is the hook's: the chroot
	if mmdebstrap --quiet --variant=minbase --include="$PKGS" \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
		--setup-hook="sync-in $CACHE /var/cache/apt/archives/" \
		--essential-hook="$HOOK" \
		--customize-hook="sync-out /var/cache/apt/archives $CACHE" \
		bookworm "$TMP_TAR" ${MIRROR:+"$MIRROR"} >mmdebstrap.log 2>&1; then
		mv "$TMP_TAR" "$TAR" && echo "$STAMP" >"$TAR.stamp"
		t_ok "mmdebstrap: Debian bookworm with MODULES=list for SATA ($((SECONDS - start)) s)"
	else
		t_fail "mmdebstrap"; tail -n 15 mmdebstrap.log | sed 's/^/#   /'; rm -f "$TMP_TAR"; t_done; exit 1
	fi
else
	t_ok "Debian bookworm with MODULES=list for SATA (cached $TAR)"
fi

export XDG_CACHE_HOME=$T_DIR/cache
D=$T_DIR/disk.img
if ! { pb -q init "$D" --size 2G && pb -q add "$D" esp --type esp --size 64M &&
	pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" deb --type root --size 1500M; }; then
	t_fail "cannot make the disk"
	t_done
	exit 1
fi
# console=ttyS0 for GRUB's line in firmware mode (the runner adds it in direct mode); loglevel=7: the
# kernel's disk messages on the console, which the checks below read ("quiet" hides them)
check "install it (partboot install --from the tar)" pb -q install "$D" deb --from "$TAR" --cmdline "ro console=ttyS0 loglevel=7"
check "bootloader" pb -q bootloader "$D"
read -r OFF SIZE < <(sfdisk -J "$D" | jq -r '.partitiontable.partitions[] | select(.name == "deb") | "\(.start * 512) \(.size * 512)"')
KVER=$(pb list --json "$D" | jq -r '.partitions[] | select(.name == "deb") | .kernels' | cut -d, -f1)

pb run "$D" deb --print-cmdline >cmd 2>why
if grep -q -- "-machine q35 " cmd && grep -q -- "-device ide-hd,drive=disk0,bus=ide.0" cmd &&
	grep -q "kernel $KVER; in the initramfs ([a-z0-9 +]*cpio): ahci, sd_mod;" why &&
	grep -q "found nowhere: virtio_mmio, virtio_pci, virtio_blk, nvme, ata_piix" why; then
	t_ok "the runner finds ahci + sd_mod only in Debian's initramfs and picks q35 + AHCI"
else
	t_fail "choice for the MODULES=list Debian"; sed 's/^/#   /' why
fi

# boot_login DESC LOG ARGS...: boots to "login:" on the serial console (the runner stops it afterwards)
boot_login() {
	local desc=$1 log=$2 start=$SECONDS pid
	shift 2
	# partboot itself in the background (not the pb function's subshell), so kill reaches it
	"$PARTBOOT" run "$D" deb --console "$log" --timeout 400 --snapshot "$@" >"$log.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 800); do
		grep -q "login:" "$log" 2>/dev/null && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	if grep -q "login:" "$log" 2>/dev/null && ! grep -q "Gave up waiting for root" "$log"; then
		t_ok "$desc ($((SECONDS - start)) s to login:)"
	else
		t_fail "$desc"; tail -n 15 "$log" "$log.out" 2>/dev/null | sed 's/^/#   /'
	fi
	# the power button, which minbase ignores; the runner stops QEMU 10 s later
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
}
boot_login "boots with default options to the login prompt, on AHCI" con.direct
if tr -d '\r' <con.direct | grep -q "\[sda\] $((SIZE / 512)) 512-byte logical blocks" &&
	! grep -q "\[sdb\]" con.direct; then
	t_ok "direct mode: its one disk, sda, is exactly its partition"
else
	t_fail "direct mode: disks seen"
fi
boot_login "boots through SeaBIOS and partboot's GRUB to the login prompt, on AHCI" con.bios --firmware bios
mounted=$(tr -d '\r' <con.bios | sed -n 's/.*EXT4-fs (\([a-z0-9]*\)): mounted.*/\1/p' | sort -u | tr '\n' ' ')
if [ "$mounted" = "sda3 " ]; then
	t_ok "firmware mode: the only filesystem it mounted is its own partition (sda3)"
else
	t_fail "firmware mode: mounted '$mounted'"
fi
pb run "$D" deb --libvirt-xml >dom.xml 2>/dev/null
if grep -q "<target dev='sda' bus='sata'/>" dom.xml; then
	t_ok "--libvirt-xml: a SATA disk for it too"
else
	t_fail "--libvirt-xml"
fi
check "e2fsck -fn clean after the boots (--snapshot)" e2fsck -fn "$D?offset=$OFF"
t_done
