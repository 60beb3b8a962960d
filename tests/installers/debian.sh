#!/bin/bash
# Debian's real installer (d-i, package debian-installer-12-netboot-amd64) through
# `partboot install --via-vm`, unattended, into one partition of a four-partition disk
# (docs/installers.md). Slow: `make check-installers`. The whole install took 21 minutes on an
# idle machine in the issue's run (MODULES=most; this preseed cuts the initramfs to MODULES=dep),
# each partial run below reaches the base-system step in 6-10 minutes; on a machine shared with
# other VMs all of it takes far longer (one install ran past an hour here).
#
# The media and the mirror come from fixtures/make-installer.sh: Debian's netboot files and
# an ISO made from the same kernel and initrd, Debian's signed bookworm indices and debs, the
# udebs the package registry here serves, and STAND-INS (not Debian's) for the udebs it does
# not serve: partboot-standin-target (formats and mounts the target, for partman and
# e2fsprogs-udeb), partboot-standin-finish (root's password and power off, for user-setup and
# finish-install), partboot-standin-debootstrap (Debian's debootstrap deb as a udeb) and
# partboot-standin-mapdevfs. The mirror is served on 127.0.0.1 (python3 -m http.server); the
# VM reaches it, and the answers partboot serves, as 10.0.2.2.
#
#  1. PXE, BIOS (pxelinux): the whole install; the guest is complete, e2fsck-clean, boots to
#     login: in `partboot run` and through SeaBIOS with partboot's GRUB, and root logs in on
#     the serial console with the preseed's password.
#  2. the ISO with BIOS (isolinux), 3. the ISO with UEFI (GRUB in the EFI image), 4. PXE with
#     UEFI (d-i's bootnetx64.efi and grubx64.efi): the same answers, until the installer
#     reaches its base-system step; then partboot is stopped (SIGTERM), which must leave the
#     guest incomplete and out of the menu, and say the installer's last line.
# After each run every byte outside the target partition is unchanged (sha256).
# STAGES=1 prints when each installer step began (from partboot -v's step lines).
# shellcheck source=SCRIPTDIR/../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1

for tool in qemu-system-x86_64 python3 e2fsck sfdisk blkid apt-get dpkg-deb xorriso; do
	command -v $tool >/dev/null ||
		{ t_skip "Debian installer" "$tool missing (make deps)"; t_done; exit; }
done
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || { t_skip "Debian installer" "OVMF missing (package ovmf)"; t_done; exit; }
if ! out=$("$PB_TOP/fixtures/make-installer.sh" 2>&1); then
	t_fail "make-installer.sh builds the installer media and the mirror"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	t_done
	exit 1
fi
# shellcheck source=/dev/null
. "$(printf '%s\n' "$out" | tail -n 1)"
# shellcheck source=/dev/null
. "$PB_TOP/.cache/guest/env"
export XDG_CACHE_HOME=$T_DIR/cache
D=$T_DIR/disk.img
ROOTPW=partboot-d-i-test
# per install: about 20 minutes on an idle machine under TCG, far more on a busy one
TIMEOUT=${INSTALLER_TIMEOUT:-5400}

# The mirror on the loopback, under /debian as a Debian mirror is.
mkdir -p www && ln -s "$INSTALLER_MIRROR" www/debian
MPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory www "$MPORT" >mirror.log 2>&1 &
MPID=$!
trap 'kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null && break
	sleep 0.1
done
sed -e "s/@MIRROR@/10.0.2.2:$MPORT/" -e "s|@TARGET@|/dev/vda4|" -e "s/@ROOTPW@/$ROOTPW/" \
	"$INSTALLER_PRESEED" >preseed.cfg

