#!/bin/bash
# Debian's real installer (d-i, package debian-installer-12-netboot-amd64) through
# `partboot install --via-vm`, unattended, into one partition of a four-partition disk
# (docs/installers.md). Slow: `make check-installers`, which .ci/run runs. On an idle 2-core
# machine under TCG the whole install takes 17-22 minutes, the boot to a login in the VM
# runner 1 and through SeaBIOS about 3 (docs/installers.md has the stages); the three partial
# runs below run beside the whole install from its start. In CI's pool, beside the slow
# scripts, all of it took 21 minutes on a fresh clone (1279 s, 2026-12-03, bd85afe), fixtures included.
# On a machine shared with other VMs all of it takes far longer.
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
#     guest incomplete and out of the menu, and say the installer's last line. Each runs on
#     its own copy of the empty disk, as root side by side with the others and with run 1
#     from its start (below); otherwise one after the other after run 1.
# After each run every byte outside the target partition is unchanged (sha256).
# STAGES=1 (the default) prints when each installer step began (from partboot -v's step
# lines); INSTALLER_RUNS=partial runs 2-4 only, into the empty partition.
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
# INSTALLER_RUNS=partial: only the runs to the base-system step, into the empty partition
RUNS=${INSTALLER_RUNS:-all}

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

# part_range NAME: the partition's offset and size in bytes (the sums in bash: mawk's %d stops
# at 2^31 - 1, less than this partition's size)
part_range() {
	local start size
	read -r start size < <(sfdisk -d "$D" | awk -v n="\"$1\"" -F'[=,]' '$0 ~ "name=" n {
		gsub(/ /, "", $2); gsub(/ /, "", $4); print $2, $4 }')
	echo "$((start * 512)) $((size * 512))"
}
region_sum() {
	dd if="${DISK:-$D}" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none | sha256sum | cut -d' ' -f1
}
outside() {
	echo "$(region_sum 0 "$T_OFF") $(region_sum $((T_OFF + T_SIZE)) $(($(stat -c %s "${DISK:-$D}") - T_OFF - T_SIZE)))"
}
# Partboot's own writes outside the partition are its menu on the ESP (grub/grub.cfg, which a
# finished install adds the guest to and an interrupted one takes it out of): around an
# install, every byte outside the partition and the ESP, and every file on the ESP but that
# one, must stay the same.
outside_but_menu() {
	local f=${DISK:-$D} total e
	total=$(stat -c %s "$f")
	e=$(mktemp -d)
	mcopy -s -n -i "$f@@$ESP_OFF" ::/ "$e/" 2>/dev/null
	echo "$(region_sum 0 "$ESP_OFF") $(region_sum $((ESP_OFF + ESP_SIZE)) $((T_OFF - ESP_OFF - ESP_SIZE)))" \
		"$(region_sum $((T_OFF + T_SIZE)) $((total - T_OFF - T_SIZE)))" \
		"$(cd "$e" && find . -type f ! -path ./grub/grub.cfg | sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)"
	rm -rf "$e"
}
# FIELD of partition deb12 in `partboot list --json` ("" when null)
field() { pb list "${DISK:-$D}" --json | jq -r ".partitions[] | select(.name == \"deb12\") | .$1 // \"\""; }
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
read -r ESP_OFF ESP_SIZE < <(part_range esp)
TABLE=$(sfdisk -d "$D")