part_range() {
	sfdisk -d "$D" | awk -v n="\"$1\"" -F'[=,]' '$0 ~ "name=" n { printf "%d %d\n", $2 * 512, $4 * 512 }'
}
region_sum() {
	dd if="$D" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none | sha256sum | cut -d' ' -f1
}
outside() {
	echo "$(region_sum 0 "$T_OFF") $(region_sum $((T_OFF + T_SIZE)) $(($(stat -c %s "$D") - T_OFF - T_SIZE)))"
}
# FIELD of partition deb12 in `partboot list --json` ("" when null)
field() { pb list "$D" --json | jq -r ".partitions[] | select(.name == \"deb12\") | .$1 // \"\""; }
in_menu() { mcopy -n -i "$D@@$ESP_OFF" ::/grub/grub.cfg - 2>/dev/null | grep -q "deb12"; }
# stages FILE: when each step began, from partboot -v's "[h:mm:ss] line" lines
stages() {
	awk '/^\[[0-9]+:[0-9][0-9]:[0-9][0-9]\] / && !/^\[[^]]*\] \[ *[0-9]+\.[0-9]+\]/ {
		t = $1; $1 = ""; sub(/^ /, ""); s = $0; sub(/ *\.\.\..*/, "", s)
		if (s != "" && !(s in seen)) { seen[s] = 1; print "#   " t " " s } }' "$1"
}

pb -q init "$D" --size 4G --table gpt && pb -q add "$D" esp --type esp --size 64M &&
	pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" other --type root --size 300M &&
	pb -q add "$D" deb12 --type root --size rest && pb -q install "$D" other --from "$GUEST_TAR" &&
	pb -q bootloader "$D"
check "a GPT disk: ESP, BIOS boot, a guest 'other', an empty 'deb12' (partition 4), GRUB" sfdisk --verify "$D"
read -r T_OFF T_SIZE < <(part_range deb12)
read -r ESP_OFF _ < <(part_range esp)
TABLE=$(sfdisk -d "$D")

# --- 1. PXE, BIOS: the whole install -------------------------------------------------------
BEFORE=$(outside)
start=$(date +%s)
if nice "$PARTBOOT" -v install "$D" deb12 --via-vm "pxe:$INSTALLER_PXE_DIR" --answers preseed.cfg --cpus 2 \
	--console pxe-bios.txt --timeout "$TIMEOUT" >pxe-bios.out 2>pxe-bios.err; then
	t_ok "PXE (BIOS): d-i installs bookworm into 'deb12' ($(($(date +%s) - start)) s)"
else
	t_fail "PXE (BIOS): d-i installs bookworm into 'deb12'"
	grep -v '^\[' pxe-bios.err | sed 's/^/#   /' | tail -n 5
fi
[ "${STAGES:-1}" = 1 ] && { echo "# PXE (BIOS) stages:"; stages pxe-bios.err; }
check "PXE (BIOS): partboot served the answers at $INSTALLER_ANSWERS_URL" \
	grep -q "serving preseed.cfg at $INSTALLER_ANSWERS_URL" pxe-bios.err
check "PXE (BIOS): d-i stayed out of its low memory mode (default installer memory)" \
	sh -c "! grep -qai 'low memory' pxe-bios.txt"
check "PXE (BIOS): nothing outside 'deb12' changed" test "$(outside)" = "$BEFORE"
check "PXE (BIOS): the partition table is as it was" test "$(sfdisk -d "$D")" = "$TABLE"
check "PXE (BIOS): the guest is complete, Debian 12 with its kernel" \
	sh -c "[ '$(field state) $(field os)' = 'complete Debian GNU/Linux 12 (bookworm)' ] &&
	       echo '$(field kernels)' | grep -qE '^6\.1\.0-[0-9]+-amd64\$'"
check "PXE (BIOS): e2fsck finds the filesystem clean" e2fsck -fn "$D?offset=$T_OFF"
check "PXE (BIOS): the initramfs policy was the installer's (MODULES=dep, virtio_mmio added)" \
	sh -c "\"\$PARTBOOT\" cat '$D' deb12 /etc/initramfs-tools/conf.d/driver-policy | grep -qx MODULES=dep &&
	       \"\$PARTBOOT\" cat '$D' deb12 /etc/initramfs-tools/modules | grep -qx virtio_mmio"
check "PXE (BIOS): no locales and no bootloader in the target" \
	sh -c "\"\$PARTBOOT\" cat '$D' deb12 /etc/os-release >/dev/null &&
	       ! \"\$PARTBOOT\" cat '$D' deb12 /usr/lib/locale/locale-archive >/dev/null 2>&1 &&
	       ! \"\$PARTBOOT\" ls '$D' deb12 /boot/grub >/dev/null 2>&1"
check "PXE (BIOS): 'deb12' is in partboot's GRUB menu" in_menu

BEFORE=$(outside)
if python3 "$PB_TOP/tests/installers/login.py" run.txt 300 "$ROOTPW" -- "$PARTBOOT" run "$D" deb12 2>run.err &&
	tr -d '\r' <run.txt | grep -q "^PB-LOGIN-42-OK deb12"; then
	t_ok "partboot run: the guest boots to login: and root logs in with the preseed's password"
else
	t_fail "partboot run: boot to login: and log in as root"
	sed 's/^/#   /' run.err | tail -n 3
	tr -d '\r' <run.txt | tail -n 8 | sed 's/^/#   /'
fi
pb -q default "$D" deb12
if python3 "$PB_TOP/tests/installers/login.py" fw.txt 400 "$ROOTPW" -- "$PARTBOOT" run "$D" deb12 --firmware bios \
	2>fw.err && tr -d '\r' <fw.txt | grep -q "^PB-LOGIN-42-OK deb12"; then
	t_ok "SeaBIOS + partboot's GRUB boot the guest to login: and root logs in"
else
	t_fail "SeaBIOS + partboot's GRUB: boot to login: and log in as root"
	sed 's/^/#   /' fw.err | tail -n 3
	tr -d '\r' <fw.txt | tail -n 8 | sed 's/^/#   /'
fi
check "the boots changed nothing outside 'deb12'" test "$(outside)" = "$BEFORE"

# --- 2.-4. ISO (BIOS, UEFI) and PXE (UEFI): up to the base-system step, then stopped -----------
# partial NAME MEDIUM FIRMWARE: install until the console shows the base-system step, then
# SIGTERM partboot, as a user pressing Ctrl-C would
partial() {
	local name=$1 medium=$2 fw=$3 pid reached=0 t0 rc
	BEFORE=$(outside)
	t0=$(date +%s)
	nice "$PARTBOOT" -v install "$D" deb12 --via-vm "$medium" --firmware "$fw" --answers preseed.cfg --cpus 2 \
		--console "$name.txt" --timeout "$TIMEOUT" >"$name.out" 2>"$name.err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if grep -aq "Installing the base system" "$name.txt" 2>/dev/null; then
			reached=$(($(date +%s) - t0))
			kill -TERM "$pid"
			break
		fi
		sleep 2
	done
	wait "$pid"
	rc=$?
	if [ "$reached" -gt 0 ]; then
		t_ok "$name: d-i reaches its base-system step (${reached} s) with the same answers"
	else
		t_fail "$name: d-i reaches its base-system step (exit $rc)"
		grep -v '^\[' "$name.err" | sed 's/^/#   /' | tail -n 5
	fi
	[ "${STAGES:-1}" = 1 ] && { echo "# $name stages:"; stages "$name.err"; }
	check "$name: stopped there, the install fails, says the installer's last line, leaves 'deb12' incomplete" \
		sh -c "[ $rc -eq 1 ] && grep -q 'the installer was interrupted; its last line: \"' '$name.err' &&
		       grep -q 'the guest is left incomplete' '$name.err'"
	check "$name: 'deb12' is incomplete" test "$(field state)" = incomplete
	check "$name: 'deb12' is out of the menu" sh -c "! mcopy -n -i '$D@@$ESP_OFF' ::/grub/grub.cfg - | grep -q deb12"
	check "$name: nothing outside 'deb12' changed" test "$(outside)" = "$BEFORE"
}
partial iso-bios "$INSTALLER_ISO" bios
partial iso-uefi "$INSTALLER_ISO" uefi
partial pxe-uefi "pxe:$INSTALLER_PXE_DIR" uefi
check "the partition table is as it was after every run" test "$(sfdisk -d "$D")" = "$TABLE"
t_done