# The partial runs (2.-4.) run side by side when this runs as root, each on its own copy of
# the empty disk and in its own network namespace (unshare -n): every medium's boot line names
# the same answers URL (10.0.2.2:8642, QEMU's user network's name for the host's loopback), so
# each partboot needs a loopback of its own to serve it on, with its own copy of the mirror's
# server. They start before run 1 and run beside it: run 1 is this script's length, and on
# two cores the partial runs fill what the slow scripts beside it leave idle (before, run
# after run 1, they added about 7 minutes to it). Each has one vCPU: they only have to reach
# the base-system step, and beside run 1 fewer emulated vCPUs make less contention. They run
# under nice, run 1 does not: run 1 is the pool's critical path, and under nice beside the
# slow scripts (which are not) and the partial runs it was the one held back (a fresh-clone CI
# run: 37 % of the base system after 18 minutes; alone it passes 50 % at 11). Without root,
# one after the other after run 1.
SIDE=0
[ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null && command -v ip >/dev/null && SIDE=1
PARTIALS=(iso-bios "$INSTALLER_ISO" bios iso-uefi "$INSTALLER_ISO" uefi pxe-uefi "pxe:$INSTALLER_PXE_DIR" uefi)
FWPID=
# copies: NAME.img for each partial run, and PBEFORE, what must stay the same in them
copies() {
	PBEFORE=$(outside_but_menu)
	for ((i = 0; i < ${#PARTIALS[@]}; i += 3)); do cp --sparse=always "$D" "${PARTIALS[i]}.img"; done
}
# fw_check: the end of run 1's boot through SeaBIOS and partboot's GRUB (FWPID)
fw_check() {
	if wait "$FWPID" && tr -d '\r' <fw.txt | grep -aq "PB-LOGIN-42-OK deb12"; then
		t_ok "SeaBIOS + partboot's GRUB boot the guest to login: and root logs in"
	else
		t_fail "SeaBIOS + partboot's GRUB: boot to login: and log in as root"
		sed 's/^/#   /' fw.err | tail -n 3
		tr -d '\r' <fw.txt | tail -n 8 | sed 's/^/#   /'
	fi
	check "the boots changed nothing outside 'deb12'" test "$(outside)" = "$BEFORE"
}

# --- 2.-4. ISO (BIOS, UEFI) and PXE (UEFI): up to the base-system step, then stopped -----------
# partial_start NAME MEDIUM FIRMWARE: in the background (its pid in NAME.pid), install from
# MEDIUM into NAME.img (copies) until the console shows the base-system step, then SIGTERM
# partboot, as a user pressing Ctrl-C would; NAME.reached has the seconds that took (0: never
# reached), NAME.rc partboot's exit status. With SIDE=1 partboot runs in a network namespace
# of its own, with the mirror's server there (its pid in NAME.mpid).
partial_start() {
	local name=$1 medium=$2 fw=$3 ns=()
	: >"$name.mpid"
	# shellcheck disable=SC2016 # the quoted script is for the namespace's bash: $1, $2 are its arguments
	[ "$SIDE" = 1 ] && ns=(unshare -n bash -c 'ip link set lo up || exit 1
		python3 -m http.server --bind 127.0.0.1 --directory www "$1" >"$2-mirror.log" 2>&1 &
		echo $! >"$2.mpid"
		for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.1; done
		shift 2
		exec "$@"' sh "$MPORT" "$name")
	(
		t0=$(date +%s) reached=0
		"${ns[@]}" nice "$PARTBOOT" -v install "$name.img" deb12 --via-vm "$medium" --firmware "$fw" \
			--answers preseed.cfg --cpus "$([ "$SIDE" = 1 ] && echo 1 || echo 2)" --console "$name.txt" \
			--timeout "$TIMEOUT" >"$name.out" 2>"$name.err" &
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
		echo $? >"$name.rc"
		echo "$reached" >"$name.reached"
		[ -s "$name.mpid" ] && kill "$(cat "$name.mpid")" 2>/dev/null
		exit 0
	) &
	echo $! >"$name.pid"
}
# partial_check NAME: wait for NAME's run (partial_start) and check what it left
partial_check() {
	local name=$1 reached rc dd=$1.img
	wait "$(cat "$name.pid")"
	rc=$(cat "$name.rc" 2>/dev/null || echo "?")
	reached=$(cat "$name.reached" 2>/dev/null || echo 0)
	if [ "$reached" -gt 0 ]; then
		t_ok "$name: d-i reaches its base-system step (${reached} s$([ "$SIDE" = 1 ] && echo ', side by side')) with the same answers"
	else
		t_fail "$name: d-i reaches its base-system step (exit $rc)"
		grep -v '^\[' "$name.err" | sed 's/^/#   /' | tail -n 5
	fi
	[ "${STAGES:-1}" = 1 ] && { echo "# $name stages:"; stages "$name.err"; }
	check "$name: stopped there, the install fails, says the installer's last line, leaves 'deb12' incomplete" \
		sh -c "[ '$rc' = 1 ] && grep -q 'the installer was interrupted; its last line: \"' '$name.err' &&
		       grep -q 'the guest is left incomplete' '$name.err'"
	check "$name: 'deb12' is incomplete" test "$(DISK=$dd field state)" = incomplete
	check "$name: 'deb12' is out of the menu" sh -c "! mcopy -n -i '$dd@@$ESP_OFF' ::/grub/grub.cfg - | grep -q deb12"
	check "$name: nothing outside 'deb12' changed but partboot's menu on the ESP" \
		test "$(DISK=$dd outside_but_menu)" = "$PBEFORE"
	check "$name: the partition table is as it was" test "$(sfdisk -d "$dd" | sed "s|$dd|$D|")" = "$TABLE"
	rm -f "$dd"
}
copies
if [ "$SIDE" = 1 ]; then
	for ((i = 0; i < ${#PARTIALS[@]}; i += 3)); do partial_start "${PARTIALS[@]:i:3}"; done
fi

# --- 1. PXE, BIOS: the whole install -------------------------------------------------------
if [ "$RUNS" != partial ]; then
	BEFORE=$(outside_but_menu)
	start=$(date +%s)
	# --cmdline: GRUB's entry boots the guest with its console on the serial port, which is
	# where the login below is typed (d-i passes its own console= only to grub-installer,
	# which the preseed skips; `partboot run` adds console=ttyS0 itself)
	if "$PARTBOOT" -v install "$D" deb12 --via-vm "pxe:$INSTALLER_PXE_DIR" --answers preseed.cfg --cpus 2 \
		--cmdline "ro console=ttyS0" --console pxe-bios.txt --timeout "$TIMEOUT" >pxe-bios.out 2>pxe-bios.err; then
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
	check "PXE (BIOS): nothing outside 'deb12' changed but partboot's menu on the ESP" test "$(outside_but_menu)" = "$BEFORE"
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

	pb -q default "$D" deb12
	BEFORE=$(outside)
	if python3 "$PB_TOP/tests/installers/login.py" run.txt 300 "$ROOTPW" -- "$PARTBOOT" run "$D" deb12 2>run.err &&
		tr -d '\r' <run.txt | grep -aq "PB-LOGIN-42-OK deb12"; then
		t_ok "partboot run: the guest boots to login: and root logs in with the preseed's password"
	else
		t_fail "partboot run: boot to login: and log in as root"
		sed 's/^/#   /' run.err | tail -n 3
		tr -d '\r' <run.txt | tail -n 8 | sed 's/^/#   /'
	fi
	python3 "$PB_TOP/tests/installers/login.py" fw.txt 600 "$ROOTPW" -- "$PARTBOOT" run "$D" deb12 --firmware bios \
		2>fw.err &
	FWPID=$!
	[ "$SIDE" = 1 ] || fw_check
fi

# --- 2.-4., their checks (side by side: started before run 1) ---------------------------------
if [ "$SIDE" = 1 ]; then
	for ((i = 0; i < ${#PARTIALS[@]}; i += 3)); do partial_check "${PARTIALS[i]}"; done
	[ -z "$FWPID" ] || fw_check
else
	echo "# the partial runs one after the other: side by side needs root and unshare -n"
	for ((i = 0; i < ${#PARTIALS[@]}; i += 3)); do
		partial_start "${PARTIALS[@]:i:3}" && partial_check "${PARTIALS[i]}"
	done
fi
check "the partition table is as it was after every run" test "$(sfdisk -d "$D")" = "$TABLE"
t_done
